"""Pane 1: the context: a filter box, the file tree and the totals, with live coverage."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static, Tree

from rlm_tui import events as ev
from rlm_tui.tui.file_index import FileIndex, FileNode
from rlm_tui.printable import printable_name
from rlm_tui.units import count_of, estimate_tokens, format_bytes, format_percent
from rlm_tui.tui.widgets.context_tree import ContextTree
from rlm_tui.tui.relay import SessionBatch

# Typing in the filter box rebuilds the tree this long after the last key.
FILTER_DELAY_S = 0.15


class ContextBrowser(Vertical):
    """What the run reads: every file with its size and token estimate, skipped files with
    their reason, and how much of each the code has read and sent to sub-models."""

    ALLOW_MAXIMIZE = True
    BORDER_TITLE = "Context"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter",
                tooltip="Show only the files whose names match what you type"),
    ]

    DEFAULT_CSS = """
    ContextBrowser {
        #context-filter { border: none; height: 1; padding: 0 1; margin-bottom: 1;
                          background: $surface; }
        #context-filter:focus { background: $boost; }
        ContextTree { height: 1fr; }
        #context-totals { height: auto; color: $text-muted; padding: 0 1; }
    }
    """

    class FileHighlighted(Message):
        """The cursor is on a loaded file (`opened`: it was chosen with enter or a click)."""

        def __init__(self, path: str, opened: bool) -> None:
            super().__init__()
            self.path = path
            self.opened = opened

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.index: FileIndex | None = None
        self._coverage_totals: dict[str, Any] | None = None
        self._coverage_sources: dict[str, Any] = {}  # several sources: totals per source
        self._filter_timer: Timer | None = None
        self._filter_note = ""
        self._headline: str | None = None  # the totals line when there is no index
        self._note = ""  # a line below the totals (what a replay can show)
        # The coverage line before anything is read; "" where coverage is not recorded.
        self.unread_text = "read 0% so far"

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter files  ( / )", id="context-filter")
        yield ContextTree(id="context-tree")
        yield Static("", id="context-totals")

    @property
    def file_tree(self) -> ContextTree:
        return self.query_one(ContextTree)

    @property
    def focus_target(self) -> ContextTree:
        return self.file_tree

    def action_focus_filter(self) -> None:
        self.query_one("#context-filter", Input).focus()

    # -- loading -----------------------------------------------------------------------------

    def show_loading(self, source: str) -> None:
        self.border_subtitle = "loading…"
        self.query_one("#context-totals", Static).update(f"Loading {source}…")
        self.file_tree.loading = True

    def show_index(self, index: FileIndex, note: str = "") -> None:
        """Show `index`'s files; `note`: a line below the totals."""
        self.index = index
        self._note = note
        tree = self.file_tree
        tree.loading = False
        tree.show_index(index)
        self.border_title = Content(f"Context · {printable_name(index.root.name)}")
        self.border_subtitle = ""
        self._show_totals()

    def show_summary(self, name: str, headline: str, note: str) -> None:
        """No file list (a replay of one text, or of an rlms log): the summary's `headline`
        ('one text · 14 chars · ~3 tokens') and a `note` on why no files are shown."""
        self.file_tree.loading = False
        self.border_title = Content(f"Context · {printable_name(name)}")
        self.border_subtitle = ""
        self._headline, self._note = headline, note
        self._show_totals()

    def show_error(self, message: str) -> None:
        self.file_tree.loading = False
        self.query_one("#context-totals", Static).update(message)

    # -- events ------------------------------------------------------------------------------

    async def show_events(self, batch: SessionBatch) -> None:
        events = batch.events
        latest = None
        for event in events:
            if isinstance(event, ev.CoverageUpdated):
                latest = event
        if latest is not None:
            self.file_tree.update_coverage(latest.coverage.get("files", {}))
            self._coverage_totals = latest.coverage.get("totals")
            self._coverage_sources = latest.coverage.get("sources") or {}
            self._show_totals()

    async def reset(self) -> None:
        self._coverage_totals = None
        self._coverage_sources = {}
        if self.index is not None:
            self.file_tree.update_coverage({})
        self._show_totals()

    def _show_totals(self) -> None:
        index = self.index
        if index is not None:
            root = index.root
            lines = [f"{count_of(index.file_count, 'file')} · {format_bytes(root.size)} · "
                     f"{estimate_tokens(root.chars)} tokens"]
            if index.skipped_count:
                lines[0] += f" · {index.skipped_count:,} skipped"
            whole = root.size
        elif self._headline is not None:
            lines, whole = [self._headline], 0
        else:
            return
        totals = self._coverage_totals
        if totals:
            size = totals.get("bytes", 0) or whole
            read = (totals.get("bytes_read", 0) or 0) / size if size else 0.0
            sent = (totals.get("bytes_sent", 0) or 0) / size if size else 0.0
            lines.append(f"read {format_percent(read)} of {format_bytes(size)} · "
                         f"sent {format_percent(sent)}")
            if len(self._coverage_sources) > 1:
                lines.append(" · ".join(f"{printable_name(name)} {_read_share(figures)}"
                                        for name, figures in self._coverage_sources.items()))
        elif self.unread_text:
            lines.append(self.unread_text)
        if self._filter_note:
            lines.append(self._filter_note)
        if self._note:
            lines.append(self._note)
        self.query_one("#context-totals", Static).update("\n".join(lines))

    # -- filter and cursor -------------------------------------------------------------------

    @on(Input.Changed, "#context-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY_S, self._apply_filter)

    @on(Input.Submitted, "#context-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply_filter()
        self.file_tree.focus()

    def _apply_filter(self) -> None:
        pattern = self.query_one("#context-filter", Input).value
        shown, total = self.file_tree.apply_filter(pattern)
        if not pattern.strip():
            self._filter_note = ""
        elif shown < total:
            self._filter_note = f"showing {shown:,} of {total:,} matches"
        else:
            self._filter_note = f"{count_of(total, 'matching file')}"
        self._show_totals()

    @on(Tree.NodeHighlighted, "#context-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[FileNode]) -> None:
        event.stop()
        item = event.node.data
        if item is not None and not item.is_dir and item.skipped is None:
            self.post_message(self.FileHighlighted(item.path, opened=False))

    @on(Tree.NodeSelected, "#context-tree")
    def _selected(self, event: Tree.NodeSelected[FileNode]) -> None:
        event.stop()
        item = event.node.data
        if item is not None and not item.is_dir and item.skipped is None:
            self.post_message(self.FileHighlighted(item.path, opened=True))


def _read_share(totals: Any) -> str:
    """One source's read share, by bytes: "12%"."""
    size = totals.get("bytes", 0) if isinstance(totals, dict) else 0
    read = (totals.get("bytes_read", 0) or 0) if isinstance(totals, dict) else 0
    return format_percent(read / size if size else 0.0)
