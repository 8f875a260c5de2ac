"""A one-line question: a note to the model, a model's name. Enter answers, escape cancels."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class PromptScreen(ModalScreen[str | None]):
    """Dismissed with the line typed (stripped; never empty), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CSS = """
    PromptScreen {
        align: center middle;
        #dialog { width: 90; max-width: 100%; height: auto; padding: 1 2;
                  border: thick $primary; background: $surface; }
        #title { text-style: bold; }
        #hint { color: $text-muted; margin-top: 1; }
    }
    """

    def __init__(self, title: str, *, value: str = "", placeholder: str = "",
                 hint: str = "enter to confirm · escape cancels",
                 input_id: str = "prompt-input") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.hint = hint
        self.input_id = input_id

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="title", markup=False)
            yield Input(self.value, placeholder=self.placeholder, id=self.input_id)
            yield Static(self.hint, id="hint", markup=False)

    def on_mount(self) -> None:
        box = self.query_one(Input)
        box.focus()
        if self.value:
            box.select_all()  # typing replaces it; an arrow key keeps it to edit

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text:
            self.dismiss(text)
