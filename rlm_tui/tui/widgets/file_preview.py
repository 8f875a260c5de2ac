"""The selected file's text, syntax-highlighted (highlighting runs in a thread)."""

from __future__ import annotations

from collections.abc import Callable

from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from rlm_tui.printable import printable, printable_name
from rlm_tui.units import format_bytes

# Highlighting a 2 MB file takes seconds and nobody reads it in a pane: show its head.
PREVIEW_LINES = 2_000
PREVIEW_CHARS = 200_000


def highlight_text(path: str, text: str, dark: bool) -> Text:
    """`text` highlighted for `path`'s language, with line numbers, cut to the preview caps."""
    lines = text.splitlines()
    shown = lines[:PREVIEW_LINES]
    code = "\n".join(shown)
    cut = len(lines) > PREVIEW_LINES or len(code) > PREVIEW_CHARS
    code = code[:PREVIEW_CHARS]
    lexer = Syntax.guess_lexer(path, code=code[:4000])
    syntax = Syntax(code, lexer, theme="one-dark" if dark else "friendly",
                    background_color="default")
    highlighted = syntax.highlight(code)
    width = len(str(max(1, len(shown))))
    result = Text(no_wrap=True, overflow="crop")
    for number, line in enumerate(highlighted.split("\n", allow_blank=True), 1):
        result.append(f"{number:>{width}} ", style="dim")
        result.append_text(line)
        result.append("\n")
    if cut:
        result.append(f"… showing the first {min(len(lines), PREVIEW_LINES):,} of "
                      f"{len(lines):,} lines", style="dim italic")
    return result


class FilePreview(VerticalScroll):
    """A read-only view of one context file."""

    ALLOW_MAXIMIZE = True
    BORDER_TITLE = "Preview"
    DEFAULT_CSS = """
    FilePreview {
        #preview-text { width: auto; min-width: 100%; padding: 0 1 0 0; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.path: str | None = None
        self._reader: Callable[[str], str] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Select a file to preview it.", id="preview-text")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._reload())

    def set_reader(self, reader: Callable[[str], str]) -> None:
        """How to read a file's text (the pack's `read_text`)."""
        self._reader = reader

    def show_unavailable(self, message: str) -> None:
        """No file can be read here (a replay: transcripts keep no contents): say so."""
        self._reader = None
        self.query_one("#preview-text", Static).update(Text(message, style="dim italic"))

    def show_file(self, path: str) -> None:
        if path == self.path:
            return
        self.path = path
        self._reload()

    def _reload(self) -> None:
        if self.path is not None and self._reader is not None:
            self._highlight(self.path, self._reader, self.app.current_theme.dark)

    @work(thread=True, exclusive=True, group="preview")
    def _highlight(self, path: str, reader: Callable[[str], str], dark: bool) -> None:
        try:
            text = reader(path)
        except (OSError, KeyError, UnicodeDecodeError) as exc:
            message = Text(printable(f"cannot read {path}: {exc}"))
            self.app.call_from_thread(self._show, path, message, 0)
            return
        rendered = highlight_text(path, printable(text), dark)
        self.app.call_from_thread(self._show, path, rendered, len(text.encode()))

    def _show(self, path: str, rendered: Text, size: int) -> None:
        if path != self.path:
            return  # the cursor moved on while this one was highlighted
        self.border_title = Content(f"Preview · {printable_name(path)}")
        self.border_subtitle = format_bytes(size) if size else ""
        self.query_one("#preview-text", Static).update(rendered)
        self.scroll_home(animate=False)
