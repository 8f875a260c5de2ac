"""The fold of an event stream into one structure: a session's question, settings, iterations
(reasoning, cells, sub-call tree, child sessions), totals and final answer.

    model = SessionModel(header)
    for event in events:
        node = model.apply(event)      # the node the event touched, for a view to refresh

A live run, a replayed transcript and a converted rlms log all fold the same way; exports
render from it and the app's replay feeds the same panes from it. Totals follow the usage
rule of rlm_tui.events: the sum of `usage` over root_done and subcall_finished events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlm_tui import events as ev

Node = Any  # SessionNode | IterationNode | CellNode | SubCallNode


@dataclass
class Retry:
    attempt: int
    reason: str
    wait_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "reason": self.reason, "wait_s": self.wait_s}


@dataclass
class SubCallNode:
    """One call made from a cell: a plain sub-model call, or a child RLM session."""

    node_id: str
    kind: str  # llm | rlm
    model: str
    prompt: str
    prompt_chars: int
    depth: int
    batch_index: int = 0
    batch_size: int = 1
    status: str = "running"  # running | ok | error
    response: str = ""
    usage: ev.Usage = field(default_factory=ev.Usage)
    child_usage: ev.Usage | None = None  # a child session's roll-up
    latency_s: float = 0.0
    attempts: int = 1
    error: str | None = None
    retries: list[Retry] = field(default_factory=list)
    child: SessionNode | None = None

    @property
    def rollup(self) -> ev.Usage:
        """This call's own usage plus its child session's, if any."""
        return self.usage + self.child_usage if self.child_usage else self.usage

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "kind": self.kind, "model": self.model,
            "status": self.status, "prompt": self.prompt, "prompt_chars": self.prompt_chars,
            "response": self.response, "depth": self.depth, "batch_index": self.batch_index,
            "batch_size": self.batch_size, "usage": _usage_dict(self.usage),
            "child_usage": _usage_dict(self.child_usage) if self.child_usage else None,
            "latency_s": self.latency_s, "attempts": self.attempts, "error": self.error,
            "retries": [r.to_dict() for r in self.retries],
            "child": self.child.to_dict() if self.child else None,
        }


@dataclass
class CellNode:
    """One code block the root model wrote, and what running it gave."""

    node_id: str
    index: int
    code: str
    status: str = "running"  # running | ok | error
    stdout: str = ""
    stdout_total_chars: int = 0
    stderr: str = ""
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0
    worker_restarted: bool = False
    final_answer: str | None = None
    subcalls: list[SubCallNode] = field(default_factory=list)

    @property
    def cut_note(self) -> str | None:
        """Why the output shown is shorter than what the cell printed, if it is."""
        if self.stdout_total_chars > len(self.stdout):
            return (f"output cut: {len(self.stdout):,} of {self.stdout_total_chars:,} "
                    "characters kept")
        return None

    @property
    def rollup(self) -> ev.Usage:
        total = ev.Usage()
        for call in self.subcalls:
            total = total + call.rollup
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "index": self.index, "code": self.code,
            "status": self.status, "stdout": self.stdout,
            "stdout_total_chars": self.stdout_total_chars, "cut_note": self.cut_note,
            "stderr": self.stderr, "error": self.error, "error_kind": self.error_kind,
            "seconds": self.seconds, "worker_restarted": self.worker_restarted,
            "final_answer": self.final_answer,
            "subcalls": [c.to_dict() for c in self.subcalls],
        }


@dataclass
class IterationNode:
    """One turn of the root model: its reasoning, its root call, and the cells it ran."""

    node_id: str
    iteration: int
    max_iterations: int
    forced: bool = False
    started_ts: float = 0.0
    status: str = "running"  # running | done | error
    model: str = ""
    usage: ev.Usage = field(default_factory=ev.Usage)  # the root call's own
    latency_s: float = 0.0
    attempts: int = 1
    error: str | None = None
    retries: list[Retry] = field(default_factory=list)
    cells: list[CellNode] = field(default_factory=list)
    _parts: list[str] = field(default_factory=list, repr=False)
    _done_text: str | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        """The reasoning: root_done's text once it came, else the streamed text so far."""
        if self._done_text:
            return self._done_text
        return "".join(self._parts)

    @property
    def rollup(self) -> ev.Usage:
        total = self.usage
        for cell in self.cells:
            total = total + cell.rollup
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "iteration": self.iteration,
            "max_iterations": self.max_iterations, "forced": self.forced,
            "status": self.status, "text": self.text, "model": self.model,
            "usage": _usage_dict(self.usage), "rollup": _usage_dict(self.rollup),
            "latency_s": self.latency_s, "attempts": self.attempts, "error": self.error,
            "retries": [r.to_dict() for r in self.retries],
            "cells": [c.to_dict() for c in self.cells],
        }


