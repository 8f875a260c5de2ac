"""A held cell's code in an editor (Python highlighted): ctrl+s runs what is written there,
escape goes back to the held cell without running anything."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TextArea


class CellEditorScreen(ModalScreen[str | None]):
    """Dismissed with the edited code to run, or None (back, nothing run)."""

    # Priority: the editor takes escape itself (it moves the focus out of an indenting
    # TextArea), and every key but these is typing.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "run", "Run the edited code", priority=True),
        Binding("escape", "back", "Back without running", priority=True),
    ]
    DEFAULT_CSS = """
    CellEditorScreen {
        align: center middle;
        #editor-dialog { width: 100%; height: 1fr; padding: 0 1;
                         border: thick $warning; background: $surface; }
        #editor-title { text-style: bold; }
        #editor-reason { color: $text-muted; }
        #editor { height: 1fr; margin-top: 1; }
        #editor-hint { color: $text-muted; }
    }
    """

    def __init__(self, code: str, *, title: str, reason: str | None = None) -> None:
        super().__init__()
        self.code = code
        self.title_text = title
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="editor-dialog"):
            yield Static(f"Edit {self.title_text} before it runs", id="editor-title",
                         markup=False)
            if self.reason:
                yield Static(f"held: {self.reason}", id="editor-reason", markup=False)
            yield TextArea.code_editor(self.code, language="python", id="editor",
                                       theme=self._theme())
            yield Static("ctrl+s runs the edited code (the model is told, and sees it) · "
                         "escape goes back without running", id="editor-hint", markup=False)
        yield Footer()

    def _theme(self) -> str:
        return "vscode_dark" if self.app.current_theme.dark else "github_light"

    @property
    def editor(self) -> TextArea:
        return self.query_one("#editor", TextArea)

    def on_mount(self) -> None:
        self.editor.focus()

    def action_run(self) -> None:
        self.dismiss(self.editor.text)

    def action_back(self) -> None:
        self.dismiss(None)
