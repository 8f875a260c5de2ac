"""Choosing where to export the session: a path box, enter to write, escape to cancel. The
dialog stays open, with a one-line message, on a path that cannot be written, and asks before
overwriting a file."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from rlm_tui.errors import InputError
from rlm_tui.printable import printable_name
from rlm_tui.transcript.export import export_problem, resolve_export_path


def _working_directory() -> str:
    try:
        return printable_name(str(Path.cwd()))
    except OSError:  # removed since the app started
        return "the working directory (which is gone)"


class ExportScreen(ModalScreen[str | None]):
    """Dismissed with the absolute path to write (confirmed, if a file is there), or None
    when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CSS = """
    ExportScreen {
        align: center middle;
        #dialog { width: 100; max-width: 100%; height: auto; padding: 1 2;
                  border: thick $primary; background: $surface; }
        #hint { color: $text-muted; margin-top: 1; }
        #message { height: auto; margin-top: 1; display: none; }
        #message.error { display: block; color: $text-error; }
        #message.confirm { display: block; color: $text-warning; }
    }
    """

    def __init__(self, default_path: str, formats: str) -> None:
        super().__init__()
        self.default_path = default_path
        self.formats = formats
        self._confirmed: Path | None = None  # the existing file Enter again overwrites

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Export this session to:")
            yield Input(self.default_path, id="export-path")
            yield Static("", id="message", markup=False)
            yield Static(f"{self.formats}\nA relative path is from {_working_directory()} · "
                         "enter writes, escape cancels", id="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _say(self, text: str, kind: str) -> None:
        message = self.query_one("#message", Static)
        message.update(printable_name(text))  # it names the path typed
        message.set_classes(kind)

    @on(Input.Changed)
    def _changed(self) -> None:
        self._confirmed = None
        self._say("", "")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.dismiss(None)
            return
        try:
            path = resolve_export_path(event.value)
            problem = export_problem(path)
            exists = problem is None and path.exists()
        except InputError as exc:
            problem = str(exc)
        if problem is not None:
            self._confirmed = None
            self._say(problem, "error")
        elif exists and path != self._confirmed:
            self._confirmed = path
            self._say(f"{path} exists: enter again to overwrite", "confirm")
        else:
            self.dismiss(str(path))
