"""The event stream as OpenTelemetry spans, parented as the session tree is:

    invoke_agent rlm-tui            a session (a child session under its rlm_query sub-call)
      turn N                        a question (1: the session's own, 2...: follow-ups)
        iteration N                 from its start to the next one's, or the turn's end
          chat <root model>         the root model's call (IterationStarted .. RootDone)
          cell N                    a code cell
            chat <sub-model>        an llm_query sub-call
            rlm_query <model>       an rlm_query sub-call, over its child session
            execute_tool <name>     a host tool call

Each span starts and ends at its events' own timestamps. Attributes follow the GenAI semantic
conventions (gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
gen_ai.response.model, gen_ai.usage.input_tokens / output_tokens, ...) plus rlm_tui.* for
what they have no name for (cost, status, depth). Prompts, code, outputs and answers are
attributes only with `content=True` (--otel-content), capped at CONTENT_CHARS each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from rlm_tui import events as ev

AGENT_NAME = "rlm-tui"
CONTENT_CHARS = 32_768
# litellm's provider prefixes whose names the GenAI conventions spell otherwise.
_PROVIDERS = {
    "gemini": "gcp.gemini", "vertex_ai": "gcp.vertex_ai", "bedrock": "aws.bedrock",
    "azure": "azure.ai.openai", "azure_ai": "azure.ai.inference", "mistral": "mistral_ai",
    "xai": "x_ai", "watsonx": "ibm.watsonx.ai",
}


def provider_name(model: str) -> str:
    """gen_ai.provider.name for a litellm model name: its prefix (openai/..., anthropic/...),
    as the conventions name the well-known ones; a bare name is OpenAI's, as litellm takes it."""
    prefix, sep, _ = model.partition("/")
    if not sep:
        return "demo" if model == "demo" else "openai"
    return _PROVIDERS.get(prefix, prefix)


def _ns(ts: float) -> int | None:
    return int(ts * 1e9) if ts else None


def _messages(role: str, text: str, finish_reason: str | None = None) -> str:
    """gen_ai.input.messages / gen_ai.output.messages: one message of one text part."""
    message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": text}]}
    if finish_reason is not None:
        message["finish_reason"] = finish_reason
    return json.dumps([message], ensure_ascii=False)


@dataclass
class _Open:
    span: Any
    session: str  # the session it belongs to
    kind: str


