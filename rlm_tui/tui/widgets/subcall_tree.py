"""Pane 4: the run's model calls as a tree: iteration > cell > sub-call > (child session's)
iteration > ..., each with its model, status, tokens, latency and cost, and roll-ups on the
parents; a cell's host tool calls beside its sub-calls. The pane's title carries the live totals.

A view of the session tree (transcript/model.py): every number and status shown is the
tree's, so the pane, the exports and the headless summary agree."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from rlm_tui.printable import printable
from rlm_tui.units import format_cached_share, format_cost, format_duration, format_tokens
from rlm_tui.transcript.model import CellNode, Node, SessionModel, SessionNode
from rlm_tui.tui.relay import SessionBatch
from rlm_tui.tui.drawing import component_style, shorten
from rlm_tui.tui.compositor import SteadyScrollbars, retitle

_ICONS = {"running": "◌", "done": "✓", "error": "✗", "stopped": "■"}
_TOGGLE = Style.from_meta({"toggle": True})  # what makes a click on the icon fold the node
_PLAIN = Style()
SHOWN_KINDS = frozenset({"iteration", "cell", "llm", "rlm", "tool"})
_DECIDED = {"approved": "  ✓ approved", "edited": "  ✎ edited", "skipped": "  ⤼ skipped"}
ESTIMATE_S = 1.0  # a streaming call's running estimate is shown again at most this often


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


class SubCallTree(SteadyScrollbars, Tree[Node]):
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
        self._drawn: dict[str, tuple] = {}  # node id: what its line showed (_shown_state)
        self._title = ""
        self._counts: tuple[int, ...] = ()  # the calls counted in the title
        self._estimated_at = 0.0  # monotonic, of the last running estimates shown

    def render_lines(self, crop: Region) -> list[Strip]:
        self._width = None  # measured again for each paint (see _room_for)
        return super().render_lines(crop)

    def on_mount(self) -> None:
        self.anchor()
        self._show_totals()

    async def reset(self) -> None:
        self.model = SessionModel()
        self._by_id = {}
        self._drawn = {}
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
        now = time.monotonic()
        estimates_due = now - self._estimated_at >= ESTIMATE_S
        for call in changed:
            node = self._by_id.get(call.node_id)
            if node is not None:
                # A streaming call changes with every chunk; its line only when what it
                # shows does (a repaint of the tree costs several ms), and its running
                # estimate once a second, as the status bar's clock.
                shown = _shown_state(call)
                drawn = self._drawn.get(call.node_id)
                if drawn != shown and (drawn is None or drawn[1:] != shown[1:]
                                       or estimates_due):
                    self._drawn[call.node_id] = shown
                    node.refresh()
        if changed:
            self._show_totals(estimates_due)
        if estimates_due:
            self._estimated_at = now

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
        leaf = call.kind in ("llm", "tool")
        node = (parent or self.root).add(node_title(call), data=call,
                                          expand=not leaf, allow_expand=not leaf)
        self._by_id[call.node_id] = node
        if parent is None:
            # A new top-level iteration: fold the one before, so the live one stays in view.
            if self._last_top is not None:
                self._last_top.collapse()
            self._last_top = node

    def _show_totals(self, estimates_due: bool = True) -> None:
        t = self.model.totals
        counts = (t.calls_done, t.calls_running, t.errors, t.calls_stopped)
        if t.streaming and not estimates_due and counts == self._counts:
            return  # only a running estimate changed: shown once a second
        self._counts = counts
        # Each call counted once: done (well), failed, stopped unfinished, running.
        parts = [f"{t.calls_done - t.errors} done"]
        if t.calls_running:
            parts.append(f"{t.calls_running} running")
        if t.errors:
            parts.append(f"{t.errors} failed")
        if t.calls_stopped:
            parts.append(f"{t.calls_stopped} stopped")
        usage = t.live_usage  # with the running estimate of a call streaming now
        cached = format_cached_share(usage)
        parts += [f"{format_tokens(usage.total_tokens, estimated=not usage.reported)} tokens"
                  + (f" ({cached})" if cached else ""),
                  format_cost(usage, known=t.cost_known)]
        title = "Calls · " + " · ".join(parts)
        if title != self._title:  # setting it, even to the same text, repaints the pane
            self._title = title
            retitle(self, title)

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
        if getattr(call, "rejections", None):  # its answer did not match the schema
            pieces.append(("  ✗ rejected", component_style(self, "subcall-tree--error")))
        own = getattr(call, "usage", None)
        model = getattr(call, "model", "")
        if call.is_call and model:
            # The provider prefix is the same on every line: the name alone says enough.
            pieces.append((f"  {shorten(printable(model).rsplit('/', 1)[-1], 18)}", meta))
        if call.cut:  # stopped at its cap of output tokens: early, so a narrow row keeps it
            pieces.append(("  ✂ cut", component_style(self, "subcall-tree--stopped")))
        finished = call.status in ("done", "error", "stopped")
        live = getattr(call, "live_usage", None)
        if live is not None:  # streaming: its running estimate, until the server's figures
            own = live
        if call.is_call and (finished or live is not None) and own is not None and own.calls:
            guess = not own.reported
            pieces.append((f"  {format_tokens(own.prompt_tokens, estimated=guess)}→"
                           f"{format_tokens(own.completion_tokens, estimated=guess)}", _PLAIN))
        latency = _latency(call)
        # A call stopped mid-reply kept its time; one its session's end stopped has none.
        if latency is not None and finished and (call.status != "stopped" or latency):
            pieces.append((f"  {format_duration(latency)}", meta))
        if call.is_call and own is not None and own.calls and live is None:
            pieces.append((f"  {format_cost(own)}", meta))
        retries = getattr(call, "retry_count", 0)
        if retries:
            pieces.append((f"  ↻{retries}", component_style(self, "subcall-tree--running")))
        if call.is_call and own is not None and live is None and format_cached_share(own):
            # last: a narrow row drops it before the cost
            pieces.append((f"  {format_cached_share(own)}", meta))
        room = self._room_for(node)
        own_calls = own.calls if own is not None else 0
        if (call.tally.calls > own_calls or call.running_below) and call.children:
            rollup = call.rollup
            running = f" · {call.running_below} running" if call.running_below else ""
            used = sum(len(text) for text, _ in pieces)
            # The longest roll-up that fits the row (a cut one read "Σ 7 calls 4").
            total = format_tokens(rollup.total_tokens, estimated=not rollup.reported)
            cached = format_cached_share(rollup)
            cached = f" ({cached})" if cached else ""
            for text in (f"  Σ {rollup.calls} calls {total}{cached} "
                         f"{format_cost(rollup)}{running}",
                         f"  Σ {rollup.calls} calls {total} "
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


def _shown_state(call: Node) -> tuple:
    """What a call's line shows, as a value (its running estimate first): the line is drawn
    again when it changes."""
    tally = call.tally
    live = getattr(call, "live_usage", None)
    estimate = (format_tokens(live.prompt_tokens), format_tokens(live.completion_tokens)
                ) if live is not None else None
    return (estimate, call.status, getattr(call, "usage", None),
            getattr(call, "finish_reason", None),
            getattr(call, "retry_count", 0), getattr(call, "decision", None),
            getattr(call, "held", None), getattr(call, "model", None), _latency(call),
            tally.calls, tally.running, tally.prompt_tokens, tally.completion_tokens,
            tally.cost_usd, tally.unreported_calls, tally.cached_tokens, len(call.children))


def _latency(call: Node) -> float | None:
    """How long a call (or cell) took, once it has."""
    seconds = getattr(call, "seconds", None) if call.kind in ("cell", "tool") else getattr(
        call, "latency_s", None)
    return seconds
