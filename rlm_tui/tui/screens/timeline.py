"""The timeline screen (t): the session's iterations and sub-calls over time, the whole width
of the terminal, drawn again as events arrive (a live run, or a replay playing), at most a few
times a second. t or escape goes back to the panes; the app's keys (pause, step, ...) still
work here."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from rlm_tui.transcript.model import SessionModel
from rlm_tui.tui.widgets.timeline_chart import TimelineChart

REDRAW_S = 0.25  # a batch arrives ~30 times a second; the picture need not follow each
# A drawing that takes long (thousands of calls) waits this many times its own time before the
# next, so that the picture never holds the event loop more than a tenth of the time.
BUSY_FACTOR = 10


class TimelineScreen(Screen[None]):
    """The chart of `tree()` (called at each drawing: a new session's tree after a reset)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t,escape", "close", "Back to the panes"),
        # The query box is on the panes' screen: asking goes back there first.
        Binding("r", "ask", "Ask", show=False),
    ]
    DEFAULT_CSS = """
    TimelineScreen {
        #timeline-heading { height: 1; padding: 0 1; background: $panel; color: $text; }
        TimelineChart { height: 1fr; }
    }
    """

    def __init__(self, tree: Callable[[], SessionModel]) -> None:
        super().__init__()
        self._tree = tree
        self._changed = False
        self._next_draw = 0.0  # monotonic: no drawing before (see BUSY_FACTOR)

    def compose(self) -> ComposeResult:
        yield Static("Timeline: the run over time (scroll with the arrows)",
                     id="timeline-heading", markup=False)
        yield TimelineChart(id="timeline-chart")
        yield Footer()

    def on_mount(self) -> None:
        self.chart = self.query_one(TimelineChart)
        self.chart.focus()
        self.call_after_refresh(self.redraw)
        self.set_interval(REDRAW_S, self._tick)

    def mark_changed(self) -> None:
        """Events have been folded in: draw again at the next tick."""
        self._changed = True

    def _tick(self) -> None:
        if self._changed and time.monotonic() >= self._next_draw:
            self.redraw()

    def redraw(self) -> None:
        self._changed = False
        started = time.monotonic()
        self.chart.show(self._tree())
        took = time.monotonic() - started
        self._next_draw = started + max(REDRAW_S, BUSY_FACTOR * took)

    def action_close(self) -> None:
        self.dismiss()

    def action_ask(self) -> None:
        self.dismiss()
        if hasattr(self.app, "action_new_query"):  # the live app's, not a replay's
            self.app.call_later(self.app.run_action, "new_query")
