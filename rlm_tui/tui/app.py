"""The app's composition root: lays out the panes, loads the workspace, starts runs, and
routes keys and events. Each pane lives in its own module under `widgets/`.

Kept off the first frame (it must show in well under a second):
- the workspace (`Workspace.open`, ~1 s on a big repo, plus the engine's imports): loaded in a
  thread after the screen is up, the context pane showing a loading state meanwhile;
- litellm (~3 s to import): warmed up in the background after mount, and only when a real
  model is configured (the demo model never needs it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, HelpPanel, TabbedContent, TabPane
from textual.worker import Worker

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.errors import RlmTuiError
from rlm_tui.tui.commands import RunCommands
from rlm_tui.tui.file_index import FileIndex
from rlm_tui.tui.heap import collect_for_new_run, freeze_long_lived, tune_collector
from rlm_tui.tui.live_run import LiveRun
from rlm_tui.tui.preferences import Preferences
from rlm_tui.tui.relay import FLUSH_INTERVAL_S, EventRelay, EventView
from rlm_tui.tui.run_summary import RunSummary
from rlm_tui.tui.screens.confirm import ConfirmScreen
from rlm_tui.tui.screens.export import ExportScreen
from rlm_tui.tui.session_export import (
    FORMATS_HINT,
    default_export_path,
    export_format,
    export_session,
    export_transcript_file,
)
from rlm_tui.tui.themes import DEFAULT_THEME, load_themes
from rlm_tui.tui.widgets.call_detail import CallDetail
from rlm_tui.tui.widgets.cell_log import CellLog
from rlm_tui.tui.widgets.context_browser import ContextBrowser
from rlm_tui.tui.widgets.file_preview import FilePreview
from rlm_tui.tui.widgets.final_answer import FinalAnswer
from rlm_tui.tui.widgets.query_bar import QueryBar
from rlm_tui.tui.widgets.reasoning import RootReasoning
from rlm_tui.tui.widgets.status_bar import RunStatusBar
from rlm_tui.tui.widgets.subcall_tree import SubCallTree

if TYPE_CHECKING:
    from rlm_tui.engine.workspace import Workspace

# Tab moves between these panes, in this order (ids).
PANE_ORDER = ("context", "preview", "reasoning", "cells", "calls", "inspector", "query")
# Quitting during a run halts it and waits this long for its worker processes to end.
HALT_WAIT_S = 10.0
# Textual's palette commands that RunCommands has in the app's own words: Help (f1), Zoom
# (z, the whole pane rather than the focused widget) and Quit (which asks when a run is live).
SUPERSEDED_SYSTEM_COMMANDS = frozenset({"Keys", "Maximize", "Minimize", "Quit"})


class RlmApp(App[None]):
    """Watch and steer RLM runs over one loaded context."""

    TITLE = "rlm-tui"
    PANES: ClassVar[tuple[str, ...]] = PANE_ORDER  # what tab moves between
    AUTO_FOCUS = None  # on_mount chooses: the query box, or the calls when a query runs
    # A zoomed pane still has the run's state above it and the keys below it.
    ALLOW_IN_MAXIMIZED_VIEW = "RunStatusBar, Footer"
    COMMANDS = App.COMMANDS | {RunCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pause", "Pause/resume",
                tooltip="Pause after the step in hand, or resume the run"),
        Binding("n", "step", "Step", tooltip="Run exactly one more iteration, then pause"),
        Binding("x", "halt", "Halt", tooltip="Stop the run now, keeping what it found"),
        Binding("r", "new_query", "Run", tooltip="Type a new query to run on this context"),
        Binding("e", "export", "Export",
                tooltip="Write this session to a file (JSONL, Markdown, HTML, JSON)"),
        Binding("z", "zoom", "Zoom", tooltip="Let the focused pane fill the screen, or restore it"),
        # The filter box says "( / )" wherever the focus is; in the browser, its own binding
        # shows in the footer.
        Binding("slash", "focus_filter", "Filter", show=False,
                tooltip="Filter the context's files by name"),
        Binding("tab", "next_pane", "Next pane", show=False, priority=True),
        Binding("shift+tab", "previous_pane", "Previous pane", show=False, priority=True),
        Binding("f1", "toggle_help", "Help", tooltip="Show or hide the keys of the focused pane"),
        Binding("ctrl+q", "quit", "Quit", priority=True,
                tooltip="Quit (a live run is halted cleanly first)"),
    ]
    # Below three context-column widths, the screen is "-narrow" (see CSS).
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (3 * 38, "-wide")]
    CSS = """
    Screen { layout: vertical; }
    #panes {
        layout: grid;
        grid-size: 3 2;
        grid-columns: 38 1fr 1fr;
        grid-rows: 1fr 1fr;
        height: 1fr;
    }
    /* Narrower than three 38-column panes (an 80-column terminal, say), the context column
       would leave the others about 20 columns: all three share the width instead. */
    Screen.-narrow #panes { grid-columns: 1fr 1fr 1fr; }
    .pane {
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        background: $background;
        height: 1fr;
    }
    .pane:focus-within {
        border: round $primary;
        border-title-color: $primary;
        border-title-style: bold;
    }
    #inspector > ContentTabs { height: 2; }
    #inspector TabPane { padding: 0; }
    """

    def __init__(self, source: str, settings: Settings, *, query: str | None = None,
                 stdin: BinaryIO | None = None, clock: Callable[[], float] = time.time,
                 preferences_path: Path | None = None, start_paused: bool = False) -> None:
        super().__init__()
        self.source = source
        self.settings = settings
        self.clock = clock
        self.relay = EventRelay()
        self.summary = RunSummary()
        self.workspace: Workspace | None = None
        self.live_run: LiveRun | None = None
        self.exit_error: str | None = None  # why the app quit with a non-zero code
        self.events: list[ev.EventBase] = []  # the session's events, when fed, not run
        self._stdin = stdin
        self._pending_query = query.strip() if query and query.strip() else None
        self._run_worker: Worker[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._preferences_path = preferences_path
        self._start_paused = start_paused  # runs wait for space or n before their first turn
        self._quit_question: ConfirmScreen | None = None  # "Halt and quit?", while it is open
        self._quitting = False  # said yes: halting the run, then exiting
        self.preferences = Preferences.load(preferences_path)
        loaded = load_themes()
        for theme in loaded.themes.values():
            self.register_theme(theme)
        self._theme_errors = loaded.errors
        wanted = settings.theme or self.preferences.theme or DEFAULT_THEME
        if wanted not in self.available_themes:
            self._theme_errors.append(f"no theme named {wanted!r}: using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        self.theme = wanted

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title not in SUPERSEDED_SYSTEM_COMMANDS:
                yield command

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield RunStatusBar(id="status")
        with Grid(id="panes"):
            yield ContextBrowser(id="context", classes="pane")
            yield RootReasoning(id="reasoning", classes="pane")
            yield SubCallTree(id="calls", classes="pane")
            yield FilePreview(id="preview", classes="pane")
            yield CellLog(id="cells", classes="pane")
            with TabbedContent(id="inspector", classes="pane"):
                with TabPane("Answer", id="answer-tab"):
                    yield FinalAnswer(id="answer")
                with TabPane("Call", id="call-tab"):
                    yield CallDetail(id="call-detail")
        yield QueryBar(id="query")
        yield Footer()

    def on_mount(self) -> None:
        # Held, not queried: timers may still tick while the screen is taken down.
        self.status_bar = self.query_one(RunStatusBar)
        self.context_browser = self.query_one(ContextBrowser)
        self.preview = self.query_one(FilePreview)
        self.calls = self.query_one(SubCallTree)
        self.answer = self.query_one(FinalAnswer)
        self.call_detail = self.query_one(CallDetail)
        self.inspector = self.query_one("#inspector", TabbedContent)
        self.query_bar = self.query_one(QueryBar)
        self.views: list[EventView] = [
            self.context_browser, self.query_one(RootReasoning), self.query_one(CellLog),
            self.calls, self.answer, self.call_detail,
        ]
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        for message in self._theme_errors:
            self.notify(message, title="Theme", severity="warning")
        self.set_interval(FLUSH_INTERVAL_S, self.flush_events)
        self.set_interval(1.0, self._show_status)
        self._open()
        tune_collector()
        self.call_after_refresh(freeze_long_lived)

    def _open(self) -> None:
        """What the panes show first: the context loading, the query box or a run starting
        (a replay opens on its transcript instead: see replay_app.py)."""
        status = self.status_bar
        status.model = self.settings.model or "no model"
        status.max_cost = self.settings.max_cost
        status.max_iterations = self.settings.max_iterations
        self.summary.state = "loading"
        self._show_status()
        self.context_browser.show_loading(self._context_name())
        query_bar = self.query_bar
        if self._pending_query:
            query_bar.set_query(self._pending_query)
            self.calls.focus()
        else:
            query_bar.edit()
        self._load_workspace()
        # After the first frame: litellm's import would otherwise compete with it.
        self.set_timer(1.0, self._warm_up_models)

    def _context_name(self) -> str:
        if self.source == "-":
            return "stdin"
        return Path(self.source).expanduser().resolve().name or self.source

    # -- loading -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load")
    def _load_workspace(self) -> None:
        # Deferred: the engine's modules (sandbox, context loader, pydantic models) cost
        # ~0.3 s to import, and the load itself ~1 s on a big repo.
        from rlm_tui.engine.workspace import Workspace

        try:
            workspace = Workspace.open(self.source, self.settings, stdin=self._stdin)
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
        self.context_browser.show_index(index)
        freeze_long_lived()  # the index lives as long as the context
        self.preview.set_reader(workspace.pack.read_text)
        if self.summary.state == "loading":
            self.summary.state = "idle"
            self._show_status()
        if self._pending_query:
            query, self._pending_query = self._pending_query, None
            await self.start_run(query)

    def _load_failed(self, message: str) -> None:
        self.exit_error = message
        self.exit(return_code=2)

    def _warm_up_models(self) -> None:
        from rlm_tui.lm.demo import is_demo

        models = [self.settings.model, self.settings.effective_sub_model]
        if any(m and not is_demo(m) for m in models):
            from rlm_tui.lm import warm_up

            async def warm_up_then_freeze() -> None:
                await warm_up()
                freeze_long_lived()  # litellm's modules: most of the heap from now on

            self.run_worker(warm_up_then_freeze(), group="warm-up", exit_on_error=False)

    # -- runs --------------------------------------------------------------------------------

    @property
    def run_is_live(self) -> bool:
        return self.live_run is not None and self.summary.live

    async def start_run(self, query: str) -> None:
        """Run `query` over the loaded context (a run must not be live)."""
        assert self.workspace is not None
        await self._clear_for_new_run()
        self.summary = RunSummary(state="starting", query=query,
                                  max_iterations=self.settings.max_iterations)
        self.query_bar.set_query(query)
        self.live_run = LiveRun(self.workspace, query, self.relay,
                                start_paused=self._start_paused,
                                on_view_error=lambda m: self.notify(m, severity="error"))
        self._show_status()
        self.refresh_bindings()
        self._run_worker = self.run_worker(self._drive(self.live_run), name="run", group="run",
                                           exit_on_error=False)

    async def _drive(self, live: LiveRun) -> None:
        try:
            outcome = await live.execute()
        except RlmTuiError as exc:
            await self.flush_events()
            self._run_could_not_start(str(exc))
            return
        except Exception as exc:  # a bug: say so in the app rather than crash it
            await self.flush_events()
            self._run_could_not_start(f"{type(exc).__name__}: {exc}")
            return
        await self.flush_events()
        if live.run is None:  # halted before it began
            self.summary.state, self.summary.reason = "halted", outcome.reason
            self._show_status()
            return
        ended = {"answered": "answered", "halted": "halted", "failed": "failed"}
        self.notify(f"Transcript: {live.transcript_path}",
                    title=f"Run {ended.get(outcome.status, outcome.status)}", timeout=8)
        self.refresh_bindings()

    def _run_could_not_start(self, message: str) -> None:
        self.summary.state, self.summary.reason = "failed", message
        self._show_status()
        self.answer.show_error(message)
        self.inspector.active = "answer-tab"
        self.notify(message, title="The run could not start", severity="error", timeout=20)
        self.refresh_bindings()

    async def _clear_for_new_run(self) -> None:
        """Empty the panes; what the last run left is collected now, as the user asked for
        something new, rather than in a pause at some later keypress (see heap.py)."""
        replaced = self.has_session
        await self._reset_views()
        if replaced:
            collect_for_new_run()

    async def _reset_views(self) -> None:
        self.relay.take()
        self.events = []
        for view in self.views:
            await view.reset()
        self.inspector.active = "answer-tab"

    def feed(self, events: Iterable[ev.EventBase]) -> None:
        """Show events that did not come from a run started here (tests, benchmarks, and
        later replay): they pass through the same relay as a live run's."""
        for event in events:
            self.events.append(event)
            self.relay(event)

    async def flush_events(self) -> None:
        """Hand the events that arrived since the last flush to every pane (the timer calls
        this ~30 times a second)."""
        async with self._flush_lock:
            batch = self.relay.take()
            if not batch:
                return
            live_before = self.summary.live
            answered = False
            for event in batch:
                self.summary.apply(event)
                if isinstance(event, (ev.FinalAnswer, ev.SessionFinished)) and (
                        event.session_id == self.summary.root_session):
                    answered = True
            for view in self.views:
                await view.show_events(batch)
            if answered:
                self.inspector.active = "answer-tab"
            self._show_status()
            if self.summary.live != live_before or any(
                    isinstance(e, ev.StateChanged) for e in batch):
                self.refresh_bindings()

    def _show_status(self) -> None:
        self.status_bar.show(self.summary, self.clock())

    # -- controls ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        control = self.live_run.control if self.live_run is not None else None
        state = self.summary.state
        if action == "toggle_pause":
            return True if control is not None and state in (
                "running", "paused", "stepping") else None
        if action == "step":
            return True if control is not None and state in ("running", "paused") else None
        if action == "halt":
            return True if self.run_is_live else None
        if action == "export":
            return True if self.has_session else None
        return True

    @property
    def has_session(self) -> bool:
        """A session to export: a run started here, or events fed."""
        return bool(self.events) or self.live_run is not None

    def action_toggle_pause(self) -> None:
        if self.live_run is not None and self.live_run.control is not None:
            self.live_run.control.toggle_pause()

    def action_step(self) -> None:
        if self.live_run is not None and self.live_run.control is not None:
            self.live_run.control.step()

    def action_halt(self) -> None:
        if self.live_run is not None and self.run_is_live:
            self.live_run.halt("halted by the user")

    def action_new_query(self) -> None:
        self.query_bar.edit()

    @on(QueryBar.Submitted)
    async def _query_submitted(self, event: QueryBar.Submitted) -> None:
        if self.run_is_live:
            self.notify("A run is live: halt it (x) before starting another.",
                        severity="warning")
        elif self.workspace is None:
            self._pending_query = event.query
            self.notify("The context is still loading: the run starts when it is ready.")
        else:
            self.calls.focus()
            await self.start_run(event.query)

    # -- panes ---------------------------------------------------------------------------------

    @on(ContextBrowser.FileHighlighted)
    def _file_highlighted(self, event: ContextBrowser.FileHighlighted) -> None:
        self.preview.show_file(event.path)

    @on(SubCallTree.CallChosen)
    def _call_chosen(self, event: SubCallTree.CallChosen) -> None:
        self.call_detail.show_call(event.call)
        self.inspector.active = "call-tab"

    def _pane_of(self, widget: Widget | None) -> Widget | None:
        while widget is not None and isinstance(widget, Widget):
            if widget.id in PANE_ORDER:
                return widget
            widget = widget.parent  # type: ignore[assignment]
        return None

    def _focus_pane(self, step: int) -> None:
        if self.screen is not self.screen_stack[0]:  # a dialog: tab moves inside it
            (self.screen.focus_next if step > 0 else self.screen.focus_previous)()
            return
        current = self._pane_of(self.focused)
        panes = self.PANES
        index = panes.index(current.id) if current is not None and current.id in panes else -1
        target_id = panes[(index + step) % len(panes)]
        pane = self.query_one(f"#{target_id}")
        if self.screen.maximized is not None:
            self.screen.maximize(pane, container=False)
        target = getattr(pane, "focus_target", pane)
        if target_id == "inspector":
            target = self.query_one("#inspector ContentTabs")
        target.focus()

    def action_next_pane(self) -> None:
        self._focus_pane(+1)

    def action_previous_pane(self) -> None:
        self._focus_pane(-1)

    def action_zoom(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        pane = self._pane_of(self.focused)
        if pane is not None and pane.id != "query":
            self.screen.maximize(pane, container=False)

    def action_focus_filter(self) -> None:
        if self.screen.maximized not in (None, self.context_browser):
            self.screen.minimize()  # the filter of a pane out of sight would filter unseen
        self.context_browser.action_focus_filter()

    def action_toggle_help(self) -> None:
        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    # -- export ----------------------------------------------------------------------------------

    def action_export(self) -> None:
        if not self.has_session:
            self.notify("Nothing to export yet: run a query first.", severity="warning")
            return
        if any(isinstance(screen, ExportScreen) for screen in self.screen_stack):
            return  # asked again from the palette over the dialog: one dialog is enough
        name = self.summary.root_session or "session"
        self.push_screen(ExportScreen(str(default_export_path(name)), FORMATS_HINT),
                         self._export_to)

    def _export_to(self, path: str | None) -> None:
        if path:  # absolute (the dialog's): the note says where the file went
            self._write_export(Path(path))

    @work(thread=True, group="export", exit_on_error=False)
    def _write_export(self, path: Path) -> None:
        try:
            count = self._export(path)
        except (RlmTuiError, OSError) as exc:
            self.call_from_thread(self.notify, str(exc), title="Export failed",
                                  severity="error")
            return
        self.call_from_thread(self.notify, f"{count:,} events written to {path}",
                              title=f"Exported ({export_format(path)})")

    def _export(self, path: Path) -> int:
        """Write the session to `path`: a live run's from its transcript on disk (complete,
        flushed as it happened), a fed session's from memory. Returns the events written."""
        live = self.live_run
        if live is not None and live.transcript_path.exists():
            return export_transcript_file(live.transcript_path, path)
        events = list(self.events)
        context: dict[str, Any] = (self.workspace.context_summary()
                                   if self.workspace is not None else {})
        export_session(path, events, query=self.summary.query,
                       settings=self.settings.public_dict(), context=context)
        return len(events)

    # -- themes and quitting -------------------------------------------------------------------

    def _remember_theme(self, theme: Any) -> None:
        if theme.name != self.preferences.theme:
            self.preferences.theme = theme.name
            self.preferences.save(self._preferences_path)

    async def action_quit(self) -> None:
        question = self._quit_question
        if question is not None and question in self.screen_stack:
            # Asked already: ctrl+q again is the answer (ctrl+q twice quits), never a second
            # dialog; one opened over it (the palette) is closed first.
            if self.screen is question:
                self._answer_quit_question()
            else:
                question.pop_until_active()
                self.call_later(self._answer_quit_question)
        elif self._quitting:
            self.exit()  # asked again while the run halts: now (on_unmount still halts it)
        elif self.run_is_live:
            self._quit_question = ConfirmScreen(
                "A run is live. Halt it and quit? What it found so far stays in its "
                "transcript.", yes="Halt and quit", no="Keep running")
            self.push_screen(self._quit_question, self._quit_confirmed)
        else:
            self.exit()

    def _answer_quit_question(self) -> None:
        question = self._quit_question
        if question is not None and self.screen is question:
            question.dismiss(True)

    def _quit_confirmed(self, yes: bool | None) -> None:
        self._quit_question = None
        if yes:
            self._quitting = True
            self.run_worker(self._halt_and_exit(), group="quit", exit_on_error=False)

    async def _halt_and_exit(self) -> None:
        if self.live_run is not None:
            self.live_run.halt("the app was closed")
        await self._wait_for_run()
        self.exit()

    async def _wait_for_run(self) -> None:
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
            await self._wait_for_run()
        if self.workspace is not None:
            self.workspace.close()
