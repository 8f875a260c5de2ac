"""The session tree: the one fold of an event stream into a session's question, settings,
iterations (reasoning, cells, sub-call tree, child sessions), statuses, totals and answer.

    model = SessionModel(header)
    for event in events:
        model.apply(event)
    changed = model.take_changed()     # the nodes a view redraws (roll-ups reached them too)

A live run (the app's panes, the headless summary), a replayed transcript and a converted
rlms log all fold the same way, and every export renders from it: nothing else sums usage or
decides a status. Totals follow the usage rule of rlm_tui.events: the sum of `usage` over
root_done and subcall_finished events; each node's roll-up is the same sum over its subtree.
Turns, cells and calls still in flight when their session ends are "stopped".
"""

from __future__ import annotations

from typing import Any

from rlm_tui import events as ev
from rlm_tui.transcript.nodes import (
    CellNode,
    IterationNode,
    Node,
    Rejection,
    Retry,
    SessionNode,
    SubCallNode,
    ToolCallNode,
    TurnNode,
)
from rlm_tui.transcript.steering_fold import SteeringFold
from rlm_tui.transcript.tool_fold import ToolFold
from rlm_tui.transcript.totals import Totals

__all__ = ["CellNode", "IterationNode", "Node", "SessionModel", "SessionNode", "SubCallNode",
           "ToolCallNode", "Totals", "TurnNode"]


