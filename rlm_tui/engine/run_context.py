"""What a run works over (RunContext) and how it ended (Outcome)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rlm_tui import events as ev


@dataclass
class RunContext:
    """What a session runs over, as the engine needs it.

    `value` is what the sandbox is given (a `PackContext`, a str, a mapping or None);
    `metadata` is the text the root model sees instead of the context itself.
    """

    value: Any
    kind: str  # mapping | text | none
    metadata: str
    summary: dict[str, Any] = field(default_factory=dict)
    coverage: Any = None  # context.coverage.Coverage, when the run tracks coverage

    @classmethod
    def from_value(cls, value: Any) -> RunContext:
        """A context given in code (`rlm_query(prompt, context=...)`): a str or str mapping."""
        if value is None:
            return cls(None, "none", "(no context)")
        if isinstance(value, Mapping):
            files = {str(k): str(v) for k, v in value.items()}
            sizes = sorted(files.items(), key=lambda kv: -len(kv[1]))[:10]
            lines = [f"{len(files)} entries, {sum(map(len, files.values())):,} characters"]
            lines += [f"  {k}: {len(v):,} chars" for k, v in sizes]
            return cls(files, "mapping", "\n".join(lines),
                       {"files": len(files), "chars": sum(map(len, files.values()))})
        if isinstance(value, (list, tuple)):
            value = "\n\n".join(str(v) for v in value)
        text = str(value)
        return cls(text, "text",
                   f"a str of {len(text):,} characters in {text.count(chr(10)) + 1:,} lines",
                   {"chars": len(text)})


@dataclass
class Outcome:
    status: ev.SessionEnd
    answer: str | None = None
    forced: bool = False
    reason: str | None = None
    iterations: int = 0
    error_kind: str | None = None  # for failed runs: the model error's kind
    turn: int = 1  # the question it answers (follow-ups: 2, 3, ...)
    # With a schema: the validated value (a pydantic instance for a model, the parsed JSON
    # for a JSON Schema); `answer` stays the text (a dict's or a list's JSON).
    value: Any = None
