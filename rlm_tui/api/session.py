"""`rlm_tui.Session`: an RLM session from code, the one path from a call to a session.

A session loads its context once, opens one REPL and one conversation, and answers questions
in turn on them (a follow-up sees the variables the first left). It wires the subscribers of
its event stream (the transcript writer and the session tree; a program's own through
`on_event` or `events()`), and prints nothing. `rlm-tui run` and `rlm-tui eval` open their
sessions through it.

    async with Session("repo/", model="openai/gpt-5-mini") as session:
        first = await session.ask("Should we checkpoint?", schema=Checkpoint)
        again = await session.ask("Which file worries you most?")
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlm_tui import events as ev
from rlm_tui.api.options import ContextArg, context_sources, reads_stdin, settings_from
from rlm_tui.api.result import Result, Tokens
from rlm_tui.config import Settings
from rlm_tui.engine.answer_schema import AnswerSchema
from rlm_tui.engine.run import Run
from rlm_tui.engine.run_context import Outcome, RunContext
from rlm_tui.engine.tools import ToolSet
from rlm_tui.engine.workspace import (
    Workspace,
    check_models,
    cost_budget_warning,
    model_specs,
)
from rlm_tui.errors import ModelError, RlmTuiError, SandboxError, UsageError
from rlm_tui.lm import prepare_models
from rlm_tui.remote.server import ControlServer
from rlm_tui.transcript import SessionModel, TranscriptWriter, default_transcript_path

log = logging.getLogger("rlm_tui")

EventHandler = Callable[[ev.EventBase], None]


@dataclass
class Fork:
    """A session that continues a saved one: the plan (rlm_tui.forks.load_fork's), a note
    the root model reads first, and whether the first question is a new one (else the first
    answer continues the forked turn)."""

    plan: Any
    note: str | None = None
    new_question: bool = False


class RunFailed(RlmTuiError):
    """A question whose session failed (the model or its provider, or the sandbox): the
    message is the CLI's one line; `result` holds what was recorded up to the failure."""

    def __init__(self, message: str, result: Result) -> None:
        super().__init__(message)
        self.result = result


class ModelFailed(RunFailed, ModelError):
    """The model or its provider failed during the run (auth, unknown model, unreachable)."""


class SandboxFailed(RunFailed, SandboxError):
    """The REPL's worker failed during the run."""


class Session:
    """An RLM session over `context`: one REPL, one conversation, questions asked in turn.

    `context`: a path (a directory, a file, "-" for stdin); a list of them (`context_0`,
    `context_1`, ... in the REPL, and `context` all of them); a dict of name -> path or data;
    or `Source` objects. Settings are keyword arguments named as the command line's flags and
    the config file's keys (`model`, `sub_model`, `max_cost`, `max_iterations`, ...), over the
    user's config file (`config=` another) and RLM_TUI_* environment, as for `rlm-tui run`.
    `schema`: the answers' shape (a pydantic model or a JSON Schema dict), for every question
    unless `ask` gives its own. `tools`: host functions the REPL may call (name -> sync or
    async callable; they run in this process, with its rights). `transcript`: where the JSONL
    transcript goes (default: a new file in the user data dir, as for `rlm-tui run`; False:
    none). `on_event`: called with each event as it happens (quick, and never raising).
    `control_socket=False` (a setting, as `control_socket = false` in the config file): no
    control socket; by default an open session listens on one of its own, named in its
    transcript, so that `rlm-tui watch` can pause, step, halt and note it.
    `otel=True` (or `otel_content=True`, with prompts, code and answers) traces the session
    with OpenTelemetry over OTLP/HTTP as the OTEL_EXPORTER_OTLP_* variables say (the extra
    rlm-tui[otel]); `tracer_provider`: a program's own SDK TracerProvider to trace to
    instead (flushed at the end, never shut down here).

    Bad input (a missing path, an unknown setting, no model, a missing API key) raises a
    one-line error from `rlm_tui` (InputError, UsageError, ConfigError, ModelError) on `open`.
    """

    def __init__(self, context: ContextArg = ".", *, settings: Settings | None = None,
                 schema: Any = None, tools: Mapping[str, Callable[..., Any]] | None = None,
                 transcript: str | os.PathLike[str] | bool | None = None,
                 config: str | os.PathLike[str] | None = None,
                 on_event: EventHandler | None = None, fork: Fork | None = None,
                 tracer_provider: Any = None, **options: Any) -> None:
        self.settings = settings_from(options, base=settings, config=config)
        self._sources = context_sources(context)
        self._schema_arg = schema
        self.schema: AnswerSchema | None = None  # the session's, made on open
        self._tools_arg = tools
        self.tools: ToolSet | None = None  # the host functions given, made on open
        self._transcript_arg = transcript
        self._fork = fork
        self._tracer_provider = tracer_provider
        self._tracing: Any = None  # rlm_tui.telemetry's SessionTracing, when traced
        self.warnings: list[str] = []
        self.bus = ev.EventBus(on_error=self._subscriber_failed)
        self.tree = SessionModel(track_changes=False)
        self.bus.subscribe(self.tree.apply)
        if on_event is not None:
            self.bus.subscribe(on_event)
        self._streams: list[_EventStream] = []
        self.workspace: Workspace | None = None
        self._owns_workspace = True
        self.run: Run | None = None
        self._context: RunContext | None = None
        self._writer: TranscriptWriter | None = None
        self.transcript: Path | None = None
        self._control_server: ControlServer | None = None
        self._preparing: Any = None
        self._asked = 0
        self._closed = False
        self.limiter: asyncio.Semaphore | None = None  # a limit shared with other sessions
        self._models_checked = False

    @classmethod
    def over(cls, workspace: Workspace, *, settings: Settings | None = None,
             transcript: str | os.PathLike[str] | bool | None = None,
             on_event: EventHandler | None = None, schema: Any = None,
             tools: Mapping[str, Callable[..., Any]] | None = None,
             limiter: asyncio.Semaphore | None = None,
             models_checked: bool = False, tracer_provider: Any = None) -> Session:
        """A session over a context loaded already (an eval's task, whose pack may come from
        another machine); the workspace stays the caller's to close. `limiter`: a limit on
        model calls shared with other sessions; `models_checked`: the caller has checked the
        models (an eval checks them once for all its tasks)."""
        session = cls(workspace.source if workspace.source else ".",
                      settings=settings or workspace.settings, transcript=transcript,
                      on_event=on_event, schema=schema, tools=tools,
                      tracer_provider=tracer_provider)
        session.workspace = workspace
        session._owns_workspace = False
        session.limiter = limiter
        session._models_checked = models_checked
        return session

    # -- opening and closing -------------------------------------------------------------

    async def __aenter__(self) -> Session:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> Session:
        """Load the context, check the models (a named model, a known provider, its key),
        and start the REPL's worker. Idempotent; `ask` opens a session not yet open."""
        if self.run is not None:
            return self
        if self._closed:
            raise UsageError("the session is closed: open a new one")
        specs = model_specs(self.settings)  # no model: a usage error, before any work
        # A broken schema (a file that is not one, a dict that is no JSON Schema) is one
        # line, before the context loads or anything is written.
        self.schema = answer_schema(self._schema_arg)
        if self.schema is None and self.settings.schema:
            self.schema = AnswerSchema.from_file(self.settings.schema)
        # Host functions given here, else (in the workspace) those of the settings' tools
        # file: a bad name or file is one line, before the context loads.
        if self._tools_arg is not None and not isinstance(self._tools_arg, ToolSet):
            self.tools = ToolSet.from_callables(self._tools_arg)
        else:
            self.tools = self._tools_arg
        if self.tools is not None:
            self._check_tool_names(self.tools)
        if self._tracing_wanted():
            from rlm_tui.telemetry import check_available

            check_available()  # without the extra: a usage error, before any work too
        # The models' transports get ready (aiohttp's import, ~0.2 s) while the context
        # loads: the first call does not wait for imports.
        self._preparing = prepare_models(specs)
        try:
            # So does the OpenTelemetry SDK (~0.2 s of imports), when asked.
            steps = []
            if self.workspace is None:
                steps.append(asyncio.to_thread(self._open_workspace))
            if self._tracing_wanted():
                steps.append(asyncio.to_thread(self._start_tracing))
            done = await asyncio.gather(*steps, return_exceptions=True)
            # All have ended: what one opened is released if another failed.
            if done and isinstance(done[0], Workspace):
                self.workspace = done[0]
            for outcome in done:
                if isinstance(outcome, BaseException):
                    raise outcome
            # A missing key or unknown provider, before anything is written (it may load
            # litellm, ~3 s: in a thread).
            if not self._models_checked:
                await asyncio.to_thread(check_models, self.settings)
            warning = cost_budget_warning(self.settings, self.workspace.client)
            if warning is not None:
                self._warn(warning)
            self.run = self.workspace.new_run(self.bus, settings=self.settings,
                                              **self._run_extras())
            if self.limiter is not None:
                self.run.limiter = self.limiter
            self._context = self.workspace.run_context()
            await self._open_control_socket()
            # Start-up, not the session's time: the worker starts while the models get ready.
            await asyncio.gather(self.run.start_worker(self._context),
                                 asyncio.to_thread(self._preparing.join))
        except BaseException:
            await self._release()
            raise
        return self

    async def _open_control_socket(self) -> None:
        """Listen for steering from another process (rlm_tui/remote/); a socket that cannot
        be made costs the run nothing but a warning."""
        if not self.settings.control_socket:
            return
        run = self.run
        server = ControlServer(self, session_id=lambda: run.run_id if run else "")
        try:
            await server.start()
        except RlmTuiError as exc:
            self._warn(f"no control socket, so rlm-tui watch cannot steer this run: {exc}")
            return
        self._control_server = server

    @property
    def control_socket(self) -> Path | None:
        """Where the session listens for steering (None: it does not, or is closed)."""
        return self._control_server.path if self._control_server is not None else None
    def _tracing_wanted(self) -> bool:
        settings = self.settings
        return settings.otel or settings.otel_content or self._tracer_provider is not None

    def _start_tracing(self) -> None:
        """Subscribe the OpenTelemetry spans when asked (--otel), before the run's first
        event: the SDK is imported here only (rlm_tui.telemetry)."""
        if not self._tracing_wanted() or self._tracing is not None:
            return
        from rlm_tui.telemetry import start_tracing

        self._tracing = start_tracing(content=self.settings.otel_content,
                                      on_warning=self._warn,
                                      tracer_provider=self._tracer_provider)
        self.bus.subscribe(self._tracing)

    def _check_tool_names(self, tools: ToolSet) -> None:
        """A tool and a source of one name would hide each other in the REPL."""
        from rlm_tui.context.sources import as_sources

        clash = sorted(set(tools.names) & {str(s.name) for s in as_sources(self._sources)})
        if clash:
            raise UsageError(f"tools: {clash[0]!r} is also the name of a context source: "
                             "rename one of them")

    def _open_workspace(self) -> Workspace:
        stdin = sys.stdin.buffer if reads_stdin(self._sources) else None
        return Workspace.open(self._sources, self.settings, stdin=stdin, tools=self.tools)

    def _run_extras(self) -> dict[str, Any]:
        """What a run takes beside its settings: the answers' schema and the host's tools
        (the engine's own types, made from what the caller gave)."""
        return {"schema": self.schema, "tools": self.tools}

    async def close(self) -> None:
        """End the REPL (its worker process), close the transcript and the event streams.
        Idempotent."""
        self._closed = True
        await self._release()

    async def _release(self) -> None:
        control, self._control_server = self._control_server, None
        try:
            if control is not None:  # first: no command reaches a run that is closing
                await control.close()
            if self.run is not None:
                await self.run.close()
        finally:
            if self._writer is not None:
                self._writer.close()
            if self._tracing is not None:  # the spans in hand leave, a bounded wait
                tracing, self._tracing = self._tracing, None
                self.bus.unsubscribe(tracing)
                await asyncio.to_thread(tracing.close)
            if self._preparing is not None:
                # Never leave it importing: at exit, a daemon thread frozen inside an import
                # holds that module's lock, and a finaliser that imports then waits forever.
                await asyncio.to_thread(self._preparing.join)
            if self.workspace is not None and self._owns_workspace:
                await asyncio.to_thread(self.workspace.close)
                self.workspace = None
            for stream in self._streams:
                stream.close()

    # -- questions -----------------------------------------------------------------------

    async def ask(self, question: str, *, schema: Any = None) -> Result:
        """Ask `question` and wait for its end: answered (`result.value` validated against
        `schema` when given) or halted (a budget, `halt()`: `result.reason` says why). A
        follow-up question runs on the same REPL and conversation. A failure of the model
        or the sandbox raises ModelFailed or SandboxFailed (their `result` holds what was
        recorded); the transcript keeps everything either way."""
        result = await self.ask_result(question, schema=schema)
        if result.status == "failed":
            kind = ModelFailed if result.error_kind else SandboxFailed
            raise kind(result.reason or "the run failed", result)
        return result

    async def ask_result(self, question: str, *, schema: Any = None) -> Result:
        """As `ask`, but a failed question is a Result with status "failed", not raised."""
        if not isinstance(question, str) or not question.strip():
            raise UsageError("a question is empty: ask something")
        await self.open()
        assert self.run is not None and self._context is not None
        if self._asked == 0:
            self._open_transcript(self._fork.plan.query if self._fork else question)
        turn_schema = answer_schema(schema) if schema is not None else self.schema
        self._asked += 1
        if self._asked == 1 and self._fork is not None:
            fork = self._fork
            outcome = await self.run.start_fork(
                fork.plan, self._context, note=fork.note, keep_open=True,
                query=question if fork.new_question else None)
        elif self._asked == 1:
            self.run.schema = turn_schema
            outcome = await self.run.start(question, self._context, keep_open=True)
        else:
            outcome = await self.run.ask(question, schema=turn_schema)
        return self._result(outcome)

    async def continue_fork(self) -> Result:
        """A fork's first answer without a new question: the forked turn goes on."""
        if self._fork is None or self._fork.new_question:
            raise UsageError("continue_fork: this session is not a fork of a turn in hand")
        await self.open()
        assert self.run is not None and self._context is not None
        if self._asked:
            raise UsageError("continue_fork: the fork has started already")
        self._open_transcript(self._fork.plan.query)
        self._asked = 1
        outcome = await self.run.start_fork(self._fork.plan, self._context,
                                            note=self._fork.note, keep_open=True)
        return self._result(outcome)

    def _open_transcript(self, first_question: str) -> None:
        if self._transcript_arg is False:
            return
        assert self.workspace is not None
        arg = self._transcript_arg
        path = default_transcript_path() if arg in (None, True) else Path(arg)  # type: ignore[arg-type]
        fork_of = self._fork.plan.fork_of if self._fork is not None else None
        self._writer = TranscriptWriter(path, query=first_question,
                                        settings=self.settings.public_dict(),
                                        context=self.workspace.context_summary(),
                                        fork_of=fork_of,
                                        control_socket=str(self.control_socket)
                                        if self.control_socket is not None else None)
        self.transcript = path
        self.bus.subscribe(self._writer)

    def _result(self, outcome: Outcome) -> Result:
        totals = self.tree.totals.to_dict()
        tokens = totals["tokens"]
        root = self.run.root if self.run is not None else None
        validated = (outcome.status == "answered" and root is not None
                     and root.schema is not None)
        return Result(
            answer=outcome.answer,
            value=outcome.value if validated else outcome.answer, validated=validated,
            status=outcome.status, forced=outcome.forced,
            reason=outcome.reason if outcome.status != "answered" else None,
            error_kind=outcome.error_kind,
            iterations=outcome.iterations, sub_calls=totals["sub_calls"],
            tokens=Tokens(prompt=tokens["prompt"], completion=tokens["completion"],
                          total=tokens["total"], estimated=tokens["estimated"]),
            cost_usd=totals["cost_usd"], cost_complete=totals["cost_complete"],
            seconds=totals["seconds"], transcript=self.transcript, turn=outcome.turn,
            session_id=self.run.run_id if self.run is not None else "")

    # -- watching and steering -----------------------------------------------------------

    def events(self) -> AsyncIterator[ev.EventBase]:
        """The session's typed events from now on, as the app reads them; the iteration ends
        when the session closes. Each call is a stream of its own."""
        stream = _EventStream(self)
        self._streams.append(stream)
        self.bus.subscribe(stream)
        return stream

    @property
    def state(self) -> str:
        """idle (not started) | running | paused | stepping | held | done | halted | failed"""
        return self.run.control.state if self.run is not None and self._asked else "idle"

    def pause(self) -> None:
        """Finish the step in hand, start no new one (resume() or step() goes on)."""
        self._control().pause()

    def resume(self) -> None:
        self._control().resume()

    def step(self) -> None:
        """One iteration, then pause."""
        self._control().step()

    def halt(self, reason: str = "halted from code") -> None:
        """Stop now: in-flight model calls and running code are cancelled, and the question
        ends halted with everything so far kept."""
        if self.run is not None:
            self.run.control.halt(reason)

    def add_note(self, text: str) -> None:
        """A note the root model reads before its next call."""
        if self.run is None:
            raise UsageError("add_note: the session is not open")
        self.run.add_note(text)

    def _control(self) -> Any:
        if self.run is None:
            raise UsageError("the session is not open")
        return self.run.control

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s", message)

    def _subscriber_failed(self, subscriber: Any, exc: BaseException) -> None:
        self._warn(f"a view stopped with an error and was detached: {exc}")


def answer_schema(schema: Any) -> AnswerSchema | None:
    """`schema=` as the engine takes it: a pydantic model (its instances are the values), a
    JSON Schema dict, or an AnswerSchema; UsageError for anything else."""
    if schema is None or isinstance(schema, AnswerSchema):
        return schema
    if isinstance(schema, Mapping):
        return AnswerSchema.from_json_schema(dict(schema))
    return AnswerSchema.from_model(schema)  # UsageError when it is not a pydantic model


class _EventStream:
    """One `events()` iterator: a queue the bus fills, closed with the session."""

    _END = object()

    def __init__(self, session: Session) -> None:
        self._session = session
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    def __call__(self, event: ev.EventBase) -> None:
        self._queue.put_nowait(event)

    def close(self) -> None:
        self._queue.put_nowait(self._END)

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> ev.EventBase:
        item = await self._queue.get()
        if item is self._END:
            self._session.bus.unsubscribe(self)
            raise StopAsyncIteration
        return item