class SessionModel(SteeringFold, ToolFold):
    """Folds events, in stream order, into the session tree and its totals.

    `apply` never raises for a well-typed event whose node is missing (a transcript cut
    short, or events from a newer writer): such an event is counted in `orphans` and ignored.
    """

    def __init__(self, header: dict[str, Any] | None = None, *,
                 track_changes: bool = True) -> None:
        self.header: dict[str, Any] = dict(header or {})
        self.root: SessionNode | None = None
        self.sessions: dict[str, SessionNode] = {}
        self.nodes: dict[str, Node] = {}
        self.totals = Totals()
        self.state: ev.RunState = "starting"
        self.state_reason: str | None = None
        self.budgets: list[dict[str, Any]] = []
        self.coverage: dict[str, Any] | None = None
        self.held_cell: CellNode | None = None  # awaiting a person's decision now
        self.pending_notes: list[str] = []  # a person's notes not yet sent to the model
        self.approve_mode: str = str(self.settings.get("approve") or "none")
        self.model_changes: list[dict[str, Any]] = []
        self.events_applied = 0
        self.orphans = 0
        self._changed: set[Node] = set()
        self._track = track_changes  # False: nothing reads take_changed (an export, a summary)
        self._first_ts: float | None = None
        self._last_ts: float = 0.0

    @classmethod
    def from_events(cls, events: Any, header: dict[str, Any] | None = None) -> SessionModel:
        model = cls(header, track_changes=False)
        for event in events:
            model.apply(event)
        return model

    # -- what views read -----------------------------------------------------------------

    @property
    def query(self) -> str:
        if self.root is not None:
            return self.root.query
        return str(self.header.get("query") or "")

    @property
    def status(self) -> ev.SessionStatus:
        """How the session ended, or running when the stream has no end (yet)."""
        return self.root.status if self.root is not None else "running"

    @property
    def answer(self) -> str | None:
        return self.root.answer if self.root is not None else None

    @property
    def forced(self) -> bool:
        return self.root.forced if self.root is not None else False

    @property
    def reason(self) -> str | None:
        """Why the run stopped without an answer (halted or failed), if it did."""
        if self.root is None:
            return None
        return self.root.reason or (self.state_reason if self.status != "answered" else None)

    @property
    def last_ts(self) -> float:
        """The time of the latest event folded in (0.0 before any)."""
        return self._last_ts

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.header.get("settings") or {})

    @property
    def context(self) -> dict[str, Any]:
        if self.root is not None and self.root.context:
            return self.root.context
        return dict(self.header.get("context") or {})

    # -- the fold ------------------------------------------------------------------------

    def apply(self, event: ev.EventBase) -> Node | None:
        """Fold one event in; returns the node it created or changed (None if none). Every
        node whose display changed (the ancestors a roll-up reached, the nodes a session's
        end stopped) is kept for `take_changed`."""
        self.events_applied += 1
        if event.ts:
            if self._first_ts is None:
                self._first_ts = event.ts
            self._last_ts = max(self._last_ts, event.ts)
            if self.root is None or self.root.seconds is None:
                self.totals.seconds = self._last_ts - self._first_ts
        handler = _HANDLERS.get(type(event))
        if handler is None:
            return None
        node = handler(self, event)
        if node is None:
            if type(event) not in _NO_NODE:
                self.orphans += 1
        elif self._track:
            self._changed.add(node)
        return node

    def _mark(self, node: Node) -> None:
        if self._track:
            self._changed.add(node)

    def take_changed(self) -> set[Node]:
        """The nodes changed since the last call (new ones included), for a view to redraw."""
        changed, self._changed = self._changed, set()
        return changed

    def _attach(self, node: Node, parent: Node | None) -> None:
        node.parent = parent
        node.order = len(self.nodes)
        self.nodes[node.node_id] = node

    def _count(self, node: Node, usage: ev.Usage | None, *, running: int = 0,
               sub_call: bool = False) -> None:
        """Add a finished call's usage (and the change in calls in flight) to the node and
        everything above it: the roll-ups every view reads."""
        track = self._changed if self._track else None
        owner: Node | None = node
        while owner is not None:
            tally = owner.tally
            if usage is not None:
                tally.add(usage)
            if sub_call:
                tally.sub_calls += 1
            if owner is not node:
                tally.running += running
            if track is not None:
                track.add(owner)
            owner = owner.parent

    def _start_call(self, node: Node) -> None:
        self.totals.calls_running += 1
        self._count(node, None, running=1)

    def _end_call(self, node: Node, usage: ev.Usage, error: str | None, *,
                  sub_call: bool, stopped: str | None = None) -> None:
        """A call's end: done, failed, or stopped mid-reply (`stopped`: why; its usage is
        then an estimate of what it streamed)."""
        was_running = node.status == "running"
        if stopped is not None:
            node.status, node.stopped_by = "stopped", stopped
            if was_running:
                self.totals.calls_running -= 1
                self.totals.calls_stopped += 1
            self._count(node, usage, running=-1 if was_running else 0, sub_call=sub_call)
            return
        node.status = "error" if error else "done"
        if was_running:
            self.totals.calls_running -= 1
            self.totals.calls_done += 1
        self.totals.errors += bool(error)
        self._count(node, usage, running=-1 if was_running else 0, sub_call=sub_call)

    def _session_started(self, e: ev.SessionStarted) -> SessionNode:
        node = SessionNode(node_id=e.node_id, parent_id=e.parent_id, query=e.query,
                           depth=e.depth, root_model=e.root_model, sub_model=e.sub_model,
                           max_iterations=e.max_iterations, context=dict(e.context),
                           started_ts=e.ts, fork_of=e.fork_of,
                           turns=[TurnNode(1, e.query, answer_schema=e.answer_schema)])
        self.sessions[e.node_id] = node
        parent = self.nodes.get(e.parent_id) if e.parent_id else None
        self._attach(node, parent if isinstance(parent, SubCallNode) else None)
        if isinstance(parent, SubCallNode):
            parent.child = node
        elif self.root is None:
            self.root = node
            self.totals.priced = e.priced
        return node

    def _iteration_started(self, e: ev.IterationStarted) -> IterationNode | None:
        session = self.sessions.get(e.parent_id or "")
        if session is None:
            return None
        node = IterationNode(node_id=e.node_id, iteration=e.iteration,
                             max_iterations=e.max_iterations, forced=e.forced,
                             turn=e.turn, rebuilt=e.rebuilt, started_ts=e.ts)
        session.iterations.append(node)
        self._attach(node, session)
        self._start_call(node)
        return node

    def _root_delta(self, e: ev.RootDelta) -> IterationNode | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, IterationNode):
            return None
        if e.restart:
            node.parts.clear()
            node.streamed_chars = 0
        if e.prompt_tokens is not None:
            node.prompt_estimate = e.prompt_tokens
        if e.text:
            node.parts.append(e.text)
            node.streamed_chars += len(e.text)
        if node.status == "running":  # its running estimate changed, and the roll-ups above
            self.totals.streaming[node.node_id] = node
            self._count(node, None)
        return node

    def _root_done(self, e: ev.RootDone) -> IterationNode | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, IterationNode):
            self.totals.tally.add(e.usage)
            return None
        node.done_text = e.text or None
        node.ended_ts = e.ts
        node.model, node.usage, node.latency_s = e.model, e.usage, e.latency_s
        node.attempts, node.error, node.finish_reason = e.attempts, e.error, e.finish_reason
        self.totals.streaming.pop(node.node_id, None)
        self._end_call(node, e.usage, e.error, sub_call=False, stopped=e.stopped)
        self.totals.tally.add(e.usage)
        return node

    def _compacted(self, e: ev.Compacted) -> IterationNode | None:
        """A compaction before an iteration's call: its summary call counts where it ran."""
        node = self.nodes.get(e.node_id)
        if e.usage.calls:
            self.totals.tally.add(e.usage)
        if not isinstance(node, IterationNode) or e.reason == "no_window":
            return node if isinstance(node, IterationNode) else None  # the record says it
        node.compactions.append(e)
        if e.usage.calls:
            self._count(node, e.usage)
        return node

    def _cell_started(self, e: ev.CellStarted) -> CellNode | None:
        iteration = self.nodes.get(e.parent_id or "")
        if not isinstance(iteration, IterationNode):
            return None
        node = CellNode(node_id=e.node_id, index=e.index, code=e.code, started_ts=e.ts)
        iteration.cells.append(node)
        self._attach(node, iteration)
        return node

    def _cell_finished(self, e: ev.CellFinished) -> CellNode | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, CellNode):
            return None
        node.stdout, node.stdout_total_chars = e.stdout, e.stdout_total_chars
        node.stderr, node.error, node.error_kind = e.stderr, e.error, e.error_kind
        node.seconds, node.worker_restarted = e.seconds, e.worker_restarted
        node.final_answer = e.final_answer
        node.rebuild_differs = e.rebuild_differs
        node.ended_ts = e.ts
        if e.skipped:
            node.decision = node.decision or "skipped"
        node.status = "error" if e.error else "done"
        if self.held_cell is node:
            self.held_cell = None
        return node

    def _subcall_started(self, e: ev.SubcallStarted) -> SubCallNode | None:
        cell = self.nodes.get(e.parent_id or "")
        if not isinstance(cell, CellNode):
            return None
        node = SubCallNode(node_id=e.node_id, kind=e.kind, model=e.model, prompt=e.prompt,
                           prompt_chars=e.prompt_chars, depth=e.depth,
                           batch_index=e.batch_index, batch_size=e.batch_size,
                           started_ts=e.ts)
        cell.subcalls.append(node)
        self._attach(node, cell)
        self._start_call(node)
        return node

    def _subcall_retry(self, e: ev.SubcallRetry) -> Node | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, (SubCallNode, IterationNode)):
            return None
        node.retries.append(Retry(e.attempt, e.reason, e.wait_s))
        return node

    def _subcall_finished(self, e: ev.SubcallFinished) -> SubCallNode | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, SubCallNode):
            self.totals.tally.add(e.usage)
            self.totals.tally.sub_calls += 1
            return None
        node.model, node.response, node.usage = e.model, e.response, e.usage
        node.ended_ts = e.ts
        node.child_usage, node.latency_s = e.child_usage, e.latency_s
        node.attempts, node.error, node.finish_reason = e.attempts, e.error, e.finish_reason
        self._end_call(node, e.usage, e.error, sub_call=True, stopped=e.stopped)
        self.totals.tally.add(e.usage)
        self.totals.tally.sub_calls += 1
        return node

    def _state_changed(self, e: ev.StateChanged) -> None:
        self.state, self.state_reason = e.state, e.reason
        return None

    def _budget_exceeded(self, e: ev.BudgetExceeded) -> None:
        self.budgets.append({"session_id": e.session_id, "budget": e.budget,
                             "limit": e.limit, "value": e.value})
        return None

    def _coverage_updated(self, e: ev.CoverageUpdated) -> Node | None:
        self.coverage = dict(e.coverage)
        return self.nodes.get(e.node_id)

    def _final_answer(self, e: ev.FinalAnswer) -> SessionNode | None:
        session = self.sessions.get(e.node_id)
        if session is None:
            return None
        session.answer, session.forced, session.answer_source = e.answer, e.forced, e.source
        turn = _turn(session, e.turn)
        turn.answer, turn.forced, turn.source = e.answer, e.forced, e.source
        turn.validated, turn.value = e.validated, e.value
        return session

    def _answer_rejected(self, e: ev.AnswerRejected) -> IterationNode | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, IterationNode):
            return None
        node.rejections.append(Rejection(e.answer, list(e.errors), e.source, e.forced))
        return node

    def _session_finished(self, e: ev.SessionFinished) -> SessionNode | None:
        session = self.sessions.get(e.node_id)
        if session is None:
            return None
        session.status, session.reason = e.status, e.reason
        session.ended_ts = e.ts
        turn = _turn(session, e.turn)
        turn.status, turn.reason, turn.iterations = e.status, e.reason, e.iterations
        turn.rebuilt = turn.rebuilt or e.rebuilt
        if e.answer is not None:
            session.answer = turn.answer = e.answer
        session.forced = session.forced or e.forced
        session.usage, session.seconds = e.usage, e.seconds
        session.finished_iterations = e.iterations
        if session is self.root:
            self.totals.seconds = e.seconds
            if self.held_cell is not None and self.held_cell.status != "running":
                self.held_cell = None
        self._stop_unfinished(session, e.reason or e.status, e.ts)
        if self.held_cell is not None and self.held_cell.status != "running":
            self.held_cell = None
        return session

    # -- steering: turns, notes, held cells, models ------------------------------------

    def _turn_started(self, e: ev.TurnStarted) -> SessionNode | None:
        session = self.sessions.get(e.parent_id or "")
        if session is None:
            return None
        session.turns.append(TurnNode(e.turn, e.query, rebuilt=e.rebuilt,
                                      answer_schema=e.answer_schema))
        session.status, session.reason, session.answer = "running", None, None
        session.forced, session.seconds = False, None
        return session

    def _stop_unfinished(self, session: SessionNode, reason: str, ts: float = 0.0) -> None:
        """A session that ends while turns, cells or calls of its own are in flight (a halt,
        or a failure elsewhere) emits no finish for them: they stopped with it. A child
        session still running under them ends halted, for the same reason."""
        stack: list[Node] = list(session.iterations)
        while stack:
            node = stack.pop()
            if isinstance(node, SessionNode):
                if node.status == "running":
                    node.status, node.reason, node.ended_ts = "halted", reason, ts
                    for turn in node.turns:
                        if turn.status == "running":
                            turn.status, turn.reason = "halted", reason
                    self._mark(node)
                stack.extend(node.iterations)
                continue
            if node.status == "running":
                node.status, node.stopped_by = "stopped", reason
                node.ended_ts = node.ended_ts or ts
                self.totals.streaming.pop(node.node_id, None)
                if node.is_call:
                    self.totals.calls_running -= 1
                    self.totals.calls_stopped += 1
                    self._count(node, None, running=-1)
                self._mark(node)
            if isinstance(node, SubCallNode):
                if node.child is not None:
                    stack.append(node.child)
            else:
                stack.extend(node.children)

    # -- output --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document of the whole fold."""
        return {
            "query": self.query,
            "status": self.status,
            "answer": self.answer,
            "value": self.root.turns[-1].value if self.root and self.root.turns else None,
            "forced": self.forced,
            "reason": self.reason,
            "state": self.state,
            "settings": self.settings,
            "context": self.context,
            "totals": self.totals.to_dict(),
            "budgets_exceeded": list(self.budgets),
            "coverage": self.coverage,
            "turns": [t.to_dict() for t in self.root.turns] if self.root else [],
            "approve_mode": self.approve_mode,
            "model_changes": list(self.model_changes),
            "session": self.root.to_dict() if self.root else None,
        }


