"""The context's files as a tree: sizes, token estimates, skipped files and live coverage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from rlm_tui.tui.file_index import CoverageFigures, FileIndex, FileNode
from rlm_tui.printable import printable_name
from rlm_tui.units import count_of, estimate_tokens, format_bytes, format_percent
from rlm_tui.tui.drawing import component_style, bar
from rlm_tui.tui.compositor import SteadyScrollbars


class ContextTree(SteadyScrollbars, Tree[FileNode]):
    """Directories open on demand (a 50,000-file context adds only what is opened); a filter
    shows just the matching files with their directories open."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "context-tree--meta", "context-tree--skipped", "context-tree--read",
        "context-tree--sent",
    }

    DEFAULT_CSS = """
    ContextTree {
        background: transparent;
        scrollbar-size-horizontal: 0;
        & > .context-tree--meta { color: $foreground-muted; }
        & > .context-tree--skipped { color: $foreground-disabled; text-style: italic; }
        & > .context-tree--read { color: $accent; }
        & > .context-tree--sent { color: $success; }
    }
    """

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Space is the app's (pause and resume; play and pause in a replay) wherever the
        # focus is: Tree's own (open or close a node) stands aside, so the footer shows the
        # app's. Enter opens and closes nodes here.
        return False if action == "toggle_node" else super().check_action(action, parameters)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("context", id=id)
        self.index: FileIndex | None = None
        self.coverage: dict[str, CoverageFigures] = {}
        self.show_root = False
        self.guide_depth = 3
        self._by_path: dict[str, TreeNode[FileNode]] = {}

    # -- building --------------------------------------------------------------------------

    def show_index(self, index: FileIndex) -> None:
        """Show a newly loaded context, directories closed."""
        self.index = index
        self.coverage = {}
        self._rebuild_full()

    def _rebuild_full(self) -> None:
        assert self.index is not None
        self.clear()
        self._by_path = {}
        self.root.data = self.index.root
        self.root.set_label(Text(printable_name(self.index.root.name)))
        self._add_file_children(self.root, self.index.root)
        self.root.expand()

    def _add_file_node(self, parent: TreeNode[FileNode], item: FileNode,
                  expand: bool = False) -> TreeNode[FileNode]:
        node = parent.add(Text(printable_name(item.name)), data=item, allow_expand=item.is_dir,
                          expand=expand)
        self._by_path[item.path] = node
        return node

    def _add_file_children(self, node: TreeNode[FileNode], item: FileNode) -> None:
        for child in item.sorted_children():
            added = self._add_file_node(node, child)
            if child.source is not None and child.source != "directory":
                # A source of one file (a file, stdin, data) shows it at once: one line more.
                added.expand()
                self._add_file_children(added, child)

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[FileNode]) -> None:
        node = event.node
        item = node.data
        if item is not None and item.is_dir and not node.children and item.children:
            self._add_file_children(node, item)

    def apply_filter(self, pattern: str) -> tuple[int, int]:
        """Show only files matching `pattern` (all when empty); returns (shown, matched)."""
        if self.index is None:
            return 0, 0
        if not pattern.strip():
            self._rebuild_full()
            return self.index.file_count, self.index.file_count
        found, total = self.index.search(pattern)
        self.clear()
        self._by_path = {}
        self.root.data = self.index.root
        for item in found:
            parent = self.root
            for owner in reversed(list(item.ancestors())[:-1]):  # root excluded
                node = self._by_path.get(owner.path)
                if node is None:
                    node = self._add_file_node(parent, owner, expand=True)
                parent = node
            self._add_file_node(parent, item)
        self.root.expand()
        return len(found), total

    # -- coverage ----------------------------------------------------------------------------

    def update_coverage(self, files: Mapping[str, Mapping[str, object]]) -> None:
        """Take the `files` part of a coverage_updated event (per-file figures)."""
        if self.index is None:
            return
        coverage = self.index.coverage(files)  # type: ignore[arg-type]
        touched = {p for p, f in coverage.items() if self.coverage.get(p) != f}
        touched |= set(self.coverage) - set(coverage)
        self.coverage = coverage
        for path in touched:
            node = self._by_path.get(path)
            if node is not None:
                node.refresh()

    # -- labels ------------------------------------------------------------------------------

    def render_label(self, node: TreeNode[FileNode], base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        item = node.data
        if item is None:
            return label
        if item.is_dir:
            label.append("/")
        meta = component_style(self, "context-tree--meta")
        if item.skipped is not None:
            skipped = component_style(self, "context-tree--skipped")
            label.stylize(skipped)
            label.append(f"  skipped: {item.skipped}", skipped)
            return label
        if item.is_dir:
            # A directory of skipped files alone (__pycache__) shows as that, not "0 files".
            parts = [count_of(item.files, "file"), format_bytes(item.size)] if item.files else []
            if item.source is not None:
                parts.insert(0, item.source)
            if item.skipped_files:
                parts.append(f"{item.skipped_files:,} skipped")
            label.append("  " + " · ".join(parts), meta)
        else:
            label.append(f"  {format_bytes(item.size)} {estimate_tokens(item.chars)}", meta)
        figures = self.coverage.get(item.path)
        if figures is not None and (figures.read or figures.sent):
            read = component_style(self, "context-tree--read")
            label.append(" ")
            label.append(bar(figures.read_fraction, 4), read)
            label.append(f" {format_percent(figures.read_fraction)}", read)
            if figures.sent:
                sent = component_style(self, "context-tree--sent")
                label.append(f" ⇢{format_percent(figures.sent_fraction)}", sent)
        return label
