"""The typed events every part of rlm-tui speaks: the engine emits them, the app, the headless
printer and the transcript writer subscribe, and replay feeds them back.

Each event names the node it belongs to (`node_id`, `parent_id`) in the tree
session > iteration > cell > sub-call > child session > ..., so the sub-call tree and every
cost roll-up can be rebuilt from the stream alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION = 1

# The statuses, one vocabulary for every view and format:
# - a run's state, as the controls and the status bar know it;
#   "held": a cell waits for the person's approval (--approve); its clock stands still.
RunState = Literal["starting", "running", "paused", "stepping", "held", "halted", "done",
                   "failed"]
# - how a session ended (SessionFinished), or "running" while it has not;
SessionEnd = Literal["answered", "halted", "failed"]
SessionStatus = Literal["running", "answered", "halted", "failed"]
# - the budgets a run can reach;
Budget = Literal["iterations", "cost", "tokens", "time"]
# - a node under a session (a root turn, a cell, a sub-call): "stopped" is one still in
#   flight when its session ended (a halt, a failure elsewhere), which no event finishes.
NodeStatus = Literal["running", "done", "error", "stopped"]
# - how a person decided on a held cell (--approve);
CellDecision = Literal["approved", "edited", "skipped"]
# - what put a message into the root model's conversation (the model's own replies are
#   root_done): the system prompt, the question, a follow-up question, code output, the
#   notice that no code ran, a person's note, the request for a final answer, an answer
#   sent back because it does not have the shape asked for (a schema).
MessageKind = Literal["system", "query", "follow_up", "output", "no_code", "note", "forced",
                      "rejected"]
# How approval works: no cell held, every cell, or the cells that end the run (FINAL).
ApproveMode = Literal["none", "cells", "final"]
# A reply that stopped at its cap of output tokens, not where the model chose to end: cut.
CUT_FINISH_REASONS = frozenset({"length", "max_tokens"})


class Usage(BaseModel):
    """Tokens and cost of one model call, or a sum of calls: the one usage type, from the
    model boundary (lm/) to every view. `cost_usd` sums the priced calls; `unpriced_calls`
    says how many had no price (their cost is unknown, not zero), `unreported_calls` how
    many the provider sent no token counts for (their tokens are unknown, not zero).
    `cached_tokens` (prompt tokens read from the provider's prompt cache) and
    `cache_write_tokens` (written to it: Anthropic's cache_creation) are parts of
    `prompt_tokens`, as OpenAI and litellm count them, and are priced at their own rates."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    calls: int = 0
    unpriced_calls: int = 0
    unreported_calls: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cached_share(self) -> float:
        """The part of the prompt tokens read from the cache, 0..1 (0 with no prompt)."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    @property
    def cost_known(self) -> bool:
        """False when no call had a price: the cost is unknown, not zero."""
        return not (self.calls and self.unpriced_calls == self.calls)

    @property
    def cost_complete(self) -> bool:
        """True when every call had a price (the sum is the whole cost)."""
        return self.unpriced_calls == 0

    @property
    def reported(self) -> bool:
        """True when the provider reported token counts for every call."""
        return self.unreported_calls == 0

    def __add__(self, other: Usage) -> Usage:
        # Unvalidated: the fold adds usages up every node's ancestors, and both sides are
        # valid already (5x faster than validating).
        calls = self.calls + other.calls
        unpriced = self.unpriced_calls + other.unpriced_calls
        cost: float | None = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        if calls and unpriced == calls:
            cost = None  # no call had a price: unknown, as each of them said, not $0
        return Usage.model_construct(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=cost, calls=calls, unpriced_calls=unpriced,
            unreported_calls=self.unreported_calls + other.unreported_calls,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )

    @classmethod
    def of_call(cls, prompt_tokens: int, completion_tokens: int, cost_usd: float | None,
                *, reported: bool = True, cached_tokens: int = 0,
                cache_write_tokens: int = 0) -> Usage:
        """One call's usage; `cost_usd` None: no price (unknown, and so it stays for this
        call; a sum counts it in `unpriced_calls`), `reported` False: no token counts;
        `cached_tokens` / `cache_write_tokens` the parts of `prompt_tokens` the provider
        read from / wrote to its prompt cache."""
        return cls(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                   cost_usd=cost_usd, calls=1, unpriced_calls=int(cost_usd is None),
                   unreported_calls=int(not reported), cached_tokens=cached_tokens,
                   cache_write_tokens=cache_write_tokens)


class EventBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    seq: int = 0
    ts: float = 0.0
    session_id: str
    node_id: str
    parent_id: str | None = None


class SessionStarted(EventBase):
    type: Literal["session_started"] = "session_started"
    query: str
    depth: int = 0
    root_model: str
    sub_model: str
    max_iterations: int
    context: dict[str, Any] = Field(default_factory=dict)  # summary, never file contents
    # False when the root or the sub-model has no price: the cost is unknown from the start.
    priced: bool | None = None
    # A fork: {"transcript": path, "session_id": ..., "turn": T, "iteration": K} of the
    # session it continues from the state after iteration K of turn T.
    fork_of: dict[str, Any] | None = None
    # The JSON Schema its first question's answer must match (--schema), if one was given.
    answer_schema: dict[str, Any] | None = None
    # Prompt caching of the root conversation: "markers" (cache breakpoints sent: the
    # provider needs them), "provider" (it caches by itself), "off" (--prompt-cache off).
    prompt_cache: Literal["markers", "provider", "off"] | None = None


class TurnStarted(EventBase):
    """A follow-up question on the same session and REPL: turn 2, 3, ... (turn 1 is the
    session's own query). node_id is "<session>.t<turn>", parent_id the session."""

    type: Literal["turn_started"] = "turn_started"
    turn: int
    query: str
    max_iterations: int
    rebuilt: bool = False  # a fork's copy of its parent's turn, rebuilt without model calls
    answer_schema: dict[str, Any] | None = None  # the shape its answer must have, if any


class IterationStarted(EventBase):
    type: Literal["iteration_started"] = "iteration_started"
    iteration: int
    max_iterations: int
    forced: bool = False  # the one extra turn asking for a final answer
    turn: int = 1  # the question it works on (follow-ups: 2, 3, ...)
    # A fork's copy of its parent's iteration: its reply is the recorded one (no model call,
    # no cost) and its cells ran again with sub-calls answered from their recorded responses.
    rebuilt: bool = False


class MessageAdded(EventBase):
    """A message the engine put into the root model's conversation: with root_done's text
    (the model's replies) these are the whole conversation, so a fork can continue it.
    node_id is the iteration it belongs to (a note: the one whose call it precedes), or
    the session (the opening messages, a follow-up question)."""

    type: Literal["message_added"] = "message_added"
    role: Literal["system", "user"]
    kind: MessageKind
    content: str


class NoteAdded(EventBase):
    """A person's note, queued: it reaches the root model as a user message before its next
    call (a message_added of kind "note" says when)."""

    type: Literal["note_added"] = "note_added"
    text: str


class CellHeld(EventBase):
    """A cell waits for approval before it runs (--approve); node_id is the cell."""

    type: Literal["cell_held"] = "cell_held"
    reason: str  # "every cell is held" | "it calls FINAL" | ...


class CellDecided(EventBase):
    """A person's decision on a held cell: run as written, run edited, or skip."""

    type: Literal["cell_decided"] = "cell_decided"
    decision: CellDecision
    code: str = ""  # the code that runs (the edit), or the cell's own when approved


class ModelsChanged(EventBase):
    """The root or sub-model changed for the next calls (at a pause, or a fork)."""

    type: Literal["models_changed"] = "models_changed"
    root_model: str
    sub_model: str


class ApproveModeChanged(EventBase):
    type: Literal["approve_mode_changed"] = "approve_mode_changed"
    mode: ApproveMode


class RootDelta(EventBase):
    type: Literal["root_delta"] = "root_delta"
    text: str
    restart: bool = False  # a retried stream: drop what this iteration showed so far
    # On the first delta of an attempt: its prompt's tokens by the estimate rule, so a view
    # can show a running estimate of the call (prompt, and the text so far) while it streams.
    prompt_tokens: int | None = None


class RootDone(EventBase):
    type: Literal["root_done"] = "root_done"
    text: str
    model: str
    usage: Usage
    latency_s: float
    attempts: int = 1
    error: str | None = None
    finish_reason: str | None = None  # as the provider said: "stop", "length" (cut), ...
    # Why the call was stopped mid-reply (a halt, a budget): it ends "stopped", and its usage
    # is an estimate of its prompt and of what it had streamed (`usage.reported` False).
    stopped: str | None = None


class CellStarted(EventBase):
    type: Literal["cell_started"] = "cell_started"
    index: int
    code: str


class CellFinished(EventBase):
    type: Literal["cell_finished"] = "cell_finished"
    stdout: str = ""
    stdout_total_chars: int = 0
    stderr: str = ""
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0
    worker_restarted: bool = False
    final_answer: str | None = None
    skipped: bool = False  # a held cell the person skipped: it did not run
    # A fork's rebuilt cell whose output differs from the recorded run's (time, randomness):
    # what differs. The fork goes on.
    rebuild_differs: str | None = None


class SubcallStarted(EventBase):
    type: Literal["subcall_started"] = "subcall_started"
    kind: Literal["llm", "rlm"]
    model: str
    prompt: str
    prompt_chars: int
    depth: int
    batch_index: int = 0
    batch_size: int = 1


class SubcallRetry(EventBase):
    type: Literal["subcall_retry"] = "subcall_retry"
    attempt: int
    reason: str
    wait_s: float


class SubcallFinished(EventBase):
    """`usage` is this call's own; summing it over root_done and subcall_finished events
    gives the run's total. A child session's own calls are its own events, so its node has
    zero usage here and the child's roll-up in `child_usage`."""

    type: Literal["subcall_finished"] = "subcall_finished"
    model: str
    response: str = ""
    usage: Usage = Usage()
    child_usage: Usage | None = None
    latency_s: float = 0.0
    attempts: int = 1
    error: str | None = None
    finish_reason: str | None = None
    stopped: str | None = None  # as for root_done: stopped mid-reply, its usage estimated


class ToolStarted(EventBase):
    """Model code called a host tool (node_id "<cell>.tool<n>", parent_id the cell). The
    tool runs in the host process; only JSON crossed from the worker."""

    type: Literal["tool_started"] = "tool_started"
    name: str
    # JSON text {"args": [...], "kwargs": {...}}, whole: a call's arguments are at most
    # sandbox.namespace.MAX_TOOL_JSON_CHARS characters.
    arguments: str
    arguments_chars: int = 0


class ToolFinished(EventBase):
    """A tool call's end. `result` is its JSON text, kept whole (it is capped at
    MAX_TOOL_JSON_CHARS before it crosses, and a fork answers the call from it); `error` the
    one line the cell saw instead (the tool raised, hung past the cell's time, or returned
    what JSON cannot carry or the cap allow)."""

    type: Literal["tool_finished"] = "tool_finished"
    name: str
    result: str = ""
    result_chars: int = 0
    seconds: float = 0.0
    error: str | None = None
    recorded: bool = False  # a fork's rebuild answered it from the record: no host call


class StateChanged(EventBase):
    type: Literal["state_changed"] = "state_changed"
    state: RunState
    reason: str | None = None


class BudgetExceeded(EventBase):
    type: Literal["budget_exceeded"] = "budget_exceeded"
    budget: Budget
    limit: float
    value: float


class CoverageUpdated(EventBase):
    type: Literal["coverage_updated"] = "coverage_updated"
    coverage: dict[str, Any]


class AnswerRejected(EventBase):
    """An answer without the shape its question asked for (a schema): it went back to the
    root model with the errors and the run went on (at the iteration limit, the run ended
    without an answer). node_id is the iteration whose reply gave it."""

    type: Literal["answer_rejected"] = "answer_rejected"
    answer: str
    errors: list[str]
    source: str = "FINAL"
    forced: bool = False
    turn: int = 1
    rebuilt: bool = False  # a fork's copy of its parent's rejection


class Compacted(EventBase):
    """The root conversation was compacted before the call of iteration node_id: its older
    messages (`replaced` of them, iterations `first_iteration`..`last_iteration`) gave way
    to a summary the root model wrote (`summary`; its call's `usage`, counted by budgets).
    The system prompt, the first question and the newest exchange stay; the full history is
    the REPL variable `history`. `reason`: "threshold" (the conversation would pass
    compact_at of the window), "context_window" (the server refused the prompt), or
    "no_window": said once, the window of `model` is not known, so no compaction (nothing
    replaced). A summary call stopped by a halt: its usage, nothing replaced."""

    type: Literal["compacted"] = "compacted"
    reason: Literal["threshold", "context_window", "no_window"] = "threshold"
    count: int = 1  # the session's compactions so far, this one included
    replaced: int = 0  # messages replaced by the summary
    first_iteration: int | None = None
    last_iteration: int | None = None
    kept: int = 0  # messages kept at the end (the newest exchange)
    tokens_before: int = 0  # the conversation's estimate before and after
    tokens_after: int = 0
    window: int | None = None
    summary: str = ""
    model: str = ""
    usage: Usage = Usage()
    latency_s: float = 0.0
    rebuilt: bool = False  # a fork's copy of its parent's compaction (no model call)


class FinalAnswer(EventBase):
    type: Literal["final_answer"] = "final_answer"
    answer: str
    forced: bool = False
    source: str = "FINAL"
    turn: int = 1
    # With a schema: the answer met it, and `value` is the validated value as JSON data.
    validated: bool = False
    value: Any = None


class SessionFinished(EventBase):
    type: Literal["session_finished"] = "session_finished"
    status: SessionEnd
    reason: str | None = None
    answer: str | None = None
    forced: bool = False
    iterations: int = 0
    sub_calls: int = 0
    usage: Usage = Usage()
    seconds: float = 0.0
    turn: int = 1  # the turn that ended (a follow-up question ends its own turn)
    rebuilt: bool = False  # a fork's copy of its parent's turn end (no run ended here)


Event = Annotated[
    Union[
        SessionStarted, IterationStarted, RootDelta, RootDone, CellStarted, CellFinished,
        SubcallStarted, SubcallRetry, SubcallFinished, StateChanged, BudgetExceeded,
        CoverageUpdated, FinalAnswer, SessionFinished, TurnStarted, MessageAdded, NoteAdded,
        CellHeld, CellDecided, ModelsChanged, ApproveModeChanged, AnswerRejected, ToolStarted,
        ToolFinished, Compacted,
    ],
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

Subscriber = Callable[[Any], None]


def parse_event(data: str | bytes | dict[str, Any]) -> Event:
    """One event from its JSON text or dict (raises pydantic.ValidationError if foreign)."""
    if isinstance(data, dict):
        return EVENT_ADAPTER.validate_python(data)
    return EVENT_ADAPTER.validate_json(data)


class EventBus:
    """One stream of events: stamps each with `seq` and `ts`, hands it to every subscriber.

    Subscribers are called in order, synchronously, and must be quick; one that raises is
    reported once to `on_error` and dropped, so a broken view never stops a run.
    """

    def __init__(self, on_error: Callable[[Subscriber, BaseException], None] | None = None):
        self._subscribers: list[Subscriber] = []
        self._seq = 0
        self._on_error = on_error

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    def emit(self, event: EventBase) -> EventBase:
        self._seq += 1
        stamped = event.model_copy(update={"seq": self._seq, "ts": time.time()})
        for subscriber in list(self._subscribers):
            try:
                subscriber(stamped)
            except Exception as exc:  # a view's bug must not stop the run
                self.unsubscribe(subscriber)
                if self._on_error is not None:
                    self._on_error(subscriber, exc)
        return stamped