def _turn(session: SessionNode, number: int) -> TurnNode:
    """The session's turn `number` (older transcripts: their one turn)."""
    for turn in reversed(session.turns):
        if turn.turn == number:
            return turn
    if not session.turns:
        session.turns.append(TurnNode(number, session.query))
    return session.turns[-1]


_HANDLERS = {
    ev.SessionStarted: SessionModel._session_started,
    ev.IterationStarted: SessionModel._iteration_started,
    ev.RootDelta: SessionModel._root_delta,
    ev.RootDone: SessionModel._root_done,
    ev.CellStarted: SessionModel._cell_started,
    ev.CellFinished: SessionModel._cell_finished,
    ev.SubcallStarted: SessionModel._subcall_started,
    ev.SubcallRetry: SessionModel._subcall_retry,
    ev.SubcallFinished: SessionModel._subcall_finished,
    ev.StateChanged: SessionModel._state_changed,
    ev.BudgetExceeded: SessionModel._budget_exceeded,
    ev.CoverageUpdated: SessionModel._coverage_updated,
    ev.FinalAnswer: SessionModel._final_answer,
    ev.SessionFinished: SessionModel._session_finished,
    ev.TurnStarted: SessionModel._turn_started,
    ev.MessageAdded: SessionModel._message_added,
    ev.NoteAdded: SessionModel._note_added,
    ev.CellHeld: SessionModel._cell_held,
    ev.CellDecided: SessionModel._cell_decided,
    ev.ModelsChanged: SessionModel._models_changed,
    ev.ApproveModeChanged: SessionModel._approve_mode_changed,
    ev.AnswerRejected: SessionModel._answer_rejected,
    ev.ToolStarted: SessionModel._tool_started,
    ev.ToolFinished: SessionModel._tool_finished,
    ev.Compacted: SessionModel._compacted,
}
# Events about the run, not a node: never orphans.
_NO_NODE = (ev.StateChanged, ev.BudgetExceeded, ev.ApproveModeChanged, ev.MessageAdded)

