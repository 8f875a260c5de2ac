"""The headless run's live progress on stderr: one line, rewritten in place on a terminal,
silent when stderr is not a terminal (scripts and CI read only the answer on stdout)."""

from __future__ import annotations

import sys
import time
from typing import IO

from rlm_tui import events as ev


def format_cost(usage: ev.Usage) -> str:
    """'$0.0123', 'cost unknown', or '$0.0123 + unknown' when some calls are unpriced."""
    if usage.calls and usage.unpriced_calls == usage.calls:
        return "cost unknown"
    text = f"${usage.cost_usd or 0.0:.4f}"
    return text + " + unknown" if usage.unpriced_calls else text


def format_tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    return str(n)


class ProgressLine:
    """Subscriber: 'iteration 3/30 · 7 sub-calls · 12.3k tokens · $0.0123 · 14s'."""

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.iteration = 0
        self.max_iterations = 0
        self.sub_calls = 0
        self.usage = ev.Usage()
        self.started = time.monotonic()
        self._root_session: str | None = None
        self._last = 0.0

    def __call__(self, event: ev.EventBase) -> None:
        if isinstance(event, ev.SessionStarted) and self._root_session is None:
            self._root_session = event.session_id
        elif isinstance(event, ev.IterationStarted) and event.session_id == self._root_session:
            self.iteration, self.max_iterations = event.iteration, event.max_iterations
        elif isinstance(event, ev.SubcallFinished):
            self.sub_calls += 1
        if isinstance(event, (ev.RootDone, ev.SubcallFinished)):
            self.usage = self.usage + event.usage
        if isinstance(event, ev.SessionFinished) and event.session_id == self._root_session:
            self._draw(final=True)
        elif isinstance(event, ev.BudgetExceeded):
            self._print(f"budget reached: {event.budget}")
        else:
            now = time.monotonic()
            if now - self._last > 0.1:
                self._last = now
                self._draw()

    def line(self) -> str:
        return (f"iteration {self.iteration}/{self.max_iterations} · {self.sub_calls} sub-calls"
                f" · {format_tokens(self.usage.total_tokens)} tokens · "
                f"{format_cost(self.usage)} · {time.monotonic() - self.started:.0f}s")

    def _draw(self, final: bool = False) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K" + self.line() + ("\n" if final else ""))
            self.stream.flush()

    def _print(self, text: str) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K" + text + "\n")
            self.stream.flush()
