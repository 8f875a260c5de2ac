"""Pane 4: the run's model calls as a tree: iteration > cell > sub-call > (child session's)
iteration > ..., each with its model, status, tokens, latency and cost, and roll-ups on the
parents. The pane's title carries the live totals.

A view of the session tree (transcript/model.py): every number and status shown is the
tree's, so the pane, the exports and the headless summary agree."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from rlm_tui.printable import printable
from rlm_tui.units import format_cost, format_duration, format_tokens
from rlm_tui.transcript.model import CellNode, Node, SessionModel, SessionNode
from rlm_tui.tui.relay import SessionBatch
from rlm_tui.tui.drawing import component_style, shorten

_ICONS = {"running": "◌", "done": "✓", "error": "✗", "stopped": "■"}
_TOGGLE = Style.from_meta({"toggle": True})  # what makes a click on the icon fold the node
_PLAIN = Style()
SHOWN_KINDS = frozenset({"iteration", "cell", "llm", "rlm"})
_DECIDED = {"approved": "  ✓ approved", "edited": "  ✎ edited", "skipped": "  ⤼ skipped"}


def node_title(call: Node) -> str:
    """The node's title ('turn 2 · iteration 1' from a follow-up question on), marked when a
    fork rebuilt it from its parent's record."""
    title = getattr(call, "title", call.node_id)
    if getattr(call, "rebuilt", False):
        title += " ↺ rebuilt"
    return title


def root_iteration(call: Node | None) -> Node | None:
    """The iteration of the root session that `call` is (or is beneath): what a fork starts
    after. None for a node outside one."""
    found = None
    while call is not None:
        if call.kind == "iteration":
            found = call
        call = call.parent
    return found