@dataclass
class SessionNode:
    """One RLM session: the root one, or a child started by `rlm_query`."""

    session_id: str
    parent_id: str | None
    query: str
    depth: int
    root_model: str
    sub_model: str
    max_iterations: int
    context: dict[str, Any] = field(default_factory=dict)
    started_ts: float = 0.0
    iterations: list[IterationNode] = field(default_factory=list)
    status: str = "running"  # running | answered | halted | failed
    reason: str | None = None
    answer: str | None = None
    forced: bool = False
    answer_source: str | None = None
    usage: ev.Usage | None = None  # the roll-up session_finished reported
    seconds: float | None = None
    finished_iterations: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id, "parent_id": self.parent_id, "query": self.query,
            "depth": self.depth, "root_model": self.root_model, "sub_model": self.sub_model,
            "max_iterations": self.max_iterations, "context": self.context,
            "status": self.status, "reason": self.reason, "answer": self.answer,
            "forced": self.forced, "answer_source": self.answer_source,
            "usage": _usage_dict(self.usage) if self.usage else None,
            "seconds": self.seconds,
            "iterations": [i.to_dict() for i in self.iterations],
        }


@dataclass
class Totals:
    """The whole run: every root and sub-call, at every depth."""

    usage: ev.Usage = field(default_factory=ev.Usage)
    sub_calls: int = 0
    seconds: float = 0.0

    @property
    def cost_known(self) -> bool:
        """False when no call had a price: the cost is unknown, not zero."""
        return not (self.usage.calls and self.usage.unpriced_calls == self.usage.calls)

    def to_dict(self) -> dict[str, Any]:
        u = self.usage
        return {
            "tokens": {"prompt": u.prompt_tokens, "completion": u.completion_tokens,
                       "total": u.total_tokens},
            "cost_usd": round(u.cost_usd or 0.0, 6) if self.cost_known else None,
            "cost_complete": u.unpriced_calls == 0,
            "calls": u.calls, "sub_calls": self.sub_calls, "seconds": round(self.seconds, 3),
        }


