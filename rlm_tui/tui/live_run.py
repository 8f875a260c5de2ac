"""A session started from the app: its models checked, its transcript written as it happens,
its events relayed to the app. It runs on the app's event loop and stays open after its
first question for follow-up questions on the same REPL, until it is closed.

    live = LiveRun(workspace, settings, relay)
    await live.execute("where is the timeout?")     # or: await live.execute_fork(plan, note)
    await live.ask("and who sets it?")              # turn 2, same REPL and conversation
    await live.close()                              # the REPL's worker process ends
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlm_tui.config import Settings
from rlm_tui.events import EventBus

if TYPE_CHECKING:  # the engine's imports cost ~0.2 s: the app's first frame does without
    from rlm_tui.engine.control import RunControl
    from rlm_tui.engine.run import Run
    from rlm_tui.engine.run_context import Outcome
    from rlm_tui.engine.workspace import Workspace
    from rlm_tui.transcript import TranscriptWriter


class LiveRun:
    """One session over the loaded workspace (its first question, or a fork), then its
    follow-up questions.

    `execute` and `execute_fork` raise `RlmTuiError` (a `ModelCallError` among them) when the
    session cannot start: no model, an unknown model, a missing API key, a transcript that
    cannot be written. Once started, model failures end a turn as "failed" (an `Outcome`),
    never as an exception.
    """

    def __init__(self, workspace: Workspace, settings: Settings, relay: Callable[[Any], None],
                 *, transcript_path: Path | None = None, start_paused: bool = False,
                 on_view_error: Callable[[str], None] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> None:
        self.workspace = workspace
        self.settings = settings
        self.relay = relay
        if transcript_path is None:
            from rlm_tui.transcript import default_transcript_path

            transcript_path = default_transcript_path()
        self.transcript_path = transcript_path
        self.query = ""
        self.run: Run | None = None
        self.start_paused = start_paused
        self._on_view_error = on_view_error
        self._on_warning = on_warning
        self._halt_reason: str | None = None
        self._writer: TranscriptWriter | None = None
        self._tracing: Any = None  # rlm_tui.telemetry's SessionTracing, with --otel
        self._notes: list[str] = []  # queued before the run exists (its models are checked)

    @property
    def control(self) -> RunControl | None:
        return self.run.control if self.run is not None else None

    @property
    def is_open(self) -> bool:
        """It takes follow-up questions: its REPL is open."""
        return self.run is not None and self.run.is_open

    def halt(self, reason: str = "halted by the user") -> None:
        """Stop now; before the run has started, it will not start."""
        if self.run is not None:
            self.run.control.halt(reason)
        else:
            self._halt_reason = reason

    def add_note(self, text: str) -> None:
        """A note for the root model's next call (the first, before the run exists)."""
        if self.run is not None:
            self.run.add_note(text)
        else:
            self._notes.append(text)

    async def execute(self, query: str) -> Outcome:
        """The session's first question, to the end of its turn; the REPL stays open."""
        self.query = query
        run = await self._open(query)
        if run is None:
            return self._not_started()
        return await run.start(query, self.workspace.run_context(), keep_open=True)

    async def execute_fork(self, plan: Any, note: str | None = None) -> Outcome:
        """A new session continuing `plan` (engine.fork.ForkPlan) from the state after its
        iteration K: the REPL rebuilt from the record, then live; it stays open."""
        self.query = plan.query
        run = await self._open(plan.query, fork_of=plan.fork_of)
        if run is None:
            return self._not_started()
        return await run.start_fork(plan, self.workspace.run_context(), note=note,
                                    keep_open=True)

    async def ask(self, query: str) -> Outcome:
        """A follow-up question on the open session (turn 2, 3, ...)."""
        assert self.run is not None
        return await self.run.ask(query)

    async def close(self) -> None:
        """End the session: its REPL's worker process, then its transcript. Idempotent."""
        try:
            if self.run is not None:
                await self.run.close()
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            if self._tracing is not None:  # the spans in hand leave, a bounded wait
                tracing, self._tracing = self._tracing, None
                await asyncio.to_thread(tracing.close)

    def _not_started(self) -> Outcome:
        from rlm_tui.engine.run_context import Outcome

        return Outcome("halted", reason=self._halt_reason)

    async def _open(self, query: str, *, fork_of: dict[str, Any] | None = None) -> Run | None:
        """The run, its models checked and its transcript open; None if halted meanwhile."""
        from rlm_tui.engine.workspace import check_models

        # Checking a real model loads litellm (~3 s the first time): off the event loop.
        await asyncio.to_thread(check_models, self.settings)
        from rlm_tui.engine.workspace import cost_budget_warning
        from rlm_tui.transcript import TranscriptWriter

        warning = cost_budget_warning(self.settings, self.workspace.client)
        if warning is not None and self._on_warning is not None:
            self._on_warning(warning)
        if self._halt_reason is not None:
            return None
        self._writer = TranscriptWriter(self.transcript_path, query=query,
                                        settings=self.settings.public_dict(),
                                        context=self.workspace.context_summary(),
                                        fork_of=fork_of)
        bus = EventBus(on_error=self._subscriber_failed)
        bus.subscribe(self._writer)
        bus.subscribe(self.relay)
        self._trace(bus)
        self.run = self.workspace.new_run(bus, start_paused=self.start_paused,
                                          settings=self.settings)
        for note in self._notes:
            self.run.add_note(note)
        self._notes.clear()
        return self.run

    def _trace(self, bus: EventBus) -> None:
        """OpenTelemetry spans of the session, with --otel (the CLI checked the extra).
        The exporter warns from its own thread: the warning is handed to the app's loop."""
        if not (self.settings.otel or self.settings.otel_content):
            return
        from rlm_tui.errors import RlmTuiError
        from rlm_tui.telemetry import start_tracing

        loop = asyncio.get_running_loop()

        def warn(message: str) -> None:
            if self._on_warning is not None:
                loop.call_soon_threadsafe(self._on_warning, message)

        try:
            self._tracing = start_tracing(content=self.settings.otel_content,
                                          on_warning=warn)
        except RlmTuiError as exc:  # the extra went missing: the run goes on, untraced
            warn(str(exc))
            return
        bus.subscribe(self._tracing)

    def _subscriber_failed(self, subscriber: Any, exc: BaseException) -> None:
        from rlm_tui.transcript import TranscriptWriter

        what = "the transcript" if isinstance(subscriber, TranscriptWriter) else "a view"
        if self._on_view_error is not None:
            self._on_view_error(f"{what} stopped with an error and was detached: {exc}")
