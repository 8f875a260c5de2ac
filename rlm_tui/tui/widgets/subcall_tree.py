"""Pane 4: the run's model calls as a tree: iteration > cell > sub-call > (child session's)
iteration > ..., each with its model, status, tokens, latency and cost, and roll-ups on the
parents. The pane's title carries the live totals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from rlm_tui import events as ev
from rlm_tui.printable import printable
from rlm_tui.progress import format_cost, format_tokens
from rlm_tui.tui.call_tree import CallNode, CallTree
from rlm_tui.tui.units import format_duration, shorten

_ICONS = {"running": "◌", "done": "✓", "error": "✗", "stopped": "■"}
_TOGGLE = Style.from_meta({"toggle": True})  # what makes a click on the icon fold the node


class SubCallTree(Tree[CallNode]):
    """The call tree; `model` holds the numbers (see call_tree.py)."""

    ALLOW_MAXIMIZE = True
    BORDER_TITLE = "Calls"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "app.toggle_pause", "Pause/resume"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "subcall-tree--running", "subcall-tree--done", "subcall-tree--error",
        "subcall-tree--stopped", "subcall-tree--meta", "subcall-tree--rollup",
    }
    DEFAULT_CSS = """
    SubCallTree {
        background: transparent;
        scrollbar-size-horizontal: 0;  /* long labels are cut; z shows the pane whole */
        & > .subcall-tree--running { color: $accent; }
        & > .subcall-tree--done { color: $success; }
        & > .subcall-tree--error { color: $error; }
        & > .subcall-tree--stopped { color: $warning; }
        & > .subcall-tree--meta { color: $text-muted; }
        & > .subcall-tree--rollup { color: $secondary; }
    }
    """

    class CallChosen(Message):
        """The cursor is on a call (or cell): show its prompt and response."""

        def __init__(self, call: CallNode) -> None:
            super().__init__()
            self.call = call

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("calls", id=id, classes=classes)
        self.show_root = False
        self.guide_depth = 3
        self.model = CallTree()
        self._by_id: dict[str, TreeNode[CallNode]] = {}
        self._last_top: TreeNode[CallNode] | None = None

    def on_mount(self) -> None:
        self.anchor()
        self._show_totals()

    async def reset(self) -> None:
        self.model = CallTree()
        self._by_id = {}
        self._last_top = None
        self.clear()
        self._show_totals()

    async def show_events(self, events: Sequence[ev.EventBase]) -> None:
        changed: set[CallNode] = set()
        for event in events:
            touched = self.model.apply(event)
            for call in touched:
                if call.node_id not in self._by_id:
                    self._add(call)
            changed |= touched
        for call in changed:
            node = self._by_id.get(call.node_id)
            if node is not None:
                node.refresh()
        if changed:
            self._show_totals()

    def _add(self, call: CallNode) -> None:
        parent = self._by_id.get(call.parent.node_id) if call.parent is not None else None
        if parent is None and call.parent is not None:
            self._add(call.parent)
            parent = self._by_id.get(call.parent.node_id)
        leaf = call.kind == "llm"
        node = (parent or self.root).add(call.title, data=call, expand=not leaf,
                                          allow_expand=not leaf)
        self._by_id[call.node_id] = node
        if parent is None:
            # A new top-level iteration: fold the one before, so the live one stays in view.
            if self._last_top is not None:
                self._last_top.collapse()
            self._last_top = node

    def _show_totals(self) -> None:
        m = self.model
        parts = [f"{m.calls_done} done"]
        if m.calls_running:
            parts.append(f"{m.calls_running} running")
        if m.errors:
            parts.append(f"{m.errors} failed")
        parts += [f"{format_tokens(m.total.total_tokens)} tokens", format_cost(m.total)]
        self.border_title = "Calls · " + " · ".join(parts)

    def render_label(self, node: TreeNode[CallNode], base_style: Style, style: Style) -> Text:
        call = node.data
        if call is None:
            return super().render_label(node, base_style, style)
        prefix = Text()
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
            prefix.append(icon, base_style + _TOGGLE)
        meta = self.get_component_rich_style("subcall-tree--meta", partial=True)
        state = self.get_component_rich_style(f"subcall-tree--{call.status}", partial=True)
        label = Text.assemble(prefix, (_ICONS[call.status] + " ", state), (call.title, style))
        if call.is_call and call.model:
            # The provider prefix is the same on every line: the name alone says enough.
            label.append(f"  {shorten(printable(call.model).rsplit('/', 1)[-1], 18)}", meta)
        if call.is_call and call.status != "running":
            usage = call.usage
            if usage.calls:
                label.append(f"  {format_tokens(usage.prompt_tokens)}→"
                             f"{format_tokens(usage.completion_tokens)}")
        if call.latency_s is not None and call.status != "running":
            label.append(f"  {format_duration(call.latency_s)}", meta)
        if call.is_call and call.usage.calls:
            label.append(f"  {format_cost(call.usage)}", meta)
        if call.retries:
            retried = self.get_component_rich_style("subcall-tree--running", partial=True)
            label.append(f"  ↻{call.retries}", retried)
        if call.children and (call.rollup.calls > call.usage.calls or call.running_below):
            rollup = self.get_component_rich_style("subcall-tree--rollup", partial=True)
            text = (f"  Σ {call.rollup.calls} calls {format_tokens(call.rollup.total_tokens)} "
                    f"{format_cost(call.rollup)}")
            if call.running_below:
                text += f" · {call.running_below} running"
            label.append(text, rollup)
        return label

    def _on_tree_node_highlighted(self, event: Tree.NodeHighlighted[CallNode]) -> None:
        if event.node.data is not None:
            self.post_message(self.CallChosen(event.node.data))