class SessionModel:
    """Folds events, in stream order, into the session tree and its totals.

    `apply` never raises for a well-typed event whose node is missing (a transcript cut
    short, or events from a newer writer): such an event is counted in `orphans` and ignored.
    """

    def __init__(self, header: dict[str, Any] | None = None) -> None:
        self.header: dict[str, Any] = dict(header or {})
        self.root: SessionNode | None = None
        self.sessions: dict[str, SessionNode] = {}
        self.nodes: dict[str, Node] = {}
        self.totals = Totals()
        self.state: str = "starting"
        self.state_reason: str | None = None
        self.budgets: list[dict[str, Any]] = []
        self.coverage: dict[str, Any] | None = None
        self.events_applied = 0
        self.orphans = 0
        self._first_ts: float | None = None
        self._last_ts: float = 0.0

    @classmethod
    def from_events(cls, events: Any, header: dict[str, Any] | None = None) -> SessionModel:
        model = cls(header)
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
    def status(self) -> str:
        """answered | halted | failed, or running when the stream has no end (yet)."""
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
    def settings(self) -> dict[str, Any]:
        return dict(self.header.get("settings") or {})

    @property
    def context(self) -> dict[str, Any]:
        if self.root is not None and self.root.context:
            return self.root.context
        return dict(self.header.get("context") or {})

    # -- the fold ------------------------------------------------------------------------

    def apply(self, event: ev.EventBase) -> Node | None:
        """Fold one event in; returns the node it created or changed (None if none)."""
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
        if node is None and type(event) not in (ev.StateChanged, ev.BudgetExceeded):
            self.orphans += 1
        return node

    def _session_started(self, e: ev.SessionStarted) -> SessionNode:
        node = SessionNode(session_id=e.node_id, parent_id=e.parent_id, query=e.query,
                           depth=e.depth, root_model=e.root_model, sub_model=e.sub_model,
                           max_iterations=e.max_iterations, context=dict(e.context),
                           started_ts=e.ts)
        self.sessions[e.node_id] = node
        self.nodes[e.node_id] = node
        parent = self.nodes.get(e.parent_id) if e.parent_id else None
        if isinstance(parent, SubCallNode):
            parent.child = node
        elif self.root is None:
            self.root = node
        return node

    def _iteration_started(self, e: ev.IterationStarted) -> IterationNode | None:
        session = self.sessions.get(e.parent_id or "")
        if session is None:
            return None
        node = IterationNode(node_id=e.node_id, iteration=e.iteration,
                             max_iterations=e.max_iterations, forced=e.forced,
                             started_ts=e.ts)
        session.iterations.append(node)
        self.nodes[e.node_id] = node
        return node

    def _root_delta(self, e: ev.RootDelta) -> IterationNode | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, IterationNode):
            return None
        if e.restart:
            node._parts.clear()
        if e.text:
            node._parts.append(e.text)
        return node

    def _root_done(self, e: ev.RootDone) -> IterationNode | None:
        self.totals.usage = self.totals.usage + e.usage
        node = self.nodes.get(e.node_id)
        if not isinstance(node, IterationNode):
            return None
        node._done_text = e.text or None
        node.model, node.usage, node.latency_s = e.model, e.usage, e.latency_s
        node.attempts, node.error = e.attempts, e.error
        node.status = "error" if e.error else "done"
        return node

    def _cell_started(self, e: ev.CellStarted) -> CellNode | None:
        iteration = self.nodes.get(e.parent_id or "")
        if not isinstance(iteration, IterationNode):
            return None
        node = CellNode(node_id=e.node_id, index=e.index, code=e.code)
        iteration.cells.append(node)
        self.nodes[e.node_id] = node
        return node

    def _cell_finished(self, e: ev.CellFinished) -> CellNode | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, CellNode):
            return None
        node.stdout, node.stdout_total_chars = e.stdout, e.stdout_total_chars
        node.stderr, node.error, node.error_kind = e.stderr, e.error, e.error_kind
        node.seconds, node.worker_restarted = e.seconds, e.worker_restarted
        node.final_answer = e.final_answer
        node.status = "error" if e.error else "ok"
        return node

    def _subcall_started(self, e: ev.SubcallStarted) -> SubCallNode | None:
        cell = self.nodes.get(e.parent_id or "")
        if not isinstance(cell, CellNode):
            return None
        node = SubCallNode(node_id=e.node_id, kind=e.kind, model=e.model, prompt=e.prompt,
                           prompt_chars=e.prompt_chars, depth=e.depth,
                           batch_index=e.batch_index, batch_size=e.batch_size)
        cell.subcalls.append(node)
        self.nodes[e.node_id] = node
        return node

    def _subcall_retry(self, e: ev.SubcallRetry) -> Node | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, (SubCallNode, IterationNode)):
            return None
        node.retries.append(Retry(e.attempt, e.reason, e.wait_s))
        return node

    def _subcall_finished(self, e: ev.SubcallFinished) -> SubCallNode | None:
        self.totals.usage = self.totals.usage + e.usage
        self.totals.sub_calls += 1
        node = self.nodes.get(e.node_id)
        if not isinstance(node, SubCallNode):
            return None
        node.model, node.response, node.usage = e.model, e.response, e.usage
        node.child_usage, node.latency_s = e.child_usage, e.latency_s
        node.attempts, node.error = e.attempts, e.error
        node.status = "error" if e.error else "ok"
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
        return session

    def _session_finished(self, e: ev.SessionFinished) -> SessionNode | None:
        session = self.sessions.get(e.node_id)
        if session is None:
            return None
        session.status, session.reason = e.status, e.reason
        if e.answer is not None:
            session.answer = e.answer
        session.forced = session.forced or e.forced
        session.usage, session.seconds = e.usage, e.seconds
        session.finished_iterations = e.iterations
        if session is self.root:
            self.totals.seconds = e.seconds
        return session

    # -- output --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document of the whole fold."""
        return {
            "query": self.query,
            "status": self.status,
            "answer": self.answer,
            "forced": self.forced,
            "reason": self.reason,
            "state": self.state,
            "settings": self.settings,
            "context": self.context,
            "totals": self.totals.to_dict(),
            "budgets_exceeded": list(self.budgets),
            "coverage": self.coverage,
            "session": self.root.to_dict() if self.root else None,
        }


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
}


def _usage_dict(usage: ev.Usage) -> dict[str, Any]:
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "cost_usd": usage.cost_usd, "calls": usage.calls,
            "unpriced_calls": usage.unpriced_calls}
