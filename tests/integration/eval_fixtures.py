"""What the eval tests share: a task set of files, directories and text on disk, and a
server-side oracle that answers each task's root call with the code given for it."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from rlm_tui.eval.baseline import INSTRUCTIONS
from tests.integration.openai_server import Reply
from tests.integration.test_engine import repl

TAG = re.compile(r"\[(task-[\w-]+)\]")


class Oracle:
    """Root calls: the reply scripted for the task tagged `[task-ID]` in the query, as a
    repl block. Sub-calls: `sub(prompt)`. Baseline calls (the context in the prompt): the
    baseline answer given for the task, else the prompt's last context line."""

    def __init__(self, code: dict[str, str], *, sub: Callable[[str], str] | None = None,
                 baseline: dict[str, str] | None = None, delay: float = 0.0,
                 usage: dict[str, int] | None = None) -> None:
        self.code = code
        self.sub = sub or (lambda prompt: "sub-answer")
        self.baseline = baseline or {}
        self.delay = delay
        self.usage = usage
        self.lock = threading.Lock()
        self.roots: Counter[str] = Counter()
        self.baseline_prompts: dict[str, str] = {}
        self.subs = 0

    def __call__(self, body: dict) -> Reply:
        messages = body.get("messages", [])
        text = "\n".join(str(m.get("content", "")) for m in messages)
        tag = TAG.search(text)
        with self.lock:
            if any(m.get("role") == "system" for m in messages):
                assert tag is not None, "a root call for no known task"
                self.roots[tag.group(1)] += 1
                reply = repl(self.code[tag.group(1)])
            elif messages and str(messages[-1]["content"]).startswith(INSTRUCTIONS):
                assert tag is not None
                self.baseline_prompts[tag.group(1)] = messages[-1]["content"]
                reply = self.baseline.get(tag.group(1), "no idea")
            else:
                self.subs += 1
                reply = self.sub(str(messages[-1]["content"]))
        return Reply(text=reply, chunks=2, first_byte_delay=self.delay, usage=self.usage)


def mixed_tasks(root: Path) -> tuple[Path, dict[str, str], dict[str, bool]]:
    """A tasks file of file, directory and text contexts; the code the model writes for
    each; and whether that code's answer is right."""
    (root / "repo" / "src").mkdir(parents=True)
    (root / "repo" / "answer.txt").write_text("blue\n")
    (root / "repo" / "src" / "app.py").write_text("def main():\n    return 'hello'\n")
    (root / "notes.txt").write_text("Items counted: 40 and then 2 more, 42 in all.\n")
    (root / "other").mkdir()
    (root / "other" / "size.txt").write_text("1,234\n")
    rows = [
        ("task-file", {"context": "notes.txt", "expected": "42", "scorer": "number"},
         "import re\nFINAL(re.findall(r'\\d+', context)[-1])", True),
        ("task-dir", {"context": "repo", "expected": "blue", "scorer": "exact"},
         "FINAL(context['answer.txt'].strip())", True),
        ("task-dir-wrong", {"context": "repo/", "expected": "red", "scorer": "exact"},
         "FINAL(context['answer.txt'].strip())", False),
        ("task-code", {"context": "repo", "expected": ["'hello'", "hello"],
                       "scorer": "contains"},
         "FINAL(context['src/app.py'].split('return ')[1].strip())", True),
        ("task-text", {"context_text": "alpha beta gamma", "expected": "beta"},
         "FINAL(context.split()[1])", True),
        ("task-sub", {"context_text": "France", "expected": r"^Paris\b", "scorer": "regex"},
         "a = llm_query('capital of ' + context + '?')\nFINAL(a)", True),
        ("task-f1", {"context": "other", "expected": "quick brown fox jumps",
                     "scorer": "f1"}, "FINAL('the quick brown fox')", True),
        ("task-number", {"context": "other/size.txt", "expected": 1234, "scorer": "number"},
         "FINAL('It is ' + context.strip())", True),
    ]
    lines = [json.dumps({"id": tid, "query": f"[{tid}] What is the answer?", **fields})
             for tid, fields, _, _ in rows]
    path = root / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, {tid: code for tid, _, code, _ in rows}, {tid: ok for tid, _, _, ok in rows}


def paris(prompt: str) -> str:
    return "Paris, of course" if "France" in prompt else "no idea"


def results(out: Path) -> dict[str, dict]:
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return {r["id"]: r for r in records}
