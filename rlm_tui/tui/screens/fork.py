"""Forking a session from iteration K: which models continue it, and a note for the model.
The new session starts from the state after K (the original stays as it was)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


@dataclass(frozen=True)
class ForkChoice:
    """What the dialog was answered with: the fork's models, and its note (or None)."""

    model: str
    sub_model: str | None
    note: str | None


def describe_point(turn: int, iteration: int) -> str:
    """'iteration 3', or 'turn 2 · iteration 1' for a follow-up's."""
    return f"iteration {iteration}" if turn <= 1 else f"turn {turn} · iteration {iteration}"


class ForkScreen(ModalScreen[ForkChoice | None]):
    """Dismissed with a ForkChoice (enter, or the Fork button), or None (escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CSS = """
    ForkScreen {
        align: center middle;
        #dialog { width: 90; max-width: 100%; height: auto; max-height: 100%; padding: 1 2;
                  border: thick $accent; background: $surface; }
        #title { text-style: bold; margin-bottom: 1; }
        #about { color: $text-muted; }
        Label { color: $text-muted; margin-top: 1; }
        Input { background: $boost; padding: 0 1; }
        Input:focus { background: $panel; }
        #message { height: auto; color: $text-error; display: none; }
        #message.-shown { display: block; }
        #buttons { height: auto; align-horizontal: right; margin-top: 1; }
        Button { margin-left: 2; }
    }
    """

    def __init__(self, turn: int, iteration: int, *, model: str, sub_model: str) -> None:
        super().__init__()
        self.turn, self.iteration = turn, iteration
        self.model, self.sub_model = model, sub_model

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Fork a new session from {describe_point(self.turn, self.iteration)}",
                         id="title", markup=False)
            yield Static("Its REPL is rebuilt by running the recorded cells again, every "
                         "sub-call answered from the transcript (no model call, no cost); "
                         "then it goes on live. This session stays as it is.", id="about",
                         markup=False)
            yield Label("Root model")
            yield Input(self.model, id="fork-model", compact=True)
            yield Label("Sub-model (empty: the root model)")
            yield Input(self.sub_model, id="fork-sub-model", compact=True)
            yield Label("Note to the model (optional)")
            yield Input(placeholder="e.g. look at the tests before answering", id="fork-note",
                        compact=True)
            yield Static("", id="message", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Cancel (escape)", id="cancel", compact=True)
                yield Button("Fork (enter)", id="fork", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#fork-note", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _value(self, input_id: str) -> str:
        return self.query_one(input_id, Input).value.strip()

    def _fork(self) -> None:
        model = self._value("#fork-model")
        if not model:
            message = self.query_one("#message", Static)
            message.update("a root model is needed")
            message.add_class("-shown")
            self.query_one("#fork-model", Input).focus()
            return
        self.dismiss(ForkChoice(model=model, sub_model=self._value("#fork-sub-model") or None,
                                note=self._value("#fork-note") or None))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._fork()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "fork":
            self._fork()
        else:
            self.dismiss(None)
