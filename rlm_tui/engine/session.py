"""An RLM session: the root model's loop over its REPL, and the sub-calls its code makes.

    bus = EventBus(); bus.subscribe(print)
    run = Run(settings, client, bus)
    outcome = await run.start(query, run_context)      # or run.control.pause() / step() / halt()

Everything is reported as events (rlm_tui.events); the engine knows nothing of Textual.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine import prompts
from rlm_tui.engine.control import Ledger, RunControl
from rlm_tui.engine.parsing import ProseFinal, code_blocks, prose_final
from rlm_tui.errors import ModelError
from rlm_tui.lm import ModelCallError, ModelClient, ModelSpec, RetryInfo
from rlm_tui.sandbox import Sandbox, SandboxLimits, SubcallRequest

# A sub-call's prompt and response are kept in events up to this many characters.
EVENT_TEXT_CHARS = 200_000


@dataclass
class RunContext:
    """What a session runs over, as the engine needs it.

    `value` is what the sandbox is given (a `PackContext`, a str, a mapping or None);
    `metadata` is the text the root model sees instead of the context itself.
    """

    value: Any
    kind: str  # mapping | text | none
    metadata: str
    summary: dict[str, Any] = field(default_factory=dict)
    coverage: Any = None  # context.coverage.Coverage, when the run tracks coverage

    @classmethod
    def from_value(cls, value: Any) -> RunContext:
        """A context given in code (`rlm_query(prompt, context=...)`): a str or str mapping."""
        if value is None:
            return cls(None, "none", "(no context)")
        if isinstance(value, Mapping):
            files = {str(k): str(v) for k, v in value.items()}
            sizes = sorted(files.items(), key=lambda kv: -len(kv[1]))[:10]
            lines = [f"{len(files)} entries, {sum(map(len, files.values())):,} characters"]
            lines += [f"  {k}: {len(v):,} chars" for k, v in sizes]
            return cls(files, "mapping", "\n".join(lines),
                       {"files": len(files), "chars": sum(map(len, files.values()))})
        if isinstance(value, (list, tuple)):
            value = "\n\n".join(str(v) for v in value)
        text = str(value)
        return cls(text, "text",
                   f"a str of {len(text):,} characters in {text.count(chr(10)) + 1:,} lines",
                   {"chars": len(text)})


@dataclass
class Outcome:
    status: ev.SessionEnd
    answer: str | None = None
    forced: bool = False
    reason: str | None = None
    iterations: int = 0
    error_kind: str | None = None  # for failed runs: the model error's kind


class Run:
    """One run: a root session and its children, sharing controls, ledger and limits."""

    def __init__(self, settings: Settings, client: ModelClient, bus: ev.EventBus,
                 *, start_paused: bool = False) -> None:
        if not settings.model:
            raise ModelError("no model given: pass --model (or --model demo to try it offline)")
        self.settings = settings
        self.client = client
        self.bus = bus
        self.run_id = uuid.uuid4().hex[:8]
        self._timing = False  # the run has started, with a time budget
        self._time_check: asyncio.TimerHandle | None = None  # when the time budget is up
        self.control = RunControl(self._state_changed, start_paused=start_paused)
        self.ledger = Ledger(max_cost=settings.max_cost, max_tokens=settings.max_tokens,
                             max_time=settings.max_time, on_exceeded=self._budget_exceeded,
                             paused=lambda: self.control.paused_seconds)
        self.limiter = asyncio.Semaphore(settings.max_concurrency)
        self.limits = SandboxLimits(cell_timeout=settings.cell_timeout,
                                    memory_mb=settings.memory_mb,
                                    model_output_chars=settings.model_output_chars)
        self.root: Session | None = None
        self.coverage_lock = asyncio.Lock()
        self.sent_prompts: list[str] = []  # sub-call prompts not yet matched to the context

    async def record_sent_prompts(self, coverage: Any) -> None:
        """Match the prompts sent so far to the context (in a thread: a big context's index
        takes about 1 s per 100 MB to build, the first time)."""
        async with self.coverage_lock:
            prompts, self.sent_prompts = self.sent_prompts, []
            if prompts:
                await asyncio.to_thread(lambda: [coverage.record_prompt(p) for p in prompts])

    def _state_changed(self, state: ev.RunState, reason: str | None) -> None:
        self.bus.emit(ev.StateChanged(session_id=self.run_id, node_id=self.run_id,
                                      state=state, reason=reason))
        if self._timing:  # a pause puts off the time budget's end
            self._arm_time_check()

    def _arm_time_check(self) -> None:
        """(Re)arm the time budget's check for when the running time left is up: none while
        the run is paused (paused time does not count) or over."""
        if self._time_check is not None:
            self._time_check.cancel()
            self._time_check = None
        if not self._timing or self.control.state in ("paused", "done", "halted", "failed"):
            return
        left = (self.settings.max_time or 0.0) - self.ledger.seconds
        self._time_check = asyncio.get_running_loop().call_later(max(left, 0.0),
                                                                 self._check_time)

    def _check_time(self) -> None:
        self._time_check = None
        self.ledger.check()
        if self.ledger.exceeded is None:
            self._arm_time_check()  # a hair early, by the clocks' rounding

    def _budget_exceeded(self, budget: str, limit: float, value: float) -> None:
        self.bus.emit(ev.BudgetExceeded(session_id=self.run_id, node_id=self.run_id,
                                        budget=budget, limit=limit, value=value))
        unit = {"cost": "$", "tokens": "", "time": ""}[budget]
        suffix = {"time": " s"}.get(budget, "")
        self.control.halt(f"{budget} budget reached ({unit}{value:,.4g}{suffix} of "
                          f"{unit}{limit:,.4g}{suffix})")

    def spec(self, depth: int, model: str | None = None) -> ModelSpec:
        s = self.settings
        if depth == 0 and model is None:
            name, base = s.model, s.api_base
        else:
            name, base = model or s.effective_sub_model, s.effective_sub_api_base
        return ModelSpec(model=name or "", api_base=base, timeout=s.request_timeout,
                         max_retries=s.max_retries, transport=s.transport,
                         params=s.model_params(name or "", sub=depth > 0 or model is not None))

    async def start(self, query: str, context: RunContext) -> Outcome:
        """Run to the end (answered, halted or failed); never raises for model errors."""
        self._timing = bool(self.settings.max_time)
        self._arm_time_check()
        self.root = Session(self, query, context, depth=0, session_id=self.run_id)
        index = None
        if context.coverage is not None and hasattr(context.coverage, "build_index"):
            # Build the coverage index while the root model writes its first reply.
            index = asyncio.create_task(asyncio.to_thread(context.coverage.build_index))
        try:
            return await self.root.run()
        finally:
            self._timing = False
            self._arm_time_check()  # disarmed
            if index is not None:
                await asyncio.gather(index, return_exceptions=True)


class Session:
    """The root model's loop at one depth, over one REPL worker."""

    def __init__(self, run: Run, query: str, context: RunContext, *, depth: int,
                 session_id: str, parent_id: str | None = None) -> None:
        self.owner = run
        self.query = query
        self.context = context
        self.depth = depth
        self.id = session_id
        self.parent_id = parent_id
        self.iterations = 0
        self.usage = ev.Usage()  # this session and everything under it
        self._counters: dict[str, itertools.count] = {}

    # -- events --------------------------------------------------------------------------

    def emit(self, event_type: type[ev.EventBase], node_id: str, parent_id: str | None,
             **fields: Any) -> None:
        self.owner.bus.emit(event_type(session_id=self.id, node_id=node_id,
                                     parent_id=parent_id, **fields))

    def _next(self, key: str) -> int:
        return next(self._counters.setdefault(key, itertools.count(1)))

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> Outcome:
        settings = self.owner.settings
        root_spec = self.owner.spec(self.depth)
        sub_spec = self.owner.spec(self.depth + 1)
        self.emit(ev.SessionStarted, self.id, self.parent_id, query=self.query,
                  depth=self.depth, root_model=root_spec.model, sub_model=sub_spec.model,
                  max_iterations=settings.max_iterations, context=self.context.summary,
                  priced=self.owner.client.is_priced(root_spec)
                  and self.owner.client.is_priced(sub_spec))
        started = self._running_clock()
        sandbox = Sandbox(self.context.value, limits=self.owner.limits)
        loop = asyncio.create_task(self._loop(sandbox))
        if self.depth == 0:
            self.owner.control.watch(loop)
        try:
            outcome = await loop
        except asyncio.CancelledError:
            if not self.owner.control.halted:
                raise
            outcome = Outcome("halted", reason=self.owner.control.halt_reason,
                              iterations=self.iterations)
            if self.depth > 0:  # the halt must reach the root's loop, not stop here
                self._finish(outcome, self._running_clock() - started)
                raise
        except ModelCallError as exc:
            outcome = Outcome("failed", reason=str(exc), iterations=self.iterations,
                              error_kind=str(exc.kind))
        except Exception as exc:  # the sandbox failed to start, or a bug: end cleanly
            outcome = Outcome("failed", reason=f"{type(exc).__name__}: {exc}",
                              iterations=self.iterations)
        finally:
            await asyncio.shield(sandbox.close())
        self._finish(outcome, self._running_clock() - started)
        return outcome

    def _running_clock(self) -> float:
        # Paused time does not count: the status bar's clock, the transcript's and every
        # export's time agree (an export said 65.2 s where the bar said 00:39).
        return self.owner.control.running_clock()

    def _finish(self, outcome: Outcome, seconds: float) -> None:
        if outcome.answer is not None:
            self.emit(ev.FinalAnswer, self.id, self.parent_id, answer=outcome.answer,
                      forced=outcome.forced)
        self.emit(ev.SessionFinished, self.id, self.parent_id, status=outcome.status,
                  reason=outcome.reason, answer=outcome.answer, forced=outcome.forced,
                  iterations=outcome.iterations, sub_calls=self.owner.ledger.sub_calls
                  if self.depth == 0 else 0, usage=self.usage, seconds=seconds)
        if self.depth == 0:
            state = {"answered": "done", "halted": "halted", "failed": "failed"}[outcome.status]
            self.owner.control.finish(state, outcome.reason)

    async def _loop(self, sandbox: Sandbox) -> Outcome:
        settings = self.owner.settings
        control = self.owner.control
        root = self.depth == 0
        facts = prompts.PromptFacts(
            context_kind=self.context.kind, metadata=self.context.metadata,
            max_iterations=settings.max_iterations, depth=self.depth,
            max_depth=settings.max_depth, cell_timeout=settings.cell_timeout,
            output_chars=settings.model_output_chars, max_cost=settings.max_cost,
            max_tokens=settings.max_tokens, max_time=settings.max_time)
        history: list[dict[str, str]] = [
            {"role": "system", "content": prompts.system_prompt(facts)},
            {"role": "user", "content": prompts.first_message(self.query, facts)},
        ]
        await sandbox.start()
        if root:
            control.mark_running()
        for iteration in range(1, settings.max_iterations + 1):
            await control.before_iteration(root=root)
            self.iterations = iteration
            node = f"{self.id}.i{iteration}"
            self.emit(ev.IterationStarted, node, self.id, iteration=iteration,
                      max_iterations=settings.max_iterations)
            reply, _ = await self._root_call(history, node)
            history.append({"role": "assistant", "content": reply})
            blocks = code_blocks(reply)
            if not blocks:
                answer = await self._prose_answer(sandbox, reply)
                if answer is not None:
                    return Outcome("answered", answer=answer, iterations=iteration)
                history.append({"role": "user", "content": prompts.no_code_message(
                    iteration, settings.max_iterations)})
                control.after_iteration(root=root)
                continue
            outputs = []
            for index, code in enumerate(blocks, 1):
                result = await self._run_cell(sandbox, code, node, index)
                if result.final_answer is not None:
                    return Outcome("answered", answer=result.final_answer, iterations=iteration)
                outputs.append(result.for_model(settings.model_output_chars))
            history.append({"role": "user", "content": prompts.output_message(
                outputs, iteration, settings.max_iterations)})
            control.after_iteration(root=root)
        return await self._forced_answer(sandbox, history)

    async def _forced_answer(self, sandbox: Sandbox, history: list[dict[str, str]]) -> Outcome:
        """At the iteration limit: ask once for the best answer; no more code runs, but a
        FINAL_VAR naming an existing variable is honoured. A reply with no FINAL is the
        answer; one whose FINAL_VAR names no variable gives none (its text is not one)."""
        max_iterations = self.owner.settings.max_iterations
        self.emit(ev.BudgetExceeded, self.id, self.parent_id, budget="iterations",
                  limit=float(max_iterations), value=float(max_iterations))
        iteration = max_iterations + 1
        node = f"{self.id}.i{iteration}"
        self.emit(ev.IterationStarted, node, self.id, iteration=iteration,
                  max_iterations=max_iterations, forced=True)
        history.append({"role": "user", "content": prompts.forced_final_message()})
        reply, cut = await self._root_call(history, node)
        final = prose_final(reply.replace("```", "\n"))
        if final is None and cut:  # what it would have said is not known
            reason = (f"out of iterations ({max_iterations}), and the reply asked for a final "
                      "answer was cut off at its cap of output tokens, with no FINAL in it")
            return Outcome("halted", forced=True, reason=reason, iterations=max_iterations)
        if final is None:
            answer: str | None = reply.strip()
        else:
            answer = await self._final_answer(sandbox, final)
        if answer is None:  # its text is no answer: it names a variable to give instead
            assert final is not None
            reason = (f"out of iterations ({max_iterations}), and the last reply's "
                      f"FINAL_VAR({final.variable!r}) names no variable")
            return Outcome("halted", forced=True, reason=reason, iterations=max_iterations)
        return Outcome("answered", answer=answer, forced=True, iterations=max_iterations)

    async def _prose_answer(self, sandbox: Sandbox, reply: str) -> str | None:
        final = prose_final(reply)
        return None if final is None else await self._final_answer(sandbox, final)

    async def _final_answer(self, sandbox: Sandbox, final: ProseFinal) -> str | None:
        """The answer a FINAL or FINAL_VAR written in prose gives; None for a FINAL_VAR that
        names no variable."""
        if final.variable is None:
            return final.answer
        result = await sandbox.run_cell(f"FINAL_VAR({final.variable!r})")
        return result.final_answer

    # -- model calls ---------------------------------------------------------------------

    async def _root_call(self, history: list[dict[str, str]], node: str) -> tuple[str, bool]:
        """The root model's reply, and whether it was cut off at its cap of output tokens."""
        spec = self.owner.spec(self.depth)

        def on_delta(text: str) -> None:
            self.emit(ev.RootDelta, node, self.id, text=text)

        def on_retry(info: RetryInfo) -> None:
            self.emit(ev.SubcallRetry, node, self.id, attempt=info.attempt,
                      reason=info.reason, wait_s=info.wait_s)
            if info.discarded_output:
                self.emit(ev.RootDelta, node, self.id, text="", restart=True)

        try:
            done = await self.owner.client.complete(spec, history, on_delta=on_delta,
                                                  on_retry=on_retry)
        except ModelCallError as exc:
            self.emit(ev.RootDone, node, self.id, text="", model=spec.model, usage=ev.Usage(),
                      latency_s=0.0, error=str(exc))
            raise
        usage = done.usage
        self._account(usage, sub_call=False)
        self.emit(ev.RootDone, node, self.id, text=done.text, model=done.model, usage=usage,
                  latency_s=done.latency_s, attempts=done.attempts,
                  finish_reason=done.finish_reason)
        return done.text, done.finish_reason in ev.CUT_FINISH_REASONS

    def _account(self, usage: ev.Usage, *, sub_call: bool) -> None:
        self.usage = self.usage + usage
        self.owner.ledger.add(usage, sub_call=sub_call)

    # -- cells and their sub-calls -------------------------------------------------------

    async def _run_cell(self, sandbox: Sandbox, code: str, node: str, index: int):
        cell = f"{node}.c{index}"
        self.emit(ev.CellStarted, cell, node, index=index, code=code)

        async def on_subcall(request: SubcallRequest) -> str:
            return await self._subcall(request, cell)

        result = await sandbox.run_cell(code, on_subcall=on_subcall)
        self.emit(ev.CellFinished, cell, node, stdout=result.stdout,
                  stdout_total_chars=result.stdout_total_chars, stderr=result.stderr,
                  error=result.error, error_kind=result.error_kind, seconds=result.seconds,
                  worker_restarted=result.worker_restarted, final_answer=result.final_answer)
        coverage = self.context.coverage
        if coverage is not None and (result.coverage.get("read") or result.subcalls):
            if result.coverage:
                coverage.add_worker_delta(result.coverage)
            await self.owner.record_sent_prompts(coverage)
            self.emit(ev.CoverageUpdated, cell, node, coverage=coverage.to_dict())
        return result

    async def _subcall(self, request: SubcallRequest, cell: str) -> str:
        node = f"{cell}.q{self._next(cell)}"
        settings = self.owner.settings
        if request.kind == "rlm" and self.depth + 1 < settings.max_depth:
            return await self._child_session(request, node, cell)
        prompt = request.prompt
        if request.kind == "rlm" and request.context is not None:
            prompt += "\n\nContext:\n" + RunContext.from_value(request.context).value.__str__()
        spec = self.owner.spec(self.depth + 1, request.model)
        async with self.owner.limiter:
            self.emit(ev.SubcallStarted, node, cell, kind=request.kind, model=spec.model,
                      prompt=prompt[:EVENT_TEXT_CHARS], prompt_chars=len(prompt),
                      depth=self.depth + 1, batch_index=request.batch_index,
                      batch_size=request.batch_size)

            def on_retry(info: RetryInfo) -> None:
                self.emit(ev.SubcallRetry, node, cell, attempt=info.attempt,
                          reason=info.reason, wait_s=info.wait_s)

            try:
                done = await self.owner.client.complete(
                    spec, [{"role": "user", "content": prompt}], on_retry=on_retry)
            except ModelCallError as exc:
                self.emit(ev.SubcallFinished, node, cell, model=spec.model, error=str(exc),
                          attempts=exc.attempts or 1)
                self.owner.ledger.sub_calls += 1
                raise
        usage = done.usage
        self._account(usage, sub_call=True)
        self.emit(ev.SubcallFinished, node, cell, model=done.model,
                  response=done.text[:EVENT_TEXT_CHARS], usage=usage,
                  latency_s=done.latency_s, attempts=done.attempts,
                  finish_reason=done.finish_reason)
        if self.context.coverage is not None:
            self.owner.sent_prompts.append(prompt)  # matched at the cell's end, off this path
        return done.text

    async def _child_session(self, request: SubcallRequest, node: str, cell: str) -> str:
        context = (self.context if request.context is None
                   else RunContext.from_value(request.context))
        spec = self.owner.spec(self.depth + 1)
        self.emit(ev.SubcallStarted, node, cell, kind="rlm", model=spec.model,
                  prompt=request.prompt[:EVENT_TEXT_CHARS], prompt_chars=len(request.prompt),
                  depth=self.depth + 1, batch_index=request.batch_index,
                  batch_size=request.batch_size)
        started = time.monotonic()
        child = Session(self.owner, request.prompt, context, depth=self.depth + 1,
                        session_id=f"{node}.s", parent_id=node)
        outcome = await child.run()
        self.usage = self.usage + child.usage
        self.owner.ledger.sub_calls += 1
        error = None if outcome.status == "answered" else (outcome.reason or outcome.status)
        self.emit(ev.SubcallFinished, node, cell, model=spec.model,
                  response=(outcome.answer or "")[:EVENT_TEXT_CHARS], child_usage=child.usage,
                  latency_s=time.monotonic() - started, error=error)
        if error is not None:
            raise RuntimeError(f"the child RLM stopped without an answer: {error}")
        return outcome.answer or ""

