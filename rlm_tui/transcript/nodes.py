"""The nodes of the session tree: session > iteration > cell > sub-call > (child) session,
and the cell's tool calls beside its sub-calls.

Each node keeps what its events said, its status (one vocabulary: events.NodeStatus, and
events.SessionStatus for sessions), its own usage (a root turn's or a sub-call's call) and a
tally of everything beneath it, kept as the fold goes (see model.py), so a view reads a
node's roll-up without summing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from rlm_tui import events as ev
from rlm_tui.units import format_seconds
from rlm_tui.units import CHARS_PER_TOKEN

NodeKind = Literal["session", "iteration", "cell", "llm", "rlm", "tool"]
NO_USAGE = ev.Usage()  # frozen: one for every node whose call has not finished


@dataclass(slots=True)
class Tally:
    """A running sum, added to in place as calls finish: the usage of every model call
    beneath a node (its own included), the sub-calls among them, and the calls in flight."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    unpriced_calls: int = 0
    unreported_calls: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    sub_calls: int = 0
    running: int = 0

    def add(self, usage: ev.Usage) -> None:
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost_usd += usage.cost_usd or 0.0
        self.calls += usage.calls
        self.unpriced_calls += usage.unpriced_calls
        self.unreported_calls += usage.unreported_calls
        self.cached_tokens += usage.cached_tokens
        self.cache_write_tokens += usage.cache_write_tokens

    def to_dict(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost_usd": self.cost_usd, "calls": self.calls,
                "unpriced_calls": self.unpriced_calls, "unreported_calls": self.unreported_calls,
                "cached_tokens": self.cached_tokens, "cache_write_tokens": self.cache_write_tokens}

    @property
    def usage(self) -> ev.Usage:
        unknown = self.calls and self.unpriced_calls == self.calls  # as Usage.__add__ says
        return ev.Usage(prompt_tokens=self.prompt_tokens,
                        completion_tokens=self.completion_tokens,
                        cost_usd=None if unknown else self.cost_usd,
                        calls=self.calls, unpriced_calls=self.unpriced_calls,
                        unreported_calls=self.unreported_calls,
                        cached_tokens=self.cached_tokens,
                        cache_write_tokens=self.cache_write_tokens)


@dataclass
class Retry:
    attempt: int
    reason: str
    wait_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "reason": self.reason, "wait_s": self.wait_s}


@dataclass
class Rejection:
    """An answer sent back because it did not have the shape asked for (a schema)."""

    answer: str
    errors: list[str]
    source: str = "FINAL"
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "errors": list(self.errors), "source": self.source,
                "forced": self.forced}


@dataclass(eq=False, kw_only=True, slots=True)
class Node:
    """What every node has: its place, its status and its tally."""

    node_id: str
    parent: Node | None = field(default=None, repr=False)
    status: ev.NodeStatus | ev.SessionStatus = "running"  # SessionStatus for a session
    stopped_by: str | None = None  # why its session ended while it was in flight
    tally: Tally = field(default_factory=Tally, repr=False)
    order: int = 0  # when the fold made it: siblings in the order they began
    kind: NodeKind = "session"
    started_ts: float = 0.0  # the event times of its start and end (0.0: not yet ended)
    ended_ts: float = 0.0

    @property
    def rollup(self) -> ev.Usage:
        """The usage of every call beneath, this node's own included."""
        return self.tally.usage

    @property
    def running_below(self) -> int:
        """Model calls in flight beneath (not counting this one)."""
        return self.tally.running

    @property
    def children(self) -> list[Node]:
        return []

    @property
    def cut(self) -> bool:
        """A reply that stopped at its cap of output tokens (a call's finish reason)."""
        return getattr(self, "finish_reason", None) in ev.CUT_FINISH_REASONS

    @property
    def is_call(self) -> bool:
        """A model call of its own: a root turn (iteration) or a sub-call."""
        return self.kind in ("iteration", "llm", "rlm")

    def ancestors(self) -> list[Node]:
        found, node = [], self.parent
        while node is not None:
            found.append(node)
            node = node.parent
        return found