class SpanWriter:
    """A subscriber of the event bus that turns a session's events into spans on `tracer`.

    Quick per event (a dict lookup; streamed text deltas are ignored), never raising for an
    event whose node it has not seen (it is parented to its session, or starts a trace)."""

    def __init__(self, tracer: Any, *, content: bool = False) -> None:
        self._tracer = tracer
        self._content = content
        self._open: dict[str, _Open] = {}
        self._iteration: dict[str, str] = {}  # session -> its iteration in hand
        self._models: dict[str, str] = {}  # session -> its root model
        self._ended: dict[str, ev.SessionFinished] = {}  # root sessions' last turn end
        self._children: set[str] = set()  # child sessions (rlm_query's): one turn each
        self._last_ts = 0.0
        self.spans_started = 0

    # -- the stream ----------------------------------------------------------------------

    def __call__(self, event: ev.EventBase) -> None:
        handler = _HANDLERS.get(getattr(event, "type", ""))
        if handler is None:
            return
        if event.ts:
            self._last_ts = event.ts
        handler(self, event)

    def close(self) -> None:
        """End every span still open: a root session (open for follow-ups) at its last turn's
        end, anything else in flight as stopped, at the last event's time."""
        for node_id in sorted(self._open, key=len, reverse=True):
            held = self._open.pop(node_id)
            finished = self._ended.get(node_id) if held.kind == "session" else None
            if finished is not None:
                self._end_session(held.span, finished)
            else:
                held.span.set_attribute("rlm_tui.status", "stopped")
            held.span.end(end_time=_ns(finished.ts if finished else self._last_ts))

    # -- spans ---------------------------------------------------------------------------

    def _start(self, node_id: str, session: str, kind: str, name: str, parent: str | None,
               ts: float, attributes: dict[str, Any],
               span_kind: SpanKind = SpanKind.INTERNAL) -> Any:
        held = self._open.get(parent) if parent else None
        if held is None and parent is not None and session in self._open:
            held = self._open[session]
        context = trace.set_span_in_context(held.span) if held is not None else None
        attributes["rlm_tui.node_id"] = node_id
        attributes["rlm_tui.node"] = kind
        span = self._tracer.start_span(name, context=context, kind=span_kind,
                                       attributes=attributes, start_time=_ns(ts))
        self._open[node_id] = _Open(span, session, kind)
        self.spans_started += 1
        return span

    def _end(self, node_id: str, ts: float) -> Any:
        held = self._open.pop(node_id, None)
        if held is None:
            return None
        held.span.end(end_time=_ns(ts))
        return held.span

    def _text(self, span: Any, key: str, text: str | None) -> None:
        if self._content and text:
            span.set_attribute(key, text[:CONTENT_CHARS])

    def _span(self, node_id: str) -> Any:
        held = self._open.get(node_id)
        return held.span if held is not None else None

    # -- sessions and turns --------------------------------------------------------------

    def _session_started(self, e: ev.SessionStarted) -> None:
        self._models[e.node_id] = e.root_model
        if e.parent_id is not None:
            self._children.add(e.node_id)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENT_NAME,
            "gen_ai.conversation.id": e.node_id, "gen_ai.request.model": e.root_model,
            "gen_ai.provider.name": provider_name(e.root_model),
            "openinference.span.kind": "AGENT", "rlm_tui.depth": e.depth,
            "rlm_tui.sub_model": e.sub_model, "rlm_tui.max_iterations": e.max_iterations}
        if e.fork_of:
            attributes["rlm_tui.fork_of.session_id"] = str(e.fork_of.get("session_id", ""))
            attributes["rlm_tui.fork_of.iteration"] = int(e.fork_of.get("iteration") or 0)
        span = self._start(e.node_id, e.node_id, "session", f"invoke_agent {AGENT_NAME}",
                           e.parent_id, e.ts, attributes)
        self._text(span, "rlm_tui.query", e.query)
        self._turn(e.node_id, 1, e.query, e.max_iterations, e.ts, rebuilt=False)

    def _turn(self, session: str, turn: int, query: str, max_iterations: int, ts: float, *,
              rebuilt: bool) -> None:
        span = self._start(f"{session}.t{turn}", session, "turn", f"turn {turn}", session, ts,
                           {"rlm_tui.turn": turn, "rlm_tui.max_iterations": max_iterations,
                            "rlm_tui.rebuilt": rebuilt, "openinference.span.kind": "CHAIN"})
        self._text(span, "rlm_tui.query", query)

    def _turn_started(self, e: ev.TurnStarted) -> None:
        self._turn(e.parent_id or e.session_id, e.turn, e.query, e.max_iterations, e.ts,
                   rebuilt=e.rebuilt)

    def _session_finished(self, e: ev.SessionFinished) -> None:
        session = e.node_id
        self._end_iteration(session, e.ts)
        turn_id = f"{session}.t{e.turn}"
        # What is still in flight under the turn (a halt) ends with it, stopped: cells,
        # calls, and child sessions with all of theirs.
        prefix = session + "."
        for node_id in sorted((n for n in self._open if n.startswith(prefix)), key=len,
                              reverse=True):
            if node_id != turn_id:
                self._open[node_id].span.set_attribute("rlm_tui.status", "stopped")
                self._end(node_id, e.ts)
        turn = self._span(turn_id)
        if turn is not None:
            self._end_session(turn, e, totals=False)
            self._end(turn_id, e.ts)
        span = self._span(session)
        if span is not None:
            if session in self._children:  # one turn: the child session ends here
                self._end_session(span, e)
                self._end(session, e.ts)
            else:  # the root stays open for follow-ups; close() ends it
                self._ended[session] = e

    def _end_session(self, span: Any, e: ev.SessionFinished, *, totals: bool = True) -> None:
        """A session's or a turn's end; `totals`: the session's usage so far (a session's)."""
        span.set_attribute("rlm_tui.status", e.status)
        span.set_attribute("rlm_tui.iterations", e.iterations)
        span.set_attribute("rlm_tui.forced", e.forced)
        if totals:
            span.set_attribute("rlm_tui.sub_calls", e.sub_calls)
            _usage(span, e.usage)
        if e.reason and e.status != "answered":
            span.set_attribute("rlm_tui.reason", e.reason)
        if e.status == "failed":
            span.set_status(Status(StatusCode.ERROR, e.reason or "failed"))
        elif e.status == "answered":
            span.set_status(Status(StatusCode.OK))
        self._text(span, "rlm_tui.answer", e.answer)

    # -- iterations and the root model's calls -------------------------------------------

    def _end_iteration(self, session: str, ts: float) -> None:
        iteration = self._iteration.pop(session, None)
        if iteration is not None:
            self._end(iteration, ts)

    def _iteration_started(self, e: ev.IterationStarted) -> None:
        session = e.parent_id or e.session_id
        self._end_iteration(session, e.ts)
        self._iteration[session] = e.node_id
        self._start(e.node_id, session, "iteration", f"iteration {e.iteration}",
                    f"{session}.t{e.turn}", e.ts,
                    {"rlm_tui.iteration": e.iteration, "rlm_tui.turn": e.turn,
                     "rlm_tui.forced": e.forced, "rlm_tui.rebuilt": e.rebuilt,
                     "openinference.span.kind": "CHAIN"})
        model = self._models.get(session, "")
        self._start(f"{e.node_id}.root", session, "root_call", f"chat {model}", e.node_id,
                    e.ts, {"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                           "gen_ai.provider.name": provider_name(model),
                           "openinference.span.kind": "LLM", "rlm_tui.rebuilt": e.rebuilt},
                    SpanKind.CLIENT)

    def _root_done(self, e: ev.RootDone) -> None:
        span = self._span(f"{e.node_id}.root")
        if span is None:
            return
        _call_result(span, e.model, e.usage, e.latency_s, e.attempts, e.error, e.finish_reason)
        self._text(span, "gen_ai.output.messages",
                   _messages("assistant", e.text[:CONTENT_CHARS], e.finish_reason))
        self._end(f"{e.node_id}.root", e.ts)

    def _models_changed(self, e: ev.ModelsChanged) -> None:
        self._models[e.node_id] = e.root_model

    # -- cells, sub-calls, tools ---------------------------------------------------------

    def _cell_started(self, e: ev.CellStarted) -> None:
        span = self._start(e.node_id, e.session_id, "cell", f"cell {e.index}", e.parent_id,
                           e.ts, {"rlm_tui.cell": e.index, "openinference.span.kind": "CHAIN"})
        self._text(span, "rlm_tui.code", e.code)

    def _cell_finished(self, e: ev.CellFinished) -> None:
        span = self._span(e.node_id)
        if span is None:
            return
        span.set_attribute("rlm_tui.seconds", e.seconds)
        span.set_attribute("rlm_tui.stdout_chars", e.stdout_total_chars or len(e.stdout))
        if e.skipped:
            span.set_attribute("rlm_tui.skipped", True)
        if e.final_answer is not None:
            span.set_attribute("rlm_tui.final", True)
        if e.error:
            span.set_attribute("error.type", e.error_kind or "error")
            # The error's text may quote the data (KeyError: 'a value'): content.
            span.set_status(Status(StatusCode.ERROR, e.error[:CONTENT_CHARS]
                                   if self._content else e.error_kind or "error"))
        self._text(span, "rlm_tui.stdout", e.stdout)
        self._text(span, "rlm_tui.stderr", e.stderr)
        self._end(e.node_id, e.ts)

    def _cell_event(self, e: ev.EventBase) -> None:
        span = self._span(e.node_id)
        if span is None:
            return
        if isinstance(e, ev.CellHeld):
            span.add_event("held", {"reason": e.reason}, timestamp=_ns(e.ts))
        elif isinstance(e, ev.CellDecided):
            span.add_event("decided", {"decision": e.decision}, timestamp=_ns(e.ts))

    def _subcall_started(self, e: ev.SubcallStarted) -> None:
        attributes: dict[str, Any] = {
            "gen_ai.request.model": e.model, "gen_ai.provider.name": provider_name(e.model),
            "rlm_tui.kind": e.kind, "rlm_tui.depth": e.depth,
            "rlm_tui.prompt_chars": e.prompt_chars, "rlm_tui.batch_index": e.batch_index,
            "rlm_tui.batch_size": e.batch_size}
        if e.kind == "llm":
            attributes.update({"gen_ai.operation.name": "chat",
                               "openinference.span.kind": "LLM"})
            span = self._start(e.node_id, e.session_id, "subcall", f"chat {e.model}",
                               e.parent_id, e.ts, attributes, SpanKind.CLIENT)
        else:
            attributes["openinference.span.kind"] = "AGENT"
            span = self._start(e.node_id, e.session_id, "subcall", f"rlm_query {e.model}",
                               e.parent_id, e.ts, attributes)
        self._text(span, "gen_ai.input.messages", _messages("user", e.prompt))

    def _subcall_retry(self, e: ev.SubcallRetry) -> None:
        span = self._span(e.node_id) or self._span(f"{e.node_id}.root")
        if span is not None:
            span.add_event("retry", {"attempt": e.attempt, "reason": e.reason[:500],
                                     "wait_s": e.wait_s}, timestamp=_ns(e.ts))

    def _subcall_finished(self, e: ev.SubcallFinished) -> None:
        span = self._span(e.node_id)
        if span is None:
            return
        _call_result(span, e.model, e.usage if e.child_usage is None else e.child_usage,
                     e.latency_s, e.attempts, e.error, e.finish_reason)
        self._text(span, "gen_ai.output.messages",
                   _messages("assistant", e.response, e.finish_reason))
        self._end(e.node_id, e.ts)

    def _tool_started(self, e: Any) -> None:
        name = str(getattr(e, "name", "") or "tool")
        span = self._start(e.node_id, e.session_id, "tool", f"execute_tool {name}",
                           e.parent_id, e.ts,
                           {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
                            "gen_ai.tool.type": "function", "gen_ai.tool.call.id": e.node_id,
                            "openinference.span.kind": "TOOL"})
        self._text(span, "gen_ai.tool.call.arguments", getattr(e, "arguments", None))

    def _tool_finished(self, e: Any) -> None:
        span = self._span(e.node_id)
        if span is None:
            return
        span.set_attribute("rlm_tui.seconds", float(getattr(e, "seconds", 0.0) or 0.0))
        if getattr(e, "recorded", False):
            span.set_attribute("rlm_tui.recorded", True)
        error = getattr(e, "error", None)
        if error:
            span.set_attribute("error.type", "tool_error")
            span.set_status(Status(StatusCode.ERROR, str(error)[:CONTENT_CHARS]
                                   if self._content else "tool_error"))
        self._text(span, "gen_ai.tool.call.result", getattr(e, "result", None))
        self._end(e.node_id, e.ts)

    # -- what happens to the run as a whole ----------------------------------------------

    def _run_event(self, e: ev.EventBase) -> None:
        span = self._span(e.session_id) or self._span(e.node_id)
        if span is None:
            return
        if isinstance(e, ev.StateChanged):
            span.add_event("state", {"state": e.state, "reason": e.reason or ""},
                           timestamp=_ns(e.ts))
        elif isinstance(e, ev.BudgetExceeded):
            span.add_event("budget_exceeded", {"budget": e.budget, "limit": e.limit,
                                               "value": e.value}, timestamp=_ns(e.ts))
        elif isinstance(e, ev.NoteAdded):
            attributes = {"text": e.text[:CONTENT_CHARS]} if self._content else {}
            span.add_event("note", attributes, timestamp=_ns(e.ts))


