"""A run started from the app: its models checked, its transcript written as it happens, and
its events relayed to the app; it runs on the app's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlm_tui.events import EventBus

if TYPE_CHECKING:  # the engine's imports cost ~0.2 s: the app's first frame does without
    from rlm_tui.engine.control import RunControl
    from rlm_tui.engine.session import Outcome, Run
    from rlm_tui.engine.workspace import Workspace


class LiveRun:
    """One query over the loaded workspace. `execute()` runs it to the end.

    It raises `RlmTuiError` (a `ModelCallError` among them) when the run cannot start: no
    model, an unknown model, a missing API key, a transcript that cannot be written. Once
    started, model failures end the run as "failed" (an `Outcome`), never as an exception.
    """

    def __init__(self, workspace: Workspace, query: str, relay: Callable[[Any], None], *,
                 transcript_path: Path | None = None, start_paused: bool = False,
                 on_view_error: Callable[[str], None] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> None:
        self.workspace = workspace
        self.query = query
        self.relay = relay
        if transcript_path is None:
            from rlm_tui.transcript import default_transcript_path

            transcript_path = default_transcript_path()
        self.transcript_path = transcript_path
        self.run: Run | None = None
        self.start_paused = start_paused
        self._on_view_error = on_view_error
        self._on_warning = on_warning
        self._halt_reason: str | None = None

    @property
    def control(self) -> RunControl | None:
        return self.run.control if self.run is not None else None

    def halt(self, reason: str = "halted by the user") -> None:
        """Stop now; before the run has started, it will not start."""
        if self.run is not None:
            self.run.control.halt(reason)
        else:
            self._halt_reason = reason

    async def execute(self) -> Outcome:
        from rlm_tui.engine.session import Outcome
        from rlm_tui.transcript import TranscriptWriter

        # Checking a real model loads litellm (~3 s the first time): off the event loop.
        await asyncio.to_thread(self.workspace.check_models)
        from rlm_tui.engine.workspace import cost_budget_warning

        warning = cost_budget_warning(self.workspace.settings, self.workspace.client)
        if warning is not None and self._on_warning is not None:
            self._on_warning(warning)
        if self._halt_reason is not None:
            return Outcome("halted", reason=self._halt_reason)
        settings = self.workspace.settings
        writer = TranscriptWriter(self.transcript_path, query=self.query,
                                  settings=settings.public_dict(),
                                  context=self.workspace.context_summary())
        bus = EventBus(on_error=self._subscriber_failed)
        bus.subscribe(writer)
        bus.subscribe(self.relay)
        try:
            self.run = self.workspace.new_run(bus, start_paused=self.start_paused)
            return await self.run.start(self.query, self.workspace.run_context())
        finally:
            writer.close()

    def _subscriber_failed(self, subscriber: Any, exc: BaseException) -> None:
        from rlm_tui.transcript import TranscriptWriter

        what = "the transcript" if isinstance(subscriber, TranscriptWriter) else "a view"
        if self._on_view_error is not None:
            self._on_view_error(f"{what} stopped with an error and was detached: {exc}")
