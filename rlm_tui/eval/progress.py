"""The eval's live progress on stderr: one line rewritten in place on a terminal, silent when
stderr is not one (a script reads only the result on stdout).

    12/64 done · 3 running · 11 correct (92%) · $0.0123 · 1m05s left
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from rlm_tui.units import format_duration, format_percent


class EvalProgress:
    """Told of each task as it starts and ends; draws the line at most 10 times a second."""

    def __init__(self, total: int, *, done: int = 0, correct: int = 0, scored: int = 0,
                 cost: float = 0.0, stream: IO[str] | None = None,
                 enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.done, self.correct, self.scored = total, done, correct, scored
        self.cost, self.cost_unknown = cost, False
        self.running = 0
        self._done_here = 0  # tasks finished by this invocation: the pace for time left
        self._started = time.monotonic()
        self._last = 0.0

    def started(self) -> None:
        self.running += 1
        self._draw()

    def finished(self, record: dict[str, Any] | None) -> None:
        """A task ended; `record` is None when it was not recorded (interrupted)."""
        self.running -= 1
        if record is not None:
            self.done += 1
            self._done_here += 1
            if record.get("status") in ("answered", "halted"):
                self.scored += 1
                self.correct += bool(record.get("correct"))
            cost = record.get("cost_usd")
            if cost is None and record.get("status") != "error":
                self.cost_unknown = True
            self.cost += cost or 0.0
        self._draw(force=record is not None)

    def line(self) -> str:
        parts = [f"{self.done}/{self.total} done"]
        if self.running:
            parts.append(f"{self.running} running")
        if self.scored:
            parts.append(f"{self.correct} correct "
                         f"({format_percent(self.correct / self.scored)})")
        parts.append("cost unknown" if self.cost_unknown and not self.cost
                     else f"${self.cost:,.4f}")
        elapsed = time.monotonic() - self._started
        left = self.total - self.done
        if self._done_here and left:
            parts.append(f"{format_duration(elapsed / self._done_here * left)} left")
        return " · ".join(parts)

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K" + self.line() + "\n")
            self.stream.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 0.1):
            return
        self._last = now
        self.stream.write("\r\x1b[2K" + self.line())
        self.stream.flush()