def _usage(span: Any, usage: ev.Usage) -> None:
    if usage.calls and usage.reported:
        span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
    span.set_attribute("rlm_tui.cost_known", usage.cost_known)
    if usage.cost_known and usage.cost_usd is not None:
        span.set_attribute("rlm_tui.cost_usd", usage.cost_usd)


def _call_result(span: Any, model: str, usage: ev.Usage, latency_s: float, attempts: int,
                 error: str | None, finish_reason: str | None) -> None:
    span.set_attribute("gen_ai.response.model", model)
    _usage(span, usage)
    span.set_attribute("rlm_tui.latency_s", latency_s)
    span.set_attribute("rlm_tui.attempts", attempts)
    if finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [finish_reason])
    if error:
        span.set_attribute("error.type", error.split(":", 1)[0][:80])
        span.set_status(Status(StatusCode.ERROR, error[:500]))


_HANDLERS = {
    "session_started": SpanWriter._session_started,
    "turn_started": SpanWriter._turn_started,
    "session_finished": SpanWriter._session_finished,
    "iteration_started": SpanWriter._iteration_started,
    "root_done": SpanWriter._root_done,
    "models_changed": SpanWriter._models_changed,
    "cell_started": SpanWriter._cell_started,
    "cell_finished": SpanWriter._cell_finished,
    "cell_held": SpanWriter._cell_event,
    "cell_decided": SpanWriter._cell_event,
    "subcall_started": SpanWriter._subcall_started,
    "subcall_retry": SpanWriter._subcall_retry,
    "subcall_finished": SpanWriter._subcall_finished,
    # Host tools' events (tool_started / tool_finished), read by name: they need no import.
    "tool_started": SpanWriter._tool_started,
    "tool_finished": SpanWriter._tool_finished,
    "state_changed": SpanWriter._run_event,
    "budget_exceeded": SpanWriter._run_event,
    "note_added": SpanWriter._run_event,
}
