"""The run's calls as a tree, rebuilt from events alone: iteration > cell > sub-call >
(child session's) iteration > ... Each node keeps its own usage and a roll-up of everything
beneath it, so the totals always equal the sum of the calls (the rule in events.py: own
`usage` of root_done and subcall_finished; a child-session node's own usage is zero and its
children carry the child's calls)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rlm_tui import events as ev

NodeKind = Literal["iteration", "cell", "llm", "rlm"]
# "stopped": still in flight when its session ended (halted, or failed elsewhere).
CallStatus = Literal["running", "done", "error", "stopped"]


@dataclass(eq=False)
class CallNode:
    """One node of the call tree; `usage` is its own, `rollup` adds everything beneath."""

    node_id: str
    kind: NodeKind
    title: str
    parent: CallNode | None = None
    children: list[CallNode] = field(default_factory=list)
    model: str | None = None
    status: CallStatus = "running"
    retries: int = 0
    usage: ev.Usage = ev.Usage()
    rollup: ev.Usage = ev.Usage()
    latency_s: float | None = None
    prompt: str = ""
    prompt_chars: int = 0
    response: str = ""
    error: str | None = None
    stopped_by: str | None = None  # why its session ended while it was in flight
    running_below: int = 0  # model calls in flight beneath (not counting this one)

    @property
    def is_call(self) -> bool:
        """A model call of its own: a root turn (iteration) or a sub-call."""
        return self.kind in ("iteration", "llm", "rlm")

    def ancestors(self) -> list[CallNode]:
        found, node = [], self.parent
        while node is not None:
            found.append(node)
            node = node.parent
        return found


class CallTree:
    """Applies events; `apply` returns the nodes whose display changed (new ones included)."""

    def __init__(self) -> None:
        self.nodes: dict[str, CallNode] = {}
        self.roots: list[CallNode] = []
        self.total = ev.Usage()
        self.calls_done = 0
        self.calls_running = 0
        self.errors = 0
        self._root_session: str | None = None
        # A child session's node id -> the sub-call node that started it: its iterations hang
        # straight under that sub-call (the session level adds nothing to look at).
        self._aliases: dict[str, str] = {}

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    # -- building --------------------------------------------------------------------------

    def _parent(self, parent_id: str | None) -> CallNode | None:
        if parent_id is None:
            return None
        return self.nodes.get(self._aliases.get(parent_id, parent_id))

    def _add(self, node_id: str, parent_id: str | None, kind: NodeKind, title: str,
             changed: set[CallNode]) -> CallNode:
        node = self.nodes.get(node_id)
        if node is not None:
            return node
        parent = self._parent(parent_id)
        node = CallNode(node_id=node_id, kind=kind, title=title, parent=parent)
        self.nodes[node_id] = node
        (parent.children if parent is not None else self.roots).append(node)
        changed.add(node)
        return node

    def _add_usage(self, node: CallNode, usage: ev.Usage, changed: set[CallNode]) -> None:
        node.usage = node.usage + usage
        self.total = self.total + usage
        for owner in (node, *node.ancestors()):
            owner.rollup = owner.rollup + usage
            changed.add(owner)

    def _running(self, node: CallNode, delta: int, changed: set[CallNode]) -> None:
        self.calls_running += delta
        for owner in node.ancestors():
            owner.running_below += delta
            changed.add(owner)

    def _finish_call(self, node: CallNode, error: str | None, changed: set[CallNode]) -> None:
        if node.status == "running":
            self._running(node, -1, changed)
            self.calls_done += 1
        node.status = "error" if error else "done"
        node.error = error
        self.errors += bool(error)

    def _stop_unfinished(self, session: ev.SessionFinished, changed: set[CallNode]) -> None:
        """A session that ends while calls or cells of its own are in flight (a halt, or a
        failure elsewhere) emits no finish for them: they stopped with it."""
        prefix = session.node_id + "."
        reason = session.reason or session.status
        for node in self.nodes.values():
            if node.status == "running" and node.node_id.startswith(prefix):
                if node.is_call:
                    self._running(node, -1, changed)
                node.status = "stopped"
                node.stopped_by = reason
                changed.add(node)

    def apply(self, event: ev.EventBase) -> set[CallNode]:
        changed: set[CallNode] = set()
        if isinstance(event, ev.SessionStarted):
            if event.depth == 0 and event.parent_id is None:
                self._root_session = event.node_id
            elif event.parent_id is not None:
                self._aliases[event.node_id] = event.parent_id
        elif isinstance(event, ev.IterationStarted):
            title = "final answer (forced)" if event.forced else f"iteration {event.iteration}"
            node = self._add(event.node_id, event.parent_id, "iteration", title, changed)
            self._running(node, 1, changed)
        elif isinstance(event, ev.RootDone):
            node = self.nodes.get(event.node_id)
            if node is not None:
                node.model = event.model
                node.latency_s = event.latency_s
                node.response = event.text
                self._finish_call(node, event.error, changed)
                self._add_usage(node, event.usage, changed)
        elif isinstance(event, ev.CellStarted):
            node = self._add(event.node_id, event.parent_id, "cell", f"cell {event.index}",
                             changed)
            node.prompt = event.code
        elif isinstance(event, ev.CellFinished):
            node = self.nodes.get(event.node_id)
            if node is not None:
                node.status = "error" if event.error else "done"
                node.error = event.error
                node.latency_s = event.seconds
                node.response = event.stdout
                changed.add(node)
        elif isinstance(event, ev.SubcallStarted):
            number = event.node_id.rsplit(".q", 1)[-1]
            title = f"{'rlm' if event.kind == 'rlm' else 'llm'} q{number}"
            if event.batch_size > 1:
                title += f" [{event.batch_index + 1}/{event.batch_size}]"
            node = self._add(event.node_id, event.parent_id, event.kind, title, changed)
            node.model = event.model
            node.prompt = event.prompt
            node.prompt_chars = event.prompt_chars
            self._running(node, 1, changed)
        elif isinstance(event, ev.SubcallRetry):
            node = self.nodes.get(event.node_id)
            if node is not None:
                node.retries = max(node.retries, event.attempt)
                changed.add(node)
        elif isinstance(event, ev.SubcallFinished):
            node = self.nodes.get(event.node_id)
            if node is not None:
                node.model = event.model
                node.latency_s = event.latency_s
                node.response = event.response
                node.retries = max(node.retries, event.attempts - 1)
                self._finish_call(node, event.error, changed)
                self._add_usage(node, event.usage, changed)
        elif isinstance(event, ev.SessionFinished):
            self._stop_unfinished(event, changed)
        return changed
