"""The live app's composition root: loads the workspace and starts sessions on it (a first
question, follow-ups on the same REPL, a fork). Steering keys: steering.py; panes, layout and
feeding: session_screen.py; keys and export every session app shares: session_app.py.

Kept off the first frame (it must show in well under a second):
- the workspace (`Workspace.open`, ~1 s on a big repo, plus the engine's imports): loaded in a
  thread after the screen is up, the context pane showing a loading state meanwhile;
- litellm (~3 s to import): warmed up by the engine in the background after mount, and only
  when a real model is configured (the demo model never needs it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from textual import on, work
from textual.binding import BindingType
from textual.worker import Worker

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.errors import RlmTuiError
from rlm_tui.transcript.export import export_session, export_transcript_file
from rlm_tui.tui.file_index import FileIndex
from rlm_tui.tui.forking import ForkRequest
from rlm_tui.tui.heap import collect_for_new_run, freeze_long_lived
from rlm_tui.tui.live_run import LiveRun
from rlm_tui.tui.model_setup import ModelSetup
from rlm_tui.tui.run_summary import RunSummary
from rlm_tui.tui.session_app import SessionApp, session_bindings
from rlm_tui.tui.session_screen import PANE_ORDER
from rlm_tui.tui.steering import STEERING_BINDINGS, SteeringActions, models_changed
from rlm_tui.tui.widgets.query_bar import QueryBar

if TYPE_CHECKING:
    from rlm_tui.context.sources import Source
    from rlm_tui.engine.run_context import Outcome
    from rlm_tui.engine.workspace import Workspace

HALT_WAIT_S = 10.0  # quitting during a run halts it, waits this long for its workers to end

__all__ = ["PANE_ORDER", "RlmApp"]


class RlmApp(ModelSetup, SteeringActions, SessionApp, inherit_bindings=False):
    """Watch and steer RLM runs over one loaded context (steering.py; model_setup.py)."""

    BINDINGS: ClassVar[list[BindingType]] = session_bindings(STEERING_BINDINGS)

    def __init__(self, source: str | Sequence[str | Source], settings: Settings, *,
                 query: str | None = None, stdin: BinaryIO | None = None,
                 clock: Callable[[], float] = time.time, preferences_path: Path | None = None,
                 start_paused: bool = False, fork: ForkRequest | None = None,
                 tools: Any = None) -> None:
        super().__init__(theme=settings.theme, preferences_path=preferences_path, clock=clock)
        self.source, self.settings = source, settings
        self._tools = tools  # engine.tools.ToolSet, loaded before the app started
        self.workspace: Workspace | None = None
        self.live_run: LiveRun | None = None
        self.exit_error: str | None = None  # why the app quit with a non-zero code
        self._stdin = stdin
        self._pending_query = query.strip() if query and query.strip() else None
        self._pending_fork = fork  # from a replay: started once the context is loaded
        self._run_worker: Worker[None] | None = None
        self._start_paused = start_paused  # runs wait for space or n before their first turn
        self._was_live = False

    # -- opening -----------------------------------------------------------------------------

    def open_session(self) -> None:
        """The context loading, then the query box or a run starting."""
        session = self.session
        status = session.status_bar
        status.model = self.settings.model or "no model"
        status.max_cost = self.settings.max_cost
        status.max_iterations = self.settings.max_iterations
        self.summary.state = "loading"
        self.show_status()
        session.context_browser.show_loading(self._context_name())
        if self._pending_query:
            session.query_bar.set_query(self._pending_query)
            session.focus_run()
        else:
            session.query_bar.edit()
        self._load_workspace()
        # After the first frame: litellm's import would otherwise compete with it.
        self.set_timer(1.0, self._warm_up_models)
        self.ask_for_model_first()

    def _context_name(self) -> str:
        if not isinstance(self.source, str) or self.source == "-":
            return "stdin" if self.source == "-" else f"{len(self.source)} sources"
        return Path(self.source).expanduser().resolve().name or self.source

    @work(thread=True, exclusive=True, group="load")
    def _load_workspace(self) -> None:
        # Deferred: the engine's modules (sandbox, context loader, pydantic models) cost
        # ~0.3 s to import, and the load itself ~1 s on a big repo.
        from rlm_tui.engine.workspace import Workspace

        try:
            workspace = Workspace.open(self.source, self.settings, stdin=self._stdin,
                                       tools=self._tools)
        except RlmTuiError as exc:
            self.call_from_thread(self._load_failed, str(exc))
            return
        index = FileIndex.from_pack(workspace.pack, self._context_name())
        try:
            self.call_from_thread(self._loaded, workspace, index)
        except RuntimeError:  # the app closed while loading
            workspace.close()

    async def _loaded(self, workspace: Workspace, index: FileIndex) -> None:
        self.workspace = workspace
        self.session.context_browser.show_index(index)
        freeze_long_lived()  # the index lives as long as the context
        self.session.preview.set_reader(workspace.pack.read_text)
        if self.summary.state == "loading":
            self.summary.state = "idle"
            self.show_status()
        if self._pending_fork is not None:
            fork, self._pending_fork = self._pending_fork, None
            await self.start_fork(fork)
        elif self._pending_query:
            query, self._pending_query = self._pending_query, None
            await self.start_run(query)

    def _load_failed(self, message: str) -> None:
        self.exit_error = message
        self.exit(return_code=2)

    def _warm_up_models(self) -> None:
        async def warm_up_then_freeze() -> None:
            from rlm_tui.engine.workspace import warm_up_models

            if await warm_up_models(self.settings):
                freeze_long_lived()  # litellm's modules: most of the heap from now on

        self.run_worker(warm_up_then_freeze, group="warm-up", exit_on_error=False)

    # -- runs --------------------------------------------------------------------------------

    @property
    def run_is_live(self) -> bool:
        return self.live_run is not None and self.summary.live

    @property
    def has_session(self) -> bool:
        """A session to export: a run started here, or events fed."""
        return bool(self.session.events) or self.live_run is not None

    async def start_run(self, query: str) -> None:
        """Ask `query` (a run must not be live): a follow-up question when the session is
        open, else the first question of a new session."""
        assert self.workspace is not None
        if self.model_first(query):
            return
        live = self.live_run
        self.session.query_bar.set_query(query)
        if live is not None and live.is_open:
            self.summary.state = "starting"
            self.drive_turn(live, live.ask(query))
            return
        live = await self.new_session(RunSummary(
            state="starting", query=query, max_iterations=self.settings.max_iterations))
        self.drive_turn(live, live.execute(query))

    async def new_session(self, summary: RunSummary) -> LiveRun:
        assert self.workspace is not None
        if self.live_run is not None:
            await self.live_run.close()
        await self._clear_for_new_run(summary)
        self.session.query_bar.set_follow_up(False)
        self.live_run = LiveRun(self.workspace, self.settings, self.relay,
                                start_paused=self._start_paused,
                                on_view_error=lambda m: self.notify(m, severity="error"),
                                on_warning=lambda m: self.notify(m, title="Budget",
                                                                 severity="warning", timeout=20))
        return self.live_run

    def drive_turn(self, live: LiveRun, turn: Awaitable[Outcome]) -> None:
        self.show_status()
        self.refresh_bindings()
        self._run_worker = self.run_worker(self._drive(live, turn), name="run", group="run",
                                           exit_on_error=False)

    async def _drive(self, live: LiveRun, turn: Awaitable[Outcome]) -> None:
        try:
            outcome = await turn
        except Exception as exc:  # noqa: BLE001 - a bug too: said in the app, not a crash
            await self.flush_events()
            message = str(exc) if isinstance(exc, RlmTuiError) else f"{type(exc).__name__}: {exc}"
            self._run_could_not_start(message)
            return
        await self.flush_events()
        if live.run is None:  # halted before it began
            self.summary.state, self.summary.reason = "halted", outcome.reason
            self.show_status()
            return
        turn_no = self.summary.turn
        title = f"Turn {turn_no} {outcome.status}" if turn_no > 1 else f"Run {outcome.status}"
        self.session.query_bar.set_follow_up(live.is_open)
        more = ("\nAsk a follow-up in the query box (r), or ctrl+n for a new session."
                if live.is_open else "")
        self.notify(f"Transcript: {live.transcript_path}{more}", title=title, timeout=8)
        self.refresh_bindings()

    def _run_could_not_start(self, message: str) -> None:
        session = self.session
        self.summary.state, self.summary.reason = "failed", message
        self.show_status()
        session.answer.show_error(message)
        session.inspector.active = "answer-tab"
        self.notify(message, title="The run could not start", severity="error", timeout=20)
        self.refresh_bindings()

    async def _clear_for_new_run(self, summary: RunSummary | None = None) -> None:
        """Empty the panes; what the last run left is collected now, as the user asked for
        something new, rather than in a pause at some later keypress (see heap.py)."""
        replaced = self.has_session
        await self.session.reset_views(summary)
        if replaced:
            collect_for_new_run()

    def on_session_batch(self, events: list[ev.EventBase]) -> None:
        changed = models_changed(events, self.summary.root_session)
        if changed is not None:
            self.session.status_bar.model = changed.root_model
        live = self.summary.live
        if live != self._was_live or any(isinstance(e, ev.StateChanged) for e in events):
            self.refresh_bindings()
        self._was_live = live

    # -- controls ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        steering = self.check_steering(action, parameters)
        if steering is not NotImplemented:
            return steering
        return super().check_action(action, parameters)

    @on(QueryBar.Submitted)
    async def _query_submitted(self, event: QueryBar.Submitted) -> None:
        if self.run_is_live:
            self.notify("A run is live: halt it (x) before starting another.",
                        severity="warning")
        elif self.workspace is None:
            self._pending_query = event.query
            self.notify("The context is still loading: the run starts when it is ready.")
        else:
            self.session.focus_run()
            await self.start_run(event.query)

    # -- export ------------------------------------------------------------------------------

    def export_to(self, path: Path) -> int:
        """A live run's session from its transcript on disk (complete, flushed as it
        happened), a fed session's from memory."""
        live = self.live_run
        if live is not None and live.transcript_path.exists():
            return export_transcript_file(live.transcript_path, path)
        events = list(self.session.events)
        context = self.workspace.context_summary() if self.workspace is not None else {}
        export_session(path, events, query=self.summary.query,
                       settings=self.settings.public_dict(), context=context)
        return len(events)

    # -- quitting ----------------------------------------------------------------------------

    async def halt_for_quit(self) -> None:
        if self.live_run is not None:
            self.live_run.halt("the app was closed")
        await self.wait_for_run()
        if self.live_run is not None:
            await self.live_run.close()

    async def wait_for_run(self) -> None:
        """Until the run's worker ends (it was told to halt), HALT_WAIT_S at most."""
        worker = self._run_worker
        if worker is not None:
            try:
                await asyncio.wait_for(worker.wait(), HALT_WAIT_S)
            except Exception:  # noqa: BLE001 - cancelled or timed out: go on anyway
                pass

    async def on_unmount(self) -> None:
        if self.run_is_live and self.live_run is not None:
            self.live_run.halt("the app was closed")
            # Let the run end on this loop: its worker process is stopped and its pipes
            # closed here, not finalised after the loop has gone.
            await self.wait_for_run()
        if self.live_run is not None:
            await self.live_run.close()  # the open session's REPL worker
        if self.workspace is not None:
            self.workspace.close()
