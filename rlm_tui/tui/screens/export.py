"""Choosing where to export the session: a path box, enter to write, escape to cancel."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ExportScreen(ModalScreen[str | None]):
    """Dismissed with the path typed, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CSS = """
    ExportScreen {
        align: center middle;
        #dialog { width: 80; height: auto; padding: 1 2; border: thick $primary;
                  background: $surface; }
        #hint { color: $text-muted; margin-top: 1; }
    }
    """

    def __init__(self, default_path: str, formats: str) -> None:
        super().__init__()
        self.default_path = default_path
        self.formats = formats

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Export this session to:")
            yield Input(self.default_path, id="export-path")
            yield Static(f"{self.formats} · enter writes, escape cancels", id="hint",
                         markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        self.dismiss(path or None)
