"""An RLM session: the root model's loop over its REPL, and the sub-calls its code makes.

A session owns its REPL (a sandbox worker) and its conversation. It answers one question per
turn: the first when it opens, then follow-up questions on the same REPL (`ask`), until it is
closed. Everything is reported as events (rlm_tui.events); the engine knows nothing of
Textual. A run (engine/run.py) owns the root session and the controls, ledger and limits its
child sessions share.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from rlm_tui import events as ev
from rlm_tui.engine import prompts
from rlm_tui.engine.answer_schema import AnswerSchema, jsonable
from rlm_tui.engine.compaction import Compactor
from rlm_tui.engine.control import CallMeter
from rlm_tui.engine.conversation import Conversation
from rlm_tui.engine.parsing import ProseFinal, code_blocks, prose_final
from rlm_tui.engine.run_context import Outcome, RunContext
from rlm_tui.lm import ModelCallError, RetryInfo
from rlm_tui.engine.code_calls import EVENT_TEXT_CHARS, CodeCalls
from rlm_tui.lm.completion import estimated_tokens
from rlm_tui.lm.prompt_cache import prompt_cache_mode
from rlm_tui.sandbox import CellResult, Sandbox, SubcallRequest, ToolRequest

SubcallHandler = Callable[[SubcallRequest], Awaitable[str]]
ToolHandler = Callable[[ToolRequest], Awaitable[str]]


class Session(CodeCalls):
    """The root model's loop at one depth, over one REPL worker, one turn per question."""

    def __init__(self, run: Any, query: str, context: RunContext, *, depth: int,
                 session_id: str, parent_id: str | None = None) -> None:
        self.owner = run  # engine.run.Run: its settings, client, bus, control and ledger
        self.query = query
        self.context = context
        self.depth = depth
        self.id = session_id
        self.parent_id = parent_id
        self.turn = 1
        self.iterations = 0  # in the turn in hand
        self.usage = ev.Usage()  # this session and everything under it
        self.conversation = Conversation(self._message_added)
        self.compactor = Compactor(self)
        self.sandbox: Sandbox | None = None
        # The shape the turn's answer must have (the root's questions only), and the one
        # the system prompt shows.
        self.schema: AnswerSchema | None = None
        self.shown_schema: AnswerSchema | None = None
        self._sandbox_started = False
        self._opened_at = 0.0
        self._counters: dict[str, itertools.count] = {}
        # The estimated prompt of the last root call, when the provider reported reading or
        # writing its cache for it: the next root call repeats it, and is metered as cached.
        self._cached_prefix = 0

    # -- events --------------------------------------------------------------------------

    def emit(self, event_type: type[ev.EventBase], node_id: str, parent_id: str | None,
             **fields: Any) -> None:
        self.owner.bus.emit(event_type(session_id=self.id, node_id=node_id,
                                     parent_id=parent_id, **fields))

    def _message_added(self, node_id: str, role: str, kind: ev.MessageKind,
                       content: str) -> None:
        parent = self.parent_id if node_id == self.id else self.id
        self.emit(ev.MessageAdded, node_id, parent, role=role, kind=kind, content=content)

    def _next(self, key: str) -> int:
        return next(self._counters.setdefault(key, itertools.count(1)))

    def iteration_node(self, iteration: int, turn: int | None = None) -> str:
        turn = self.turn if turn is None else turn
        return f"{self.id}.i{iteration}" if turn == 1 else f"{self.id}.t{turn}.i{iteration}"

    @property
    def facts(self) -> prompts.PromptFacts:
        s = self.owner.settings
        return prompts.PromptFacts(
            context_kind=self.context.kind, metadata=self.context.metadata,
            max_iterations=s.max_iterations, depth=self.depth, max_depth=s.max_depth,
            cell_timeout=s.cell_timeout, output_chars=s.model_output_chars,
            max_cost=s.max_cost, max_tokens=s.max_tokens, max_time=s.max_time,
            answer_shape=self.schema.describe() if self.schema is not None else None,
            tools=self.owner.tools.describe() if self.owner.tools else "")

    # -- opening, turns, closing ---------------------------------------------------------

    async def run(self) -> Outcome:
        """Open, answer the session's question, close: a child session's whole life."""
        self.open()
        try:
            return await self.first_turn()
        finally:
            await self.close()

    def open(self, *, fork_of: dict[str, Any] | None = None,
             opening: bool = True) -> None:
        """Report the session and create its REPL (started by the first turn's loop, where a
        halt can stop it). `opening`: put the system prompt and the question in the
        conversation (a fork puts its parent's instead)."""
        root_spec = self.owner.spec(self.depth)
        sub_spec = self.owner.spec(self.depth + 1)
        client = self.owner.client
        self.emit(ev.SessionStarted, self.id, self.parent_id, query=self.query,
                  depth=self.depth, root_model=root_spec.model, sub_model=sub_spec.model,
                  max_iterations=self.owner.settings.max_iterations,
                  context=self.context.summary, fork_of=fork_of,
                  priced=client.is_priced(root_spec) and client.is_priced(sub_spec),
                  prompt_cache=prompt_cache_mode(self.owner.settings.prompt_cache,
                                                 root_spec.model),
                  answer_schema=self.schema.json_schema if self.schema is not None else None)
        self.shown_schema = self.schema
        self._opened_at = self._running_clock()
        ready = self.owner.take_worker(self.context) if self.depth == 0 else None
        self.sandbox = ready or Sandbox(self.context.value, limits=self.owner.limits,
                                        tools=self.owner.tool_names)
        self._sandbox_started = ready is not None
        if opening:
            facts = self.facts
            self.conversation.add(self.id, "system", "system", prompts.system_prompt(facts))
            self.conversation.add(self.id, "user", "query",
                                  prompts.first_message(self.query, facts))

    async def first_turn(self) -> Outcome:
        return await self.run_turn(self._loop)

    async def ask(self, query: str, schema: AnswerSchema | None = None) -> Outcome:
        """A follow-up question on the same REPL and conversation: the next turn; `schema`:
        the shape its answer must have."""
        self.turn += 1
        self.iterations = 0
        self.schema = schema
        max_iterations = self.owner.settings.max_iterations
        self.emit(ev.TurnStarted, f"{self.id}.t{self.turn}", self.id, turn=self.turn,
                  query=query, max_iterations=max_iterations,
                  answer_schema=schema.json_schema if schema is not None else None)
        shape = None
        if schema is not self.shown_schema:  # what the system prompt says does not hold
            shape = schema.describe() if schema is not None else prompts.FREE_ANSWER
        message = prompts.follow_up_message(query, max_iterations, shape)
        if self._sandbox_started and self.sandbox is not None and not self.sandbox.alive:
            message += ("\n\n[the REPL was stopped when the last question was halted: it "
                        "starts again empty, and your variables are gone]")
        self.conversation.add(self.id, "user", "follow_up", message)
        ledger = self.owner.ledger
        if ledger.exceeded is not None:  # cost, tokens and time count across the session
            reason = (f"the session's {ledger.exceeded} budget is already used up: "
                      "no model call was made")

            async def used_up() -> Outcome:
                return Outcome("halted", reason=reason)

            return await self.run_turn(used_up)
        return await self.run_turn(self._loop)

    async def continue_turn(self, first: int) -> Outcome:
        """The turn in hand from iteration `first` on (a fork goes on after K)."""
        return await self._loop(first)

    async def run_turn(self, body: Callable[[], Awaitable[Outcome]]) -> Outcome:
        """Run one turn's loop to its end (answered, halted or failed) and report it; never
        raises for model errors. A halt below the root is re-raised to reach the root."""
        task = asyncio.create_task(body())
        if self.depth == 0:
            self.owner.control.watch(task)
        try:
            outcome = await task
        except asyncio.CancelledError:
            if not self.owner.control.halted:
                raise
            outcome = Outcome("halted", reason=self.owner.control.halt_reason,
                              iterations=self.iterations)
            if self.depth > 0:  # the halt must reach the root's loop, not stop here
                self._finish(outcome)
                raise
        except ModelCallError as exc:
            outcome = Outcome("failed", reason=str(exc), iterations=self.iterations,
                              error_kind=str(exc.kind))
        except Exception as exc:  # the sandbox failed to start, or a bug: end cleanly
            outcome = Outcome("failed", reason=f"{type(exc).__name__}: {exc}",
                              iterations=self.iterations)
        outcome.turn = self.turn
        self._finish(outcome)
        return outcome

    async def close(self) -> None:
        if self.sandbox is not None:
            await asyncio.shield(self.sandbox.close())

    async def start_sandbox(self) -> None:
        if not self._sandbox_started:
            assert self.sandbox is not None
            await self.sandbox.start()
            self._sandbox_started = True

    def _running_clock(self) -> float:
        # Paused time does not count: the status bar's clock, the transcript's and every
        # export's time agree (an export said 65.2 s where the bar said 00:39).
        return self.owner.control.running_clock()

    def _finish(self, outcome: Outcome) -> None:
        if outcome.answer is not None:
            validated = self.schema is not None and outcome.status == "answered"
            self.emit(ev.FinalAnswer, self.id, self.parent_id, answer=outcome.answer,
                      forced=outcome.forced, turn=self.turn, validated=validated,
                      value=jsonable(outcome.value) if validated else None)
        self.emit(ev.SessionFinished, self.id, self.parent_id, status=outcome.status,
                  reason=outcome.reason, answer=outcome.answer, forced=outcome.forced,
                  iterations=outcome.iterations, sub_calls=self.owner.ledger.sub_calls
                  if self.depth == 0 else 0, usage=self.usage,
                  seconds=self._running_clock() - self._opened_at, turn=self.turn)
        if self.depth == 0:
            state = {"answered": "done", "halted": "halted", "failed": "failed"}[outcome.status]
            self.owner.control.finish(state, outcome.reason)

    async def _loop(self, first: int = 1) -> Outcome:
        settings = self.owner.settings
        control = self.owner.control
        root = self.depth == 0
        conversation = self.conversation
        await self.start_sandbox()
        if root:
            control.mark_running()
        for iteration in range(first, settings.max_iterations + 1):
            await control.before_iteration(root=root)
            self.iterations = iteration
            node = self.iteration_node(iteration)
            self.emit(ev.IterationStarted, node, self.id, iteration=iteration,
                      max_iterations=settings.max_iterations, turn=self.turn)
            conversation.deliver_notes(node)
            reply, _ = await self._root_call(node)
            conversation.reply(reply, node)
            blocks = code_blocks(reply)
            errors: list[str] | None = None  # an answer's, rejected (with a schema)
            outputs = []
            if not blocks:
                final = prose_final(reply)
                answer = None if final is None else await self._final_answer(final)
                if final is not None and answer is not None:
                    value, errors = self._judge(answer, node, final.source)
                    if not errors:
                        return Outcome("answered", answer=answer, iterations=iteration,
                                       value=value)
                else:
                    conversation.add(node, "user", "no_code", prompts.no_code_message(
                        iteration, settings.max_iterations))
            holds = self.owner.hold_reasons(blocks) if root else [None] * len(blocks)
            for index, code in enumerate(blocks, 1):
                result, shown = await self._steered_cell(code, node, index, holds[index - 1])
                if result.final_answer is not None:
                    value, errors = self._judge(result.final_answer, node,
                                                result.final_source or "FINAL")
                    if not errors:
                        return Outcome("answered", answer=result.final_answer,
                                       iterations=iteration, value=value)
                    outputs.append(shown)
                    break  # the cells after an answer do not run, accepted or not
                outputs.append(shown)
            if errors:
                conversation.add(node, "user", "rejected", prompts.rejected_message(
                    errors, outputs, iteration, settings.max_iterations))
            elif blocks:
                conversation.add(node, "user", "output", prompts.output_message(
                    outputs, iteration, settings.max_iterations))
            control.after_iteration(root=root)
        return await self._forced_answer()

    async def _forced_answer(self) -> Outcome:
        """At the iteration limit: ask once for the best answer; no more code runs, but a
        FINAL_VAR naming an existing variable is honoured. A reply with no FINAL is the
        answer; one whose FINAL_VAR names no variable gives none (its text is not one)."""
        max_iterations = self.owner.settings.max_iterations
        self.emit(ev.BudgetExceeded, self.id, self.parent_id, budget="iterations",
                  limit=float(max_iterations), value=float(max_iterations))
        iteration = max_iterations + 1
        node = self.iteration_node(iteration)
        self.emit(ev.IterationStarted, node, self.id, iteration=iteration,
                  max_iterations=max_iterations, forced=True, turn=self.turn)
        self.conversation.add(node, "user", "forced", prompts.forced_final_message(
            shaped=self.schema is not None))
        reply, cut = await self._root_call(node)
        self.conversation.reply(reply, node)
        final = prose_final(reply.replace("```", "\n"))
        if final is None and cut:  # what it would have said is not known
            reason = (f"out of iterations ({max_iterations}), and the reply asked for a final "
                      "answer was cut off at its cap of output tokens, with no FINAL in it")
            return Outcome("halted", forced=True, reason=reason, iterations=max_iterations)
        if final is None:
            answer: str | None = reply.strip()
        else:
            answer = await self._final_answer(final)
        if answer is None:  # its text is no answer: it names a variable to give instead
            assert final is not None
            reason = (f"out of iterations ({max_iterations}), and the last reply's "
                      f"FINAL_VAR({final.variable!r}) names no variable")
            return Outcome("halted", forced=True, reason=reason, iterations=max_iterations)
        value, errors = self._judge(answer, node, final.source if final else "FINAL",
                                    forced=True)
        if errors:
            reason = (f"out of iterations ({max_iterations}), and the answer given then does "
                      f"not match the schema: {'; '.join(errors)}")
            return Outcome("halted", forced=True, reason=reason, iterations=max_iterations)
        return Outcome("answered", answer=answer, forced=True, iterations=max_iterations,
                       value=value)

    def _judge(self, answer: str, node: str, source: str, *,
               forced: bool = False) -> tuple[Any, list[str]]:
        """The answer checked against the turn's schema: its validated value and no errors,
        or (reported as answer_rejected) the errors; (None, []) without a schema."""
        if self.schema is None:
            return None, []
        check = self.schema.check(answer)
        if check.errors:
            self.emit(ev.AnswerRejected, node, self.id, answer=answer[:EVENT_TEXT_CHARS],
                      errors=check.errors, source=source, forced=forced, turn=self.turn)
        return check.value, check.errors

    async def _final_answer(self, final: ProseFinal) -> str | None:
        """The answer a FINAL or FINAL_VAR written in prose gives; None for a FINAL_VAR that
        names no variable."""
        if final.variable is None:
            return final.answer
        assert self.sandbox is not None
        result = await self.sandbox.run_cell(f"FINAL_VAR({final.variable!r})")
        return result.final_answer

    # -- model calls ---------------------------------------------------------------------

    async def _root_call(self, node: str) -> tuple[str, bool]:
        """The root model's reply, and whether it was cut off at its cap of output tokens;
        the conversation compacted first when it nears its window (engine/compaction.py),
        or when the server refuses it for its length (then asked once more)."""
        await self.compactor.before_call(node)
        try:
            return await self._root_request(node)
        except ModelCallError as exc:
            if not await self.compactor.after_refusal(node, exc):
                raise
        return await self._root_request(node)

    async def _root_request(self, node: str) -> tuple[str, bool]:
        spec = self.owner.spec(self.depth)
        messages = list(self.conversation.messages)
        meter, spec = self._metered(spec, messages, cached_tokens=self._cached_prefix)
        first = [True]

        def on_delta(text: str) -> None:
            meter.add(text)
            if first[0]:  # the prompt's estimate, for a view's running count
                first[0] = False
                self.emit(ev.RootDelta, node, self.id, text=text,
                          prompt_tokens=meter.prompt_tokens)
            else:
                self.emit(ev.RootDelta, node, self.id, text=text)

        def on_retry(info: RetryInfo) -> None:
            self.emit(ev.SubcallRetry, node, self.id, attempt=info.attempt,
                      reason=info.reason, wait_s=info.wait_s)
            if info.discarded_output:
                meter.restart()
                first[0] = True
                self.emit(ev.RootDelta, node, self.id, text="", restart=True)

        try:
            done = await self.owner.client.complete(
                spec, messages, on_delta=on_delta, on_retry=on_retry,
                cache_prefix=self.owner.settings.prompt_cache == "auto")
        except ModelCallError as exc:
            meter.done()
            self.emit(ev.RootDone, node, self.id, text="", model=spec.model, usage=ev.Usage(),
                      latency_s=0.0, error=str(exc))
            raise
        except asyncio.CancelledError:
            usage = self._stopped_usage(meter, spec, messages)
            self.emit(ev.RootDone, node, self.id, text="", model=spec.model, usage=usage,
                      latency_s=meter.seconds, stopped=self._stop_reason())
            raise
        meter.done()
        usage = done.usage
        cached = usage.cached_tokens or usage.cache_write_tokens
        self._cached_prefix = meter.prompt_tokens if cached else 0
        self._account(usage, sub_call=False)
        self.compactor.observe(usage, len(messages))
        self.emit(ev.RootDone, node, self.id, text=done.text, model=done.model, usage=usage,
                  latency_s=done.latency_s, attempts=done.attempts,
                  finish_reason=done.finish_reason)
        return done.text, done.finish_reason in ev.CUT_FINISH_REASONS

    def _metered(self, spec: Any, messages: list[Any], *,
                 cached_tokens: int = 0) -> tuple[CallMeter, Any]:
        """A meter for a call about to be made (its running count held against the budgets),
        and its spec asking for no more than the budgets leave (Ledger.reply_cap);
        `cached_tokens` of its prompt are expected from the provider's cache."""
        client = self.owner.client
        prompt_tokens, _ = estimated_tokens(messages, 0)
        share = min(1.0, cached_tokens / prompt_tokens) if prompt_tokens else 0.0
        prices = (client.token_prices(spec, cached_share=share)
                  if self.owner.ledger.max_cost is not None else None)
        meter = CallMeter(self.owner.ledger, prompt_tokens, prices)
        cap = spec.params.get("max_tokens")
        allowed = self.owner.ledger.reply_cap(cap, prompt_tokens, prices)
        if allowed is not None and allowed != cap:
            spec = spec.model_copy(update={"params": {**spec.params, "max_tokens": allowed}})
        return meter, spec

    def _stopped_usage(self, meter: CallMeter, spec: Any, messages: list[Any]) -> ev.Usage:
        """A call stopped mid-reply: what it streamed, estimated and priced, counted (the
        halt under way is not checked again)."""
        meter.done()
        usage = self.owner.client.estimated_usage(spec, messages, meter.chars)
        self.usage = self.usage + usage
        self.owner.ledger.add(usage, sub_call=False, check=False)
        return usage

    def _stop_reason(self) -> str:
        return self.owner.control.halt_reason or "stopped"

    def _account(self, usage: ev.Usage, *, sub_call: bool) -> None:
        self.usage = self.usage + usage
        self.owner.ledger.add(usage, sub_call=sub_call)

    # -- cells and their sub-calls -------------------------------------------------------

    async def _steered_cell(self, code: str, node: str, index: int,
                            hold: str | None) -> tuple[CellResult, str]:
        """Run one cell of the model's reply, held first for a person's decision when
        `hold` says why; returns its result and the output as the model is told it."""
        if self.owner.control.halted:  # a budget passed as the reply ended: no cell starts
            raise asyncio.CancelledError
        cell = f"{node}.c{index}"
        self.emit(ev.CellStarted, cell, node, index=index, code=code)
        decision: ev.CellDecision = "approved"
        ran = code
        if hold is not None:
            decision, ran = await self.owner.hold_cell(self, cell, node, code, hold)
        if decision == "skipped":
            result = CellResult()
            self.emit(ev.CellFinished, cell, node, skipped=True)
            return result, prompts.skipped_output()
        result = await self.run_cell(ran, cell, node)
        shown = result.for_model(self.owner.settings.model_output_chars)
        if decision == "edited":
            shown = prompts.edited_output(ran, shown)
        return result, shown

    async def run_cell(self, code: str, cell: str, node: str, *,
                       on_subcall: SubcallHandler | None = None,
                       on_tool: ToolHandler | None = None,
                       compare: Callable[[CellResult], str | None] | None = None) -> CellResult:
        """Run code in the REPL as cell `cell` of iteration `node`, its sub-calls answered by
        the models and its tool calls by the run's tools (or by `on_subcall` and `on_tool`:
        a fork's rebuild answers them from the record)."""
        assert self.sandbox is not None

        async def to_models(request: SubcallRequest) -> str:
            return await self._subcall(request, cell)

        async def to_tools(request: ToolRequest) -> str:
            return await self._tool_call(request, cell)

        result = await self.sandbox.run_cell(code, on_subcall=on_subcall or to_models,
                                             on_tool=on_tool or to_tools)
        self.emit(ev.CellFinished, cell, node, stdout=result.stdout,
                  stdout_total_chars=result.stdout_total_chars, stderr=result.stderr,
                  error=result.error, error_kind=result.error_kind, seconds=result.seconds,
                  worker_restarted=result.worker_restarted, final_answer=result.final_answer,
                  rebuild_differs=compare(result) if compare is not None else None)
        coverage = self.context.coverage
        if coverage is not None and (result.coverage.get("read") or result.subcalls):
            if result.coverage:
                coverage.add_worker_delta(result.coverage)
            await self.owner.record_sent_prompts(coverage)
            self.emit(ev.CoverageUpdated, cell, node, coverage=coverage.to_dict())
        return result