@dataclass(eq=False, kw_only=True, slots=True)
class SubCallNode(Node):
    """One call made from a cell: a plain sub-model call, or a child RLM session."""

    kind: NodeKind = "llm"  # llm | rlm
    model: str
    prompt: str
    prompt_chars: int
    depth: int
    batch_index: int = 0
    batch_size: int = 1
    response: str = ""
    usage: ev.Usage = NO_USAGE
    child_usage: ev.Usage | None = None  # a child session's roll-up, as it reported it
    latency_s: float = 0.0
    attempts: int = 1
    error: str | None = None
    finish_reason: str | None = None
    retries: list[Retry] = field(default_factory=list)
    child: SessionNode | None = None

    @property
    def title(self) -> str:
        number = self.node_id.rsplit(".q", 1)[-1]
        title = f"{self.kind} q{number}"
        if self.batch_size > 1:
            title += f" [{self.batch_index + 1}/{self.batch_size}]"
        return title

    @property
    def children(self) -> list[Node]:
        return list(self.child.iterations) if self.child is not None else []

    @property
    def retry_count(self) -> int:
        return max(len(self.retries), self.attempts - 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "kind": self.kind, "model": self.model,
            "status": self.status, "stopped_by": self.stopped_by, "prompt": self.prompt,
            "prompt_chars": self.prompt_chars, "response": self.response,
            "depth": self.depth, "batch_index": self.batch_index,
            "batch_size": self.batch_size, "usage": usage_dict(self.usage),
            "child_usage": usage_dict(self.child_usage) if self.child_usage else None,
            "rollup": self.tally.to_dict(),
            "latency_s": self.latency_s, "attempts": self.attempts, "error": self.error,
            "finish_reason": self.finish_reason, "cut": self.cut,
            "retries": [r.to_dict() for r in self.retries],
            "child": self.child.to_dict() if self.child else None,
        }


@dataclass(eq=False, kw_only=True, slots=True)
class ToolCallNode(Node):
    """One call of a host tool made from a cell: no model call, so no usage of its own."""

    kind: NodeKind = "tool"
    name: str
    arguments: str  # JSON text {"args": [...], "kwargs": {...}}
    arguments_chars: int = 0
    result: str = ""  # JSON text
    result_chars: int = 0
    seconds: float = 0.0
    error: str | None = None
    recorded: bool = False  # a fork's rebuild answered it from the record

    @classmethod
    def started(cls, e: ev.ToolStarted) -> ToolCallNode:
        return cls(node_id=e.node_id, name=e.name, arguments=e.arguments,
                   arguments_chars=e.arguments_chars)

    def finish(self, e: ev.ToolFinished) -> ToolCallNode:
        self.result, self.result_chars, self.seconds = e.result, e.result_chars, e.seconds
        self.error, self.recorded = e.error, e.recorded
        self.status = "error" if e.error else "done"
        return self

    @property
    def title(self) -> str:
        return f"tool {self.name}"

    @property
    def call_text(self) -> str:
        """The call as code would write it: name(1, "a", key=[2])."""
        try:
            data = json.loads(self.arguments)
            pieces = [json.dumps(a, ensure_ascii=False) for a in data.get("args", [])]
            pieces += [f"{k}={json.dumps(v, ensure_ascii=False)}"
                       for k, v in data.get("kwargs", {}).items()]
        except (ValueError, AttributeError, TypeError):
            return f"{self.name}({self.arguments})"
        return f"{self.name}({', '.join(pieces)})"

    @property
    def shown_result(self) -> str:
        """The result for a reader: its JSON indented (when it is not too long to)."""
        if not self.result or len(self.result) > 200_000:
            return self.result
        try:
            return json.dumps(json.loads(self.result), ensure_ascii=False, indent=2)
        except ValueError:
            return self.result

    @property
    def facts(self) -> str:
        facts = ["tool", self.status, format_seconds(self.seconds)]
        if self.recorded:
            facts.append("answered from the record")
        return " · ".join(facts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "kind": self.kind, "name": self.name,
            "status": self.status, "stopped_by": self.stopped_by,
            "arguments": self.arguments, "arguments_chars": self.arguments_chars,
            "result": self.result, "result_chars": self.result_chars,
            "seconds": self.seconds, "error": self.error, "recorded": self.recorded,
        }


