"""What a question answered through the API gives back: `Result` (and its `Tokens`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["answered", "halted", "failed"]


@dataclass(frozen=True)
class Tokens:
    """Tokens of every model call of the session so far (root and sub-calls, every depth).
    `estimated`: a provider reported no counts for some call, so these are estimates.
    `cached` (read from the provider's prompt cache) and `cache_write` (written to it) are
    parts of `prompt`."""

    prompt: int = 0
    completion: int = 0
    total: int = 0
    estimated: bool = False
    cached: int = 0
    cache_write: int = 0


@dataclass(frozen=True)
class Result:
    """How one question ended, and what the session has cost up to its end.

    `answer` is the answer's text (JSON for a dict or list given to FINAL); `value` is the
    validated object when a schema was given (a pydantic model's instance, or the JSON value a
    JSON Schema admits), else the answer string. `cost_usd` is None when no call had a price
    (unknown, not zero); `cost_complete` says whether every call was priced. `tokens`,
    `cost_usd`, `sub_calls` and `seconds` are the session's totals (every question asked of it
    so far), as `rlm-tui run --json` reports them; `iterations` are this question's.
    """

    answer: str | None
    value: Any
    status: Status
    validated: bool = False  # `value` was checked against a schema (it is that shape)
    forced: bool = False
    reason: str | None = None  # why it stopped without an answer (halted or failed)
    error_kind: str | None = None  # a failed model call's kind (auth, not_found, ...)
    iterations: int = 0
    sub_calls: int = 0
    tokens: Tokens = field(default_factory=Tokens)
    cost_usd: float | None = None
    cost_complete: bool = False
    seconds: float = 0.0
    transcript: Path | None = None  # the JSONL transcript of the session
    turn: int = 1  # which question of the session this answers (follow-ups: 2, 3, ...)
    session_id: str = ""

    @property
    def answered(self) -> bool:
        return self.status == "answered"

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON data (`value` as JSON: a model is dumped)."""
        value = self.value
        if hasattr(value, "model_dump"):
            value = value.model_dump(mode="json")
        t = self.tokens
        return {"answer": self.answer, "value": value, "validated": self.validated,
                "status": self.status,
                "forced": self.forced, "reason": self.reason,
                "error_kind": self.error_kind, "iterations": self.iterations,
                "sub_calls": self.sub_calls,
                "tokens": {"prompt": t.prompt, "completion": t.completion, "total": t.total,
                           "cached": t.cached, "cache_write": t.cache_write,
                           "estimated": t.estimated},
                "cost_usd": self.cost_usd, "cost_complete": self.cost_complete,
                "seconds": self.seconds,
                "transcript": str(self.transcript) if self.transcript else None,
                "turn": self.turn, "session_id": self.session_id}
