"""The query box at the bottom: type a question about the context, enter runs it."""

from __future__ import annotations

from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

# In an empty box this key is not text: it goes on to the app's binding (filter the files),
# as from any other pane; the box has the focus at start, where `/` would otherwise start a
# query "/...". Once a query is being typed, it types.
FILTER_KEY = "slash"


class QueryInput(Input):
    """The box's input: as Input, but `/` in an empty box is left to the app's bindings."""

    BINDING_GROUP_TITLE = "the query box"  # the help's "Keys in ..."
    held = False  # the cursor is shown, not blinking: a run is running (`hold_cursor`)

    def hold_cursor(self, hold: bool) -> None:
        """While a run runs, the cursor holds still (shown): each blink was a frame of its
        own beside a slow model's stream, twice a second for minutes. Typing still works."""
        if hold != self.held:
            self.held = hold
            if hold:
                self._cursor_visible = True

    def _toggle_cursor(self) -> None:  # Input's blink timer: a tick while held, no frame
        if not self.held:
            super()._toggle_cursor()

    def _passes_on(self, key: str) -> bool:
        return key == FILTER_KEY and not self.value

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return not self._passes_on(key) and super().check_consume_key(key, character)

    async def _on_key(self, event: events.Key) -> None:
        if self._passes_on(event.key):
            event.prevent_default()  # not typed (Input's handler is skipped); it bubbles on


QUERY_PLACEHOLDER = "Ask a question about the context, then press enter"
FOLLOW_UP_PLACEHOLDER = "A follow-up question on this session (its REPL and conversation) · " \
    "ctrl+n: a new session"


class QueryBar(Horizontal):
    """A labelled input; posts `QueryBar.Submitted` with the question. Once a session has
    answered (its REPL still open), the box asks a follow-up: its label says so."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Leave the box", show=False),
    ]
    DEFAULT_CSS = """
    QueryBar {
        height: 1;
        background: $panel;
        #query-label { padding: 0 1; color: $text-muted; background: $panel; }
        &:focus-within #query-label { color: $primary; text-style: bold; }
        #query-input { border: none; height: 1; padding: 0 1; width: 1fr;
                       background: $surface; }
        #query-input:focus { background: $boost; }
    }
    """

    class Submitted(Message):
        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    def compose(self) -> ComposeResult:
        yield Label("Query", id="query-label")
        yield QueryInput(placeholder=QUERY_PLACEHOLDER, id="query-input")

    def set_follow_up(self, follow_up: bool) -> None:
        """What enter asks: a follow-up on the open session, or a new session's question."""
        self.query_one("#query-label", Label).update("Follow-up" if follow_up else "Query")
        self.input.placeholder = FOLLOW_UP_PLACEHOLDER if follow_up else QUERY_PLACEHOLDER

    @property
    def input(self) -> QueryInput:
        return self.query_one("#query-input", QueryInput)

    @property
    def focus_target(self) -> Input:
        return self.input

    def set_query(self, query: str) -> None:
        self.input.value = query

    def edit(self) -> None:
        """Focus the box with its text selected, ready to be replaced or changed."""
        self.input.focus()
        self.input.select_all()

    def action_leave(self) -> None:
        self.app.action_next_pane()  # type: ignore[attr-defined]

    @on(Input.Submitted, "#query-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        query = event.value.strip()
        if query:
            self.post_message(self.Submitted(query))