@dataclass(eq=False, kw_only=True, slots=True)
class CellNode(Node):
    """One code block the root model wrote, and what running it gave."""

    kind: NodeKind = "cell"
    index: int
    code: str
    stdout: str = ""
    stdout_total_chars: int = 0
    stderr: str = ""
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0
    worker_restarted: bool = False
    final_answer: str | None = None
    subcalls: list[SubCallNode] = field(default_factory=list)
    tools: list[ToolCallNode] = field(default_factory=list)  # host tool calls
    held: str | None = None  # why it was held for a person's approval (--approve)
    decision: ev.CellDecision | None = None  # approved, edited or skipped; None: undecided
    ran_code: str | None = None  # the person's edit, the code that ran instead of `code`
    rebuild_differs: str | None = None  # a fork's rebuilt cell whose output changed

    @property
    def title(self) -> str:
        return f"cell {self.index}"

    @property
    def awaiting(self) -> bool:
        """Held, and not decided yet."""
        return self.held is not None and self.decision is None and self.status == "running"

    @property
    def skipped(self) -> bool:
        return self.decision == "skipped"

    @property
    def children(self) -> list[Node]:
        if not self.tools:
            return list(self.subcalls)
        return sorted([*self.subcalls, *self.tools], key=lambda n: n.order)

    @property
    def cut_note(self) -> str | None:
        """Why the output shown is shorter than what the cell printed, if it is."""
        if self.stdout_total_chars > len(self.stdout):
            return (f"output cut: {len(self.stdout):,} of {self.stdout_total_chars:,} "
                    "characters kept")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "index": self.index, "code": self.code,
            "status": self.status, "stopped_by": self.stopped_by, "stdout": self.stdout,
            "stdout_total_chars": self.stdout_total_chars, "cut_note": self.cut_note,
            "stderr": self.stderr, "error": self.error, "error_kind": self.error_kind,
            "seconds": self.seconds, "worker_restarted": self.worker_restarted,
            "final_answer": self.final_answer, "rollup": self.tally.to_dict(),
            "held": self.held, "decision": self.decision, "ran_code": self.ran_code,
            "rebuild_differs": self.rebuild_differs,
            "subcalls": [c.to_dict() for c in self.subcalls],
            "tools": [t.to_dict() for t in self.tools],
        }


@dataclass(eq=False, kw_only=True, slots=True)
class IterationNode(Node):
    """One turn of the root model: its reasoning, its root call, and the cells it ran."""

    kind: NodeKind = "iteration"
    iteration: int
    max_iterations: int
    forced: bool = False
    turn: int = 1  # the question it works on (follow-ups: 2, 3, ...)
    rebuilt: bool = False  # a fork's copy of its parent's iteration (no model call)
    notes: list[str] = field(default_factory=list)  # a person's notes sent before its call
    # The messages the engine added to the conversation for it, in order (role, kind,
    # content): a note or the request for a final answer before its call, its output after.
    messages: list[tuple[str, str, str]] = field(default_factory=list, repr=False)
    model: str = ""
    usage: ev.Usage = NO_USAGE  # the root call's own
    latency_s: float = 0.0
    attempts: int = 1
    error: str | None = None
    finish_reason: str | None = None
    retries: list[Retry] = field(default_factory=list)
    cells: list[CellNode] = field(default_factory=list)
    parts: list[str] = field(default_factory=list, repr=False)  # the streamed text
    done_text: str | None = field(default=None, repr=False)
    rejections: list[Rejection] = field(default_factory=list)  # its answers sent back
    streamed_chars: int = 0  # of the attempt in hand, while it streams
    prompt_estimate: int | None = None  # its prompt's tokens, as the engine estimated them
    # The conversation compacted before its call (compacted events, in order).
    compactions: list[ev.Compacted] = field(default_factory=list, repr=False)

    @property
    def live_usage(self) -> ev.Usage | None:
        """While the call streams: a running estimate of its usage (its prompt, and the text
        so far by the rule of units.CHARS_PER_TOKEN), marked estimated; else None."""
        if self.status != "running" or (self.prompt_estimate is None and not self.parts):
            return None
        return ev.Usage.model_construct(
            prompt_tokens=self.prompt_estimate or 0,
            completion_tokens=self.streamed_chars // CHARS_PER_TOKEN, cost_usd=None, calls=1,
            unpriced_calls=1, unreported_calls=1)

    @property
    def title(self) -> str:
        title = "final answer (forced)" if self.forced else f"iteration {self.iteration}"
        return title if self.turn == 1 else f"turn {self.turn} · {title}"

    @property
    def children(self) -> list[Node]:
        return list(self.cells)

    @property
    def text(self) -> str:
        """The reasoning: root_done's text once it came, else the streamed text so far."""
        if self.done_text:
            return self.done_text
        return "".join(self.parts)

    @property
    def retry_count(self) -> int:
        return max(len(self.retries), self.attempts - 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "iteration": self.iteration,
            "max_iterations": self.max_iterations, "forced": self.forced,
            "turn": self.turn, "rebuilt": self.rebuilt, "notes": list(self.notes),
            "status": self.status, "stopped_by": self.stopped_by, "text": self.text,
            "model": self.model, "usage": usage_dict(self.usage),
            "rollup": self.tally.to_dict(),
            "latency_s": self.latency_s, "attempts": self.attempts, "error": self.error,
            "finish_reason": self.finish_reason, "cut": self.cut,
            "retries": [r.to_dict() for r in self.retries],
            "cells": [c.to_dict() for c in self.cells],
            "rejections": [r.to_dict() for r in self.rejections],
            "compactions": [compaction_dict(c) for c in self.compactions],
        }


