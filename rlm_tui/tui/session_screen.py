"""The session screen: the panes of one session, laid out, navigated and fed from its events.
The live app and the replay both show their session on it (see session_app.py); what each
adds (runs and their controls, or playback) is theirs.

Feeding: events reach `relay` (a run's bus subscriber, or `feed`), and ~30 times a second
`flush_events` folds the batch into the session tree, the one fold every pane reads, and
hands each pane the batch with the nodes that changed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.containers import Grid
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, TabbedContent, TabPane

from rlm_tui import events as ev
from rlm_tui.transcript.model import SessionModel
from rlm_tui.tui.compositor import use_line_crop
from rlm_tui.tui.relay import (
    FLUSH_INTERVAL_S,
    STREAM_FLUSH_S,
    EventRelay,
    EventView,
    SessionBatch,
)
from rlm_tui.tui.run_summary import RunSummary
from rlm_tui.tui.widgets.call_detail import CallDetail
from rlm_tui.tui.widgets.cell_log import CellLog
from rlm_tui.tui.widgets.context_browser import ContextBrowser
from rlm_tui.tui.widgets.file_preview import FilePreview
from rlm_tui.tui.widgets.final_answer import FinalAnswer
from rlm_tui.tui.widgets.keys_help import KeysHelp
from rlm_tui.tui.widgets.pane_keys import PaneKeys
from rlm_tui.tui.widgets.query_bar import QueryBar
from rlm_tui.tui.widgets.reasoning import RootReasoning
from rlm_tui.tui.widgets.status_bar import RunStatusBar
from rlm_tui.tui.widgets.subcall_tree import SubCallTree

# Tab moves between these panes, in this order (ids).
PANE_ORDER = ("context", "preview", "reasoning", "cells", "calls", "inspector", "query")
# The panes the keys 1-6 bring to the front, in that order (the query box is always shown).
NUMBERED_PANES = PANE_ORDER[:6]
# Narrower or shorter than this (an 80x24 terminal), the screen is "-small": one pane at a
# time, the one with the class "-front", instead of six a few rows each.
SMALL_WIDTH, SMALL_HEIGHT = 100, 30


class SessionScreen(Screen[None]):
    """Status bar, the six panes, the query box and the footer, fed from one session."""

    # A zoomed pane still has the run's state above it, the keys below it and the help beside.
    ALLOW_IN_MAXIMIZED_VIEW = "RunStatusBar, Footer, KeysHelp, PaneKeys"
    # Below three context-column widths, the screen is "-narrow" (see CSS).
    # Below SMALL_WIDTH columns or SMALL_HEIGHT rows, "-small" or "-short": one pane shown.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [
        (0, "-small"), (SMALL_WIDTH, "-narrow"), (3 * 38, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [
        (0, "-short"), (SMALL_HEIGHT, "-tall")]
    DEFAULT_CSS = """
    SessionScreen { layout: vertical; }
    #panes {
        layout: grid;
        grid-size: 3 2;
        grid-columns: 38 1fr 1fr;
        grid-rows: 1fr 1fr;
        height: 1fr;
    }
    /* Narrower than three 38-column panes (an 80-column terminal, say), the context column
       would leave the others about 20 columns: all three share the width instead. */
    SessionScreen.-narrow #panes { grid-columns: 1fr 1fr 1fr; }
    /* Small: the pane in front alone; the others keep their content, out of sight. */
    SessionScreen.-small #panes, SessionScreen.-short #panes { layout: vertical; }
    SessionScreen.-small .pane, SessionScreen.-short .pane { display: none; }
    SessionScreen.-small .pane.-front, SessionScreen.-short .pane.-front { display: block; }
    SessionScreen.-small PaneKeys, SessionScreen.-short PaneKeys { display: block; }
    .pane {
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        background: $background;
        height: 1fr;
    }
    .pane:focus-within {
        border: round $primary;
        border-title-color: $primary;
        border-title-style: bold;
    }
    #inspector > ContentTabs { height: 2; }
    #inspector TabPane { padding: 0; }
    """

    def __init__(self, *, panes: tuple[str, ...] = PANE_ORDER,
                 clock: Callable[[], float], on_mounted: Callable[[], None]) -> None:
        super().__init__()
        use_line_crop(self)  # a streamed reply's frames render its lines, not the screen
        self.panes = panes  # what tab moves between
        self.clock = clock  # the time the status bar's clock reads
        self._flush_timer: Timer | None = None
        self.relay = EventRelay()
        self.summary = RunSummary()
        self.events: list[ev.EventBase] = []  # the session's events, when fed, not run
        self._flush_lock = asyncio.Lock()
        self._flushed_at = 0.0  # monotonic, of the last flush that had events
        self._status_at = 0.0  # monotonic, of the status bar's last update
        self._status_due = False  # the next flush of streamed text alone updates it
        # Takes streamed text at the stream's pace: the event loop's own timer, not a
        # Textual one (each of those is a task of its own, and its callback's signature is
        # read anew at every call: a third of a point of a core, 10 times a second).
        self._stream_wake: asyncio.TimerHandle | None = None
        self._on_mounted = on_mounted
        self._listeners: list[Callable[[SessionBatch], None]] = []

    @property
    def tree(self) -> SessionModel:
        """The session tree the panes show."""
        return self.summary.tree

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield RunStatusBar(id="status")
        yield PaneKeys(id="pane-keys")
        with Grid(id="panes"):
            yield ContextBrowser(id="context", classes="pane -front")
            yield RootReasoning(id="reasoning", classes="pane")
            yield SubCallTree(id="calls", classes="pane")
            yield FilePreview(id="preview", classes="pane")
            yield CellLog(id="cells", classes="pane")
            with TabbedContent(id="inspector", classes="pane"):
                with TabPane("Answer", id="answer-tab"):
                    yield FinalAnswer(id="answer")
                with TabPane("Call", id="call-tab"):
                    yield CallDetail(id="call-detail")
        yield QueryBar(id="query")
        yield Footer()

    def on_unmount(self) -> None:
        if self._stream_wake is not None:
            self._stream_wake.cancel()

    def on_mount(self) -> None:
        # Held, not queried: timers may still tick while the screen is taken down.
        self.status_bar = self.query_one(RunStatusBar)
        self.context_browser = self.query_one(ContextBrowser)
        self.preview = self.query_one(FilePreview)
        self.calls = self.query_one(SubCallTree)
        self.answer = self.query_one(FinalAnswer)
        self.call_detail = self.query_one(CallDetail)
        self.inspector = self.query_one("#inspector", TabbedContent)
        self.query_bar = self.query_one(QueryBar)
        self.views: list[EventView] = [
            self.context_browser, self.query_one(RootReasoning), self.query_one(CellLog),
            self.calls, self.answer, self.call_detail,
        ]
        self.bring_to_front(self.front)
        self._flush_timer = self.set_interval(FLUSH_INTERVAL_S, self._flush_tick,
                                              pause=not len(self.relay))
        self.relay.on_arrival = self._wake
        self.set_interval(1.0, self._status_tick)
        self._on_mounted()

    # -- feeding ---------------------------------------------------------------------------

    def on_batch(self, listener: Callable[[SessionBatch], None]) -> None:
        """Call `listener` after each batch has reached the panes (the app's own reaction:
        bindings to refresh, a run that ended)."""
        self._listeners.append(listener)

    def feed(self, events: Iterable[ev.EventBase]) -> None:
        """Show events that did not come from a run's bus (a replay, tests, benchmarks):
        they pass through the same relay as a live run's."""
        for event in events:
            self.events.append(event)
            self.relay(event)

    @property
    def relay(self) -> EventRelay:
        """Where a run's events wait for the next flush (a new one wakes the flush timer)."""
        return self._relay

    @relay.setter
    def relay(self, relay: EventRelay) -> None:
        self._relay = relay
        if self._flush_timer is not None:
            relay.on_arrival = self._wake
            if len(relay):
                self._wake()

    def _wake(self) -> None:
        """An event arrived (the relay calls this): wake the flush timer, unless streamed
        text alone waits for the stream's pace."""
        if self._flush_timer is not None and not self._stream_waits():
            self._flush_timer.resume()

    def _stream_waits(self) -> bool:
        """True if only streamed text waits and the last flush was under STREAM_FLUSH_S ago:
        a one-shot wake takes it then."""
        if not self.relay.only_deltas:
            return False
        wait = STREAM_FLUSH_S - (time.monotonic() - self._flushed_at)
        if wait <= 0:
            return False
        if self._stream_wake is None:
            self._stream_wake = asyncio.get_running_loop().call_later(
                wait, self.post_message, self.StreamDue())
        return True

    class StreamDue(Message, bubble=False):
        """The stream's pace is up: streamed text waiting is taken (`_stream_waits`)."""

    async def _flush_tick(self) -> None:
        """The timer's flush: streamed text alone waits until STREAM_FLUSH_S has passed (the
        timer asleep, not ticking 30 times a second, until then). The timer sleeps while
        nothing waits."""
        relay = self.relay
        if not self.app.is_running:
            return  # the app is closing: nothing more is shown
        if not len(relay):
            if self._flush_timer is not None:
                self._flush_timer.pause()
            return
        if self._stream_waits():  # asleep until then, unless another event wakes it
            if self._flush_timer is not None:
                self._flush_timer.pause()
            return
        await self.flush_events()

    @on(StreamDue)
    async def _wake_for_stream(self) -> None:
        """The stream's pace: its text is taken now (without a tick of the flush timer)."""
        self._stream_wake = None
        if self.app.is_running and len(self.relay):
            await self.flush_events()

    async def flush_events(self) -> None:
        """Fold the events that arrived since the last flush into the tree and hand them to
        every pane (the timer calls this ~30 times a second; streamed text, ~10)."""
        async with self._flush_lock:
            text_alone = self.relay.only_deltas
            events = self.relay.take()
            if not events:
                return
            self._flushed_at = time.monotonic()
            summary = self.summary
            tree = summary.tree
            root_ended = held = False
            for event in events:
                tree.apply(event)
                summary.apply(event)
                if isinstance(event, (ev.FinalAnswer, ev.SessionFinished)) and (
                        event.session_id == summary.root_session):
                    root_ended = True
                held = held or isinstance(event, ev.CellHeld)
            batch = SessionBatch(events, tree, tree.take_changed())
            try:
                for view in self.views:
                    await view.show_events(batch)
            except NoMatches:
                if self.app.is_running:
                    raise
                return  # the app is being taken down under a tick: its panes' parts are gone
            if root_ended:
                self.inspector.active = "answer-tab"
                self.answer_in_front()
            elif held:  # it waits for a, c or s: its code shown
                self._in_front_for_the_person("cells")
            # Streamed text alone: its running estimate at once after another event (a
            # call's first text), then once a second, in the frame that draws the text.
            if not text_alone or self._status_due or time.monotonic() - self._status_at >= 1:
                self.show_status()
            self._status_due = not text_alone
            for listener in self._listeners:
                listener(batch)

    async def reset_views(self, summary: RunSummary | None = None) -> None:
        """Empty the panes for a new session (its summary, if one is known already)."""
        self.relay.take()
        self.events = []
        self.summary = summary or RunSummary()
        for view in self.views:
            await view.reset()
        self.inspector.active = "answer-tab"

    def _status_tick(self) -> None:
        """Once a second, the status bar's clock: left to the flushes while a stream's text
        arrives (drawn with its text, not in a frame of its own)."""
        if time.monotonic() - self._flushed_at >= 2 * STREAM_FLUSH_S:
            self.show_status()

    def show_status(self) -> None:
        """The status bar, from the run's summary: after each flush that brought more than
        streamed text, and once a second (its clock, and a streaming call's running estimate,
        which the bar shows once a second). While the run runs, the query box's cursor holds
        still: each blink was a frame of its own beside the stream's."""
        self._status_at = time.monotonic()
        summary = self.summary
        self.status_bar.show(summary, self.clock())
        self.query_bar.input.hold_cursor(summary.running)

    # -- panes -----------------------------------------------------------------------------

    @on(ContextBrowser.FileHighlighted)
    def _file_highlighted(self, event: ContextBrowser.FileHighlighted) -> None:
        self.preview.show_file(event.path)

    @on(SubCallTree.CallChosen)
    def _call_chosen(self, event: SubCallTree.CallChosen) -> None:
        self.call_detail.show_call(event.call)
        self.inspector.active = "call-tab"

    def pane_of(self, widget: Widget | None) -> Widget | None:
        """The pane `widget` is in (None for the status bar, the footer, a dialog)."""
        while widget is not None and isinstance(widget, Widget):
            if widget.id in PANE_ORDER:
                return widget
            widget = widget.parent  # type: ignore[assignment]
        return None

    @property
    def small(self) -> bool:
        """Whether the screen shows one pane at a time (see SMALL_WIDTH); before its first
        resize (the breakpoints' classes set), from the app's size."""
        if self.classes.isdisjoint(("-small", "-narrow", "-wide")):
            width, height = self.app.size
            return width < SMALL_WIDTH or height < SMALL_HEIGHT
        return self.has_class("-small") or self.has_class("-short")

    @property
    def front(self) -> str:
        """The id of the pane the small layout shows."""
        return next((pane.id for pane in self.query(".pane.-front") if pane.id), "context")

    def bring_to_front(self, pane_id: str) -> None:
        """Show `pane_id` in the small layout (the wide one shows every pane anyway)."""
        for pane in self.query(".pane"):
            pane.set_class(pane.id == pane_id, "-front")
        if pane_id in NUMBERED_PANES:
            self.query_one(PaneKeys).show_front(NUMBERED_PANES.index(pane_id) + 1)

    def show_pane(self, number: int) -> None:
        """Bring pane `number` (1-6, NUMBERED_PANES) to the front and focus it."""
        if not 1 <= number <= len(NUMBERED_PANES):
            return
        pane_id = NUMBERED_PANES[number - 1]
        if pane_id not in self.panes:
            return
        self._focus_pane_id(pane_id)

    def focus_run(self) -> None:
        """A run starts: the focus leaves the query box, so that its keys steer the run. The
        Calls pane takes it, or in the small layout the Reasoning pane, which is then the one
        shown: the reply streams there."""
        if self.small:
            self._focus_pane_id("reasoning")  # in front first: focused while hidden, it lost it
        else:
            self.calls.focus()

    def answer_in_front(self) -> None:
        """A run ended: in the small layout the answer is the pane shown."""
        self._in_front_for_the_person("inspector")

    def _in_front_for_the_person(self, pane_id: str) -> None:
        """What the person must see now (an answer, a held cell) is the pane the small layout
        shows, with the focus; someone typing in the query box keeps the focus there."""
        if not self.small:
            return
        if self.pane_of(self.focused) in (None, self.query_bar):
            self.bring_to_front(pane_id)
        else:
            self._focus_pane_id(pane_id)

    @on(events.DescendantFocus)
    def _pane_focused(self, event: events.DescendantFocus) -> None:
        """A pane focused (tab, a click, a key of its own) is the one in front."""
        pane = self.pane_of(event.widget)
        if pane is not None and pane.id != "query" and not pane.has_class("-front"):
            self.bring_to_front(pane.id or "")

    def focus_pane(self, step: int) -> None:
        """Focus the next (step 1) or previous (-1) pane; a zoomed view follows."""
        current = self.pane_of(self.focused)
        panes = self.panes
        index = panes.index(current.id) if current is not None and current.id in panes else -1
        self._focus_pane_id(panes[(index + step) % len(panes)])

    def _focus_pane_id(self, target_id: str) -> None:
        pane = self.query_one(f"#{target_id}")
        if target_id != "query":
            self.bring_to_front(target_id)
        if self.maximized is not None:
            self.maximize(pane, container=False)
        target = getattr(pane, "focus_target", pane)
        if target_id == "inspector":
            target = self.query_one("#inspector ContentTabs")
        target.focus()

    def zoom(self) -> None:
        """Let the focused pane fill the screen, or restore the layout."""
        if self.maximized is not None:
            self.minimize()
            return
        pane = self.pane_of(self.focused)
        if pane is not None and pane.id != "query":
            self.maximize(pane, container=False)

    def focus_filter(self) -> None:
        if self.maximized not in (None, self.context_browser):
            self.minimize()  # the filter of a pane out of sight would filter unseen
        self.context_browser.action_focus_filter()

    def toggle_help(self) -> None:
        """The help beside the panes (widgets/keys_help.py), or not."""
        shown = self.query(KeysHelp)
        if shown:
            shown.remove()
        else:
            self.mount(KeysHelp())
