"""The headless run's live progress on stderr: one line, rewritten in place on a terminal,
silent when stderr is not a terminal (scripts and CI read only the answer on stdout). It
folds the session tree as events come, and the headless summary reads the same tree."""

from __future__ import annotations

import sys
import time
from typing import IO

from rlm_tui import events as ev
from rlm_tui.transcript.compaction import describe_compaction
from rlm_tui.transcript.model import SessionModel
from rlm_tui.units import format_cost, format_tokens


class ProgressLine:
    """Subscriber: 'iteration 3/30 · 7 sub-calls · 12.3k tokens · $0.0123 · 14s'."""

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.iteration = 0
        self.max_iterations = 0
        self.turn = 1
        self.tree = SessionModel(track_changes=False)
        self.started = time.monotonic()
        self._root_session: str | None = None
        self._last = 0.0

    def __call__(self, event: ev.EventBase) -> None:
        self.tree.apply(event)
        if isinstance(event, ev.SessionStarted) and self._root_session is None:
            self._root_session = event.session_id
        elif isinstance(event, ev.IterationStarted) and event.session_id == self._root_session:
            self.iteration, self.max_iterations = event.iteration, event.max_iterations
            self.turn = event.turn
        if isinstance(event, ev.SessionFinished) and event.session_id == self._root_session:
            self._draw(final=True)
        elif isinstance(event, ev.BudgetExceeded):
            self._print(f"budget reached: {event.budget}")
        elif isinstance(event, ev.Compacted) and event.session_id == self._root_session:
            self._print(describe_compaction(event))  # the unknown window too, once
        else:
            now = time.monotonic()
            if now - self._last > 0.1:
                self._last = now
                self._draw()

    def line(self) -> str:
        totals = self.tree.totals
        usage = totals.usage
        turn = f"turn {self.turn} · " if self.turn > 1 else ""
        return (f"{turn}iteration {self.iteration}/{self.max_iterations} · "
                f"{totals.sub_calls} sub-calls"
                f" · {format_tokens(usage.total_tokens, estimated=not usage.reported)} tokens · "
                f"{format_cost(usage, known=totals.cost_known)} · "
                f"{time.monotonic() - self.started:.0f}s")

    def _draw(self, final: bool = False) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K" + self.line() + ("\n" if final else ""))
            self.stream.flush()

    def _print(self, text: str) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K" + text + "\n")
            self.stream.flush()