@dataclass(eq=False, slots=True)
class TurnNode:
    """One question of a session: the first, or a follow-up on the same REPL."""

    turn: int
    query: str
    status: ev.SessionStatus = "running"
    answer: str | None = None
    forced: bool = False
    reason: str | None = None
    iterations: int = 0  # as its end reported
    rebuilt: bool = False  # a fork's copy of its parent's turn
    source: str = "FINAL"  # what gave its answer
    # The messages that opened it (role, kind, content): the system prompt and the question,
    # or the follow-up question.
    opening: list[tuple[str, str, str]] = field(default_factory=list)
    answer_schema: dict[str, Any] | None = None  # the shape its answer had to have
    validated: bool = False  # its answer met that shape; `value` is the validated value
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"turn": self.turn, "query": self.query, "status": self.status,
                "answer": self.answer, "forced": self.forced, "reason": self.reason,
                "iterations": self.iterations, "rebuilt": self.rebuilt,
                "answer_schema": self.answer_schema, "validated": self.validated,
                "value": self.value}


@dataclass(eq=False, kw_only=True, slots=True)
class SessionNode(Node):
    """One RLM session: the root one, or a child started by `rlm_query`."""

    kind: NodeKind = "session"
    parent_id: str | None
    query: str
    depth: int
    root_model: str
    sub_model: str
    max_iterations: int
    context: dict[str, Any] = field(default_factory=dict)
    iterations: list[IterationNode] = field(default_factory=list)
    reason: str | None = None
    answer: str | None = None
    forced: bool = False
    answer_source: str | None = None
    usage: ev.Usage | None = None  # the roll-up session_finished reported
    seconds: float | None = None
    finished_iterations: int | None = None
    turns: list[TurnNode] = field(default_factory=list)
    fork_of: dict[str, Any] | None = None  # the session and iteration it continues from

    @property
    def session_id(self) -> str:
        return self.node_id

    @property
    def children(self) -> list[Node]:
        return list(self.iterations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id, "parent_id": self.parent_id, "query": self.query,
            "depth": self.depth, "root_model": self.root_model, "sub_model": self.sub_model,
            "max_iterations": self.max_iterations, "context": self.context,
            "status": self.status, "reason": self.reason, "answer": self.answer,
            "forced": self.forced, "answer_source": self.answer_source,
            "usage": usage_dict(self.usage) if self.usage else None,
            "rollup": self.tally.to_dict(),
            "seconds": self.seconds, "fork_of": self.fork_of,
            "turns": [t.to_dict() for t in self.turns],
            "iterations": [i.to_dict() for i in self.iterations],
        }


def usage_dict(usage: ev.Usage) -> dict[str, Any]:
    # By hand: 5x faster than model_dump(), and a long session's JSON has 10,000s of these.
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "cost_usd": usage.cost_usd, "calls": usage.calls,
            "unpriced_calls": usage.unpriced_calls, "unreported_calls": usage.unreported_calls}


def compaction_dict(c: ev.Compacted) -> dict[str, Any]:
    """A compaction as exports carry it."""
    return {"reason": c.reason, "count": c.count, "replaced": c.replaced, "kept": c.kept,
            "first_iteration": c.first_iteration, "last_iteration": c.last_iteration,
            "tokens_before": c.tokens_before, "tokens_after": c.tokens_after,
            "window": c.window, "summary": c.summary, "model": c.model,
            "usage": usage_dict(c.usage), "rebuilt": c.rebuilt}