class SubCallTree(Tree[Node]):
    """The call tree; `model` is the session tree it shows (see transcript/model.py). A
    child session adds no level: its iterations hang under the sub-call that started it."""

    ALLOW_MAXIMIZE = True
    BORDER_TITLE = "Calls"
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
        & > .subcall-tree--meta { color: $foreground-muted; }
        & > .subcall-tree--rollup { color: $secondary; }
    }
    """

    class CallChosen(Message):
        """The cursor is on a call (or cell): show its prompt and response."""

        def __init__(self, call: Node) -> None:
            super().__init__()
            self.call = call

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Space is the app's (pause and resume; play and pause in a replay) wherever the
        # focus is: Tree's own (open or close a node) stands aside, so the footer shows the
        # app's. Enter opens and closes nodes here.
        return False if action == "toggle_node" else super().check_action(action, parameters)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("calls", id=id, classes=classes)
        self.show_root = False
        self.guide_depth = 3
        self.model = SessionModel()
        self._by_id: dict[str, TreeNode[Node]] = {}
        self._last_top: TreeNode[Node] | None = None
        self._width: int | None = None  # of the labels' room (see _room_for)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._width = None  # measured again for each paint (see _room_for)
        return super().render_lines(crop)

    def on_mount(self) -> None:
        self.anchor()
        self._show_totals()

    async def reset(self) -> None:
        self.model = SessionModel()
        self._by_id = {}
        self._last_top = None
        self.clear()
        self._show_totals()

    async def show_events(self, batch: SessionBatch) -> None:
        if batch.tree is not self.model:  # a new session (the panes were reset)
            self.model = batch.tree
        changed = batch.changed
        new = [call for call in changed if call.node_id not in self._by_id and self._shown(call)]
        for call in sorted(new, key=lambda c: c.order):
            if call.node_id not in self._by_id:
                self._add(call)
        for call in changed:
            node = self._by_id.get(call.node_id)
            if node is not None:
                node.refresh()
        if changed:
            self._show_totals()

    @staticmethod
    def _shown(call: Node) -> bool:
        """Sessions (and their turns: an iteration says its turn) add no level of their own."""
        return call.kind in SHOWN_KINDS

    @staticmethod
    def _shown_parent(call: Node) -> Node | None:
        parent = call.parent
        if isinstance(parent, SessionNode):
            parent = parent.parent  # a child session's iteration: under its sub-call
        return parent

    def _add(self, call: Node) -> None:
        above = self._shown_parent(call)
        parent = self._by_id.get(above.node_id) if above is not None else None
        if parent is None and above is not None:
            self._add(above)
            parent = self._by_id.get(above.node_id)
        leaf = call.kind == "llm"
        node = (parent or self.root).add(node_title(call), data=call,
                                          expand=not leaf, allow_expand=not leaf)
        self._by_id[call.node_id] = node
        if parent is None:
            # A new top-level iteration: fold the one before, so the live one stays in view.
            if self._last_top is not None:
                self._last_top.collapse()
            self._last_top = node

    def _show_totals(self) -> None:
        t = self.model.totals
        # Each call counted once: done (well), failed, stopped unfinished, running.
        parts = [f"{t.calls_done - t.errors} done"]
        if t.calls_running:
            parts.append(f"{t.calls_running} running")
        if t.errors:
            parts.append(f"{t.errors} failed")
        if t.calls_stopped:
            parts.append(f"{t.calls_stopped} stopped")
        usage = t.usage
        parts += [f"{format_tokens(usage.total_tokens, estimated=not usage.reported)} tokens",
                  format_cost(usage, known=t.cost_known)]
        self.border_title = "Calls · " + " · ".join(parts)

    def render_label(self, node: TreeNode[Node], base_style: Style, style: Style) -> Text:
        call = node.data
        if call is None:
            return super().render_label(node, base_style, style)
        pieces: list[tuple[str, Style]] = []
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
            pieces.append((icon, base_style + _TOGGLE))
        meta = component_style(self, "subcall-tree--meta")
        held = isinstance(call, CellNode) and call.awaiting
        icon = ("‖ ", component_style(self, "subcall-tree--stopped")) if held else (
            _ICONS[call.status] + " ", component_style(self, f"subcall-tree--{call.status}"))
        pieces += [icon, (node_title(call), style)]
        if held:
            pieces.append(("  held: awaits approval",
                           component_style(self, "subcall-tree--stopped")))
        elif isinstance(call, CellNode) and call.decision:
            pieces.append((_DECIDED.get(call.decision, ""), meta))
        own = getattr(call, "usage", None)
        model = getattr(call, "model", "")
        if call.is_call and model:
            # The provider prefix is the same on every line: the name alone says enough.
            pieces.append((f"  {shorten(printable(model).rsplit('/', 1)[-1], 18)}", meta))
        if call.cut:  # stopped at its cap of output tokens: early, so a narrow row keeps it
            pieces.append(("  ✂ cut", component_style(self, "subcall-tree--stopped")))
        finished = call.status in ("done", "error")
        if call.is_call and finished and own is not None and own.calls:
            guess = not own.reported
            pieces.append((f"  {format_tokens(own.prompt_tokens, estimated=guess)}→"
                           f"{format_tokens(own.completion_tokens, estimated=guess)}", _PLAIN))
        latency = _latency(call)
        if latency is not None and finished:
            pieces.append((f"  {format_duration(latency)}", meta))
        if call.is_call and own is not None and own.calls:
            pieces.append((f"  {format_cost(own)}", meta))
        retries = getattr(call, "retry_count", 0)
        if retries:
            pieces.append((f"  ↻{retries}", component_style(self, "subcall-tree--running")))
        room = self._room_for(node)
        own_calls = own.calls if own is not None else 0
        if (call.tally.calls > own_calls or call.running_below) and call.children:
            rollup = call.rollup
            running = f" · {call.running_below} running" if call.running_below else ""
            used = sum(len(text) for text, _ in pieces)
            # The longest roll-up that fits the row (a cut one read "Σ 7 calls 4").
            total = format_tokens(rollup.total_tokens, estimated=not rollup.reported)
            for text in (f"  Σ {rollup.calls} calls {total} "
                         f"{format_cost(rollup)}{running}",
                         f"  Σ {rollup.calls} calls {format_cost(rollup)}{running}",
                         f"  Σ {rollup.calls} calls{running}", f"  Σ {rollup.calls} calls",
                         f"  Σ {rollup.calls}"):
                if room is None or used + len(text) <= room:
                    pieces.append((text, component_style(self, "subcall-tree--rollup")))
                    break
        return _fitted(pieces, room)

    def _room_for(self, node: TreeNode[Node]) -> int | None:
        """The cells a node's label has before the pane's edge (None before layout)."""
        # The Tree labels every line to measure it, so this runs for each of 1,000s of calls:
        # the pane's width is read once a paint, not worked out each time.
        width = self._width
        if width is None:
            width = self._width = self.scrollable_content_region.width
        if width <= 0:
            return None
        depth, parent = 0, node.parent
        while parent is not None and parent is not self.root:  # the root is not shown
            depth, parent = depth + 1, parent.parent
        return max(8, width - depth * self.guide_depth)

    def _on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Node]) -> None:
        if event.node.data is not None:
            self.post_message(self.CallChosen(event.node.data))


def _fitted(pieces: list[tuple[str, Style]], room: int | None) -> Text:
    """The pieces as one label, ending in an ellipsis at `room` cells if they run past it.
    Counted in characters: a label is one cell a character but for a wide one in a model's
    name, which Rich then measures."""
    total = sum(len(text) for text, _ in pieces)
    if room is None or total <= room:
        return Text.assemble(*pieces)
    kept: list[tuple[str, Style]] = []
    left = room - 1
    for text, piece_style in pieces:
        if len(text) >= left:
            kept.append((text[:left], piece_style))
            break
        kept.append((text, piece_style))
        left -= len(text)
    label = Text.assemble(*kept, "…")
    if label.cell_len > room:  # a wide character: Rich cuts by cells
        label = Text.assemble(*pieces)
        label.truncate(room, overflow="ellipsis")
    return label


def _latency(call: Node) -> float | None:
    """How long a call (or cell) took, once it has."""
    seconds = getattr(call, "seconds", None) if call.kind == "cell" else getattr(
        call, "latency_s", None)
    return seconds
