"""`--model demo`: a scripted offline model, so a new user sees the whole machine work without
an API key. It is not an LLM, and says so in every reply.

It reads only what a real model would (the messages) and follows a fixed plan: look at the
context, grep for the question's words, send the best pieces to sub-calls in one batch, and
answer with FINAL_VAR. As a sub-model it answers with the excerpt's lines that mention the
question's words. `ModelClient` streams its replies through the same path as a real model's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

DEMO_PREFIX = "demo"
LABEL = "[demo model: scripted, not an LLM]"

_STOPWORDS = frozenset(
    """a an and are as at be by can could did do does for from has have how i if in into is
    it its of on or that the their then there these this those to was were what when where
    which who why will with would you your about all any each files file code repo project
    repository does do explain describe tell show find list please""".split()
)


def is_demo(model: str) -> bool:
    return model == DEMO_PREFIX or model.startswith(DEMO_PREFIX + "/")


def _question(messages: Sequence[dict[str, Any]]) -> str:
    for m in messages:
        if m.get("role") == "user":
            text = str(m.get("content", ""))
            match = re.search(r"^Question: (.*?)(?:\n\n|$)", text, re.DOTALL | re.MULTILINE)
            return (match.group(1) if match else text).strip()
    return ""


def keywords(question: str) -> list[str]:
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", question)
    seen: dict[str, None] = {}
    for w in words:
        if w.lower() not in _STOPWORDS:
            seen.setdefault(w.lower(), None)
    return list(seen)[:8] or ["def", "class"]


def _root_reply(messages: Sequence[dict[str, Any]]) -> str:
    turn = sum(1 for m in messages if m.get("role") == "assistant") + 1
    last = str(messages[-1].get("content", "")) if messages else ""
    question = _question(messages)
    words = keywords(question)
    if "No more code will run" in last:
        return f"{LABEL}\nOut of turns; answering with what I found.\n\nFINAL_VAR(\"answer\")"
    if turn == 1:
        return f"""{LABEL}
First, look at what the context holds before reading anything.

```repl
if isinstance(context, str):
    texts = {{"(text)": context}}
    print("a text of", len(context), "characters")
else:
    texts = context
    paths = list(context)
    print(len(paths), "files; first:", paths[:10])
```"""
    if turn == 2:
        return f"""{LABEL}
Next, find where the question's words appear: {", ".join(words)}.

```repl
import re
words = {words!r}
pattern = "(?i)" + "|".join(re.escape(w) for w in words)
if hasattr(context, "grep"):
    hits = context.grep(pattern)
else:
    hits = [{{"path": path, "line": i + 1, "text": line}}
            for path, text in texts.items()
            for i, line in enumerate(text.splitlines()) if re.search(pattern, line)]
scores = {{}}
for h in hits:
    scores[h["path"]] = scores.get(h["path"], 0) + 1
ranked = sorted(scores, key=lambda p: -scores[p])[:6]
print(len(hits), "matching lines in", len(scores), "places; best:", ranked)
```"""
    if turn == 3:
        return f"""{LABEL}
Now send the best pieces to the sub-model in one batch, with the question.

```repl
question = {question!r}
pieces = []
for path in ranked:
    lines = [h["line"] for h in hits if h["path"] == path][:3]
    if hasattr(context, "read"):
        text = "\\n".join(context.read(path, max(1, n - 3), n + 3) for n in lines)
    else:
        all_lines = texts[path].splitlines()
        text = "\\n".join("\\n".join(all_lines[max(0, n - 4):n + 3]) for n in lines)
    pieces.append((path, text[:4000]))
prompts = ["Question: " + question + "\\n\\nExcerpt from " + path + ":\\n" + text
           + "\\n\\nWhich lines of this excerpt help answer the question?"
           for path, text in pieces]
notes = llm_query_batched(prompts)
for (path, _), note in zip(pieces, notes):
    print(path, "->", note[:160].replace("\\n", " "))
```"""
    return f"""{LABEL}
Put the findings together and finish.

```repl
try:
    pieces, notes
except NameError:
    pieces, notes = [], []
if pieces:
    answer = "Where the context speaks of " + ", ".join(words) + ":\\n" + "\\n".join(
        "- " + path + ": " + note.strip().replace("\\n", " ")[:300]
        for (path, _), note in zip(pieces, notes))
else:
    answer = "The context does not mention " + ", ".join(words) + "."
answer += "\\n\\n(" + {LABEL!r} + ")"
FINAL_VAR("answer")
```"""


def _sub_reply(messages: Sequence[dict[str, Any]]) -> str:
    prompt = str(messages[-1].get("content", "")) if messages else ""
    words = keywords(_question(messages))
    match = re.search(r"Excerpt from (.*?):\n(.*?)(?:\n\nWhich lines|$)", prompt, re.DOTALL)
    if not match:
        return f"{LABEL} I can only quote lines from excerpts."
    path, excerpt = match.group(1), match.group(2)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    found = [line.strip() for line in excerpt.splitlines() if pattern.search(line)]
    if not found:
        return f"nothing in {path} mentions {', '.join(words)}"
    return "relevant lines: " + " | ".join(found[:3])


def demo_reply(messages: Sequence[dict[str, Any]]) -> str:
    """The demo's reply to a conversation: root plan if it has a system prompt, else sub."""
    is_root = any(m.get("role") == "system" for m in messages)
    return _root_reply(messages) if is_root else _sub_reply(messages)


def demo_chunks(text: str, size: int = 24) -> list[str]:
    """The reply in small pieces, so it streams like a real model's."""
    return [text[i:i + size] for i in range(0, len(text), size)]


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)
