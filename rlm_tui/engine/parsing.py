"""Reading the root model's reply: its code blocks and a FINAL written in prose."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# ```repl and ```python blocks run; other fences (```text, ```json, bare ```) are prose.
_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$",
                    re.DOTALL | re.MULTILINE)
_RUNNABLE = {"repl", "python", "py", "python3"}
_FINAL_VAR = re.compile(r"""^\s*FINAL_VAR\(\s*["']?([A-Za-z_][A-Za-z0-9_]*)["']?\s*\)\s*$""",
                        re.MULTILINE)
_FINAL_START = re.compile(r"^\s*FINAL\(", re.MULTILINE)


@dataclass(frozen=True)
class ProseFinal:
    """A FINAL the model wrote outside code: either the answer text or a variable's name."""

    answer: str | None = None
    variable: str | None = None

    @property
    def source(self) -> str:
        """What gave the answer, as a cell's FINAL reports it."""
        return "FINAL" if self.variable is None else f"FINAL_VAR({self.variable!r})"


def code_blocks(reply: str) -> list[str]:
    """The runnable code blocks of a reply, in order."""
    return [m.group(2) for m in _FENCE.finditer(reply)
            if m.group(1).lower() in _RUNNABLE and m.group(2).strip()]


def _strip_fences(reply: str) -> str:
    return _FENCE.sub("", reply)


def prose_final(reply: str) -> ProseFinal | None:
    """FINAL(...) or FINAL_VAR(name) written outside any code block, if there is one."""
    text = _strip_fences(reply)
    m = _FINAL_VAR.search(text)
    if m:
        return ProseFinal(variable=m.group(1))
    m = _FINAL_START.search(text)
    if not m:
        return None
    body = text[m.end():]
    close = body.rfind(")")
    if close < 0:
        return None
    answer = body[:close].strip()
    for quote in ('"""', "'''"):
        if len(answer) >= 6 and answer.startswith(quote) and answer.endswith(quote):
            return ProseFinal(answer=answer[3:-3].strip())
    if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'":
        answer = answer[1:-1]
    return ProseFinal(answer=_as_json(answer))


def _as_json(answer: str) -> str:
    """FINAL({...}) or FINAL([...]) in prose, when it is JSON: as one line of it (the
    form a dict's or a list's answer has from code); any other text as it is."""
    if not answer[:1] in ("{", "["):
        return answer
    try:
        value = json.loads(answer)
    except (ValueError, RecursionError):  # Python's repr, or prose: the text is the answer
        return answer
    return json.dumps(value, ensure_ascii=False)
