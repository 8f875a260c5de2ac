"""A run: the root session and its children, sharing controls, ledger and limits; and how a
person steers it (notes, held cells, follow-up questions, models, forks).

    bus = EventBus(); bus.subscribe(print)
    run = Run(settings, client, bus)
    outcome = await run.start(query, run_context)      # or run.control.pause() / step() / halt()

    outcome = await run.start(query, ctx, keep_open=True)   # the REPL stays open:
    outcome = await run.ask("and then?")                    # a follow-up on the same REPL
    await run.close()

    run = Run(settings, client, bus, schema=AnswerSchema.from_model(Verdict))
    outcome.value                       # a Verdict: the answer validated (else it went back)
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine.answer_schema import AnswerSchema
from rlm_tui.engine.approvals import Approvals, HeldCell, hold_reasons
from rlm_tui.engine.control import Ledger, RunControl
from rlm_tui.engine.run_context import Outcome, RunContext
from rlm_tui.engine.session import Session
from rlm_tui.engine.tools import ToolSet
from rlm_tui.errors import ModelError
from rlm_tui.lm import ModelClient, ModelSpec
from rlm_tui.sandbox import Sandbox, SandboxLimits


# Run.ask's schema when none is passed: the run's own.
_RUN_SCHEMA: Any = object()


class Run:
    """One run: a root session and its children, sharing controls, ledger and limits.

    `schema`: the shape every answer must have (else `settings.schema`, a JSON Schema file,
    read here: a broken one is an InputError before anything runs); an answer without it
    goes back to the model with the errors, and the run goes on."""

    def __init__(self, settings: Settings, client: ModelClient, bus: ev.EventBus,
                 *, start_paused: bool = False, schema: AnswerSchema | None = None,
                 tools: ToolSet | None = None) -> None:
        """`tools`: the host functions model code may call; without them, the tools file
        `settings.tools` names, if any, is loaded now (InputError before anything runs)."""
        if not settings.model:
            raise ModelError("no model given: pass --model (or --model demo to try it offline)")
        if schema is None and settings.schema:
            schema = AnswerSchema.from_file(settings.schema)
        self.schema = schema
        if tools is None and settings.tools:
            tools = ToolSet.from_file(settings.tools)
        self.tools = tools
        self._recorded_tools: tuple[str, ...] = ()  # a fork's: answered from the record
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
        self.approvals = Approvals(settings.approve)
        self._notes: list[str] = []  # queued before the root session opened
        self._worker: tuple[Any, Sandbox] | None = None  # started ahead: (context value, it)
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

    async def start(self, query: str, context: RunContext, *,
                    keep_open: bool = False) -> Outcome:
        """Run the first question to its end (answered, halted or failed); never raises for
        model errors. `keep_open`: the REPL stays open for follow-up questions (`ask`) until
        `close()`."""
        self.root = Session(self, query, context, depth=0, session_id=self.run_id)
        self.root.schema = self.schema
        self.root.open()
        return await self._turn(self.root.first_turn(), context, keep_open=keep_open)

    async def ask(self, query: str, *, schema: AnswerSchema | None = _RUN_SCHEMA) -> Outcome:
        """A follow-up question on the open session: its variables, conversation and coverage
        carry over; --max-iterations counts per question, cost, tokens and time across them.
        `schema`: the shape this answer must have (None: any text; default: the run's)."""
        if not self.is_open:
            raise RuntimeError("the session is closed: start a new run")
        assert self.root is not None
        self.control.reopen(paused=self.control.state == "paused")
        turn_schema = self.schema if schema is _RUN_SCHEMA else schema
        return await self._turn(self.root.ask(query, turn_schema), self.root.context,
                                keep_open=True)

    async def start_fork(self, plan: Any, context: RunContext, *, note: str | None = None,
                         query: str | None = None, keep_open: bool = False) -> Outcome:
        """A new session that continues `plan` (engine.fork.ForkPlan) from the state after
        its iteration K: the REPL rebuilt from the record (no model call), then live."""
        from rlm_tui.engine.fork import continue_fork

        self._recorded_tools = tuple(plan.tool_names)
        self.root = Session(self, plan.query, context, depth=0, session_id=self.run_id)
        if self.schema is None and plan.schema is not None:  # the forked turn's, recorded
            self.schema = AnswerSchema.from_json_schema(plan.schema)
        self.root.schema = self.schema
        self.root.open(fork_of=plan.fork_of, opening=False)
        if note:
            self.add_note(note)
        outcome = await self._turn(continue_fork(self.root, plan, new_question=bool(query)),
                                   context, keep_open=keep_open or bool(query))
        if query and not self.control.halted and outcome.status != "failed":
            outcome = await self.ask(query)
        if query and not keep_open:
            await self.close()
        return outcome

    async def _turn(self, turn: Any, context: RunContext, *, keep_open: bool) -> Outcome:
        self._timing = bool(self.settings.max_time)
        self._arm_time_check()
        for text in self._notes:
            self._queue_note(text)
        self._notes.clear()
        index = None
        if context.coverage is not None and hasattr(context.coverage, "build_index"):
            # Build the coverage index while the root model writes its first reply.
            index = asyncio.create_task(asyncio.to_thread(context.coverage.build_index))
        try:
            return await turn
        finally:
            self._timing = False
            self._arm_time_check()  # disarmed
            if index is not None:
                await asyncio.gather(index, return_exceptions=True)
            if not keep_open:
                await self.close()

    async def start_worker(self, context: RunContext) -> None:
        """Start the root session's REPL worker ahead of the run (a script starts it while
        its models get ready): its start-up is then not the session's time."""
        if self._worker is None:
            sandbox = Sandbox(context.value, limits=self.limits, tools=self.tool_names)
            await sandbox.start()
            self._worker = (context.value, sandbox)

    def take_worker(self, context: RunContext) -> Sandbox | None:
        """The worker started ahead for this context, once (None if none was, or it lacks a
        tool name a fork's record needs)."""
        if (self._worker is None or self._worker[0] is not context.value
                or self._worker[1].tools != self.tool_names):
            return None
        sandbox, self._worker = self._worker[1], None
        return sandbox

    @property
    def tool_names(self) -> tuple[str, ...]:
        """The tools the REPL has a function for: the run's, and those a fork's record
        answers (a fork of a run whose tools this one lacks still rebuilds)."""
        names = self.tools.names if self.tools is not None else ()
        return names + tuple(n for n in self._recorded_tools if n not in names)

    @property
    def is_open(self) -> bool:
        """The session takes follow-up questions: its REPL is open."""
        return self.root is not None and self.root.sandbox is not None

    async def close(self) -> None:
        """End the session's REPL (its worker process). Idempotent."""
        root = self.root
        if root is not None and root.sandbox is not None:
            await root.close()
            root.sandbox = None
        if self._worker is not None:  # started ahead, never used (the run did not start)
            sandbox, self._worker = self._worker[1], None
            await asyncio.shield(sandbox.close())

    # -- steering ------------------------------------------------------------------------

    def add_note(self, text: str) -> None:
        """A note from the person: the root model reads it as a user message before its next
        call (the next question's, when the run has ended)."""
        text = text.strip()
        if not text:
            return
        if self.root is None:
            self._notes.append(text)  # reported once the session has opened
        else:
            self._queue_note(text)

    def _queue_note(self, text: str) -> None:
        assert self.root is not None
        self.bus.emit(ev.NoteAdded(session_id=self.run_id, node_id=self.run_id, text=text))
        self.root.conversation.queue_note(text)

    @property
    def held(self) -> HeldCell | None:
        """The cell waiting for a person's decision, if one is."""
        return self.approvals.held

    def approve_cell(self) -> bool:
        return self.approvals.decide("approved")

    def edit_cell(self, code: str) -> bool:
        return self.approvals.decide("edited", code)

    def skip_cell(self) -> bool:
        return self.approvals.decide("skipped")

    def set_approve_mode(self, mode: ev.ApproveMode) -> None:
        if mode != self.approvals.mode:
            self.approvals.mode = mode
            self.bus.emit(ev.ApproveModeChanged(session_id=self.run_id, node_id=self.run_id,
                                                mode=mode))

    def hold_reasons(self, blocks: list[str]) -> list[str | None]:
        return hold_reasons(self.approvals.mode, blocks)

    async def hold_cell(self, session: Session, cell: str, node: str, code: str,
                        reason: str) -> tuple[ev.CellDecision, str]:
        """Hold a root cell until a person decides; the run's clock stands still meanwhile."""
        session.emit(ev.CellHeld, cell, node, reason=reason)
        self.control.hold()
        try:
            decision, code = await self.approvals.wait(cell, code, reason)
        finally:
            self.control.release()
        session.emit(ev.CellDecided, cell, node, decision=decision, code=code)
        return decision, code

    def set_models(self, model: str | None = None, sub_model: str | None = None) -> None:
        """Use these models from the next call on (the caller has checked them). The change is
        recorded (models_changed)."""
        update = {k: v for k, v in (("model", model), ("sub_model", sub_model)) if v}
        if not update:
            return
        if "sub_model" not in update and self.settings.sub_model is None:
            # Sub-calls followed the root model: they stay on the one they were using.
            update["sub_model"] = self.settings.effective_sub_model
        self.settings = self.settings.model_copy(update=update)
        self.bus.emit(ev.ModelsChanged(session_id=self.run_id, node_id=self.run_id,
                                       root_model=self.settings.model or "",
                                       sub_model=self.settings.effective_sub_model or ""))
