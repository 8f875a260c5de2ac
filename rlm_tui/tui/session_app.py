"""What the live app (app.py) and the replay (replay_app.py) share: the session screen, themes,
the keys that move between panes, export, help and quit.

A subclass adds what is its own (runs and their controls, or playback) and answers two
questions: `export_to(path)` (write its session to a file) and `has_session`. It lists its
bindings in full (`inherit_bindings=False`), splicing in `SESSION_BINDINGS` where they belong
in the footer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget

from rlm_tui import events as ev
from rlm_tui.errors import RlmTuiError
from rlm_tui.transcript.export import FORMATS_HINT, default_export_path, format_of_path
from rlm_tui.tui.commands import SessionCommands
from rlm_tui.tui.forking import ForkPoint, selected_point
from rlm_tui.tui.heap import freeze_long_lived, tune_collector
from rlm_tui.tui.preferences import Preferences
from rlm_tui.tui.relay import EventRelay
from rlm_tui.tui.run_summary import RunSummary
from rlm_tui.tui.screens.confirm import ConfirmScreen
from rlm_tui.tui.screens.export import ExportScreen
from rlm_tui.tui.screens.fork import ForkChoice, ForkScreen
from rlm_tui.tui.screens.timeline import TimelineScreen
from rlm_tui.tui.session_screen import PANE_ORDER, SessionScreen
from rlm_tui.tui.themes import DEFAULT_THEME, load_themes
from rlm_tui.tui.widgets.keys_help import HelpSection
from rlm_tui.tui.widgets.pane_keys import PANE_NAMES

# Textual's palette commands that SessionCommands has in the app's own words: Help (f1), Zoom
# (z, the whole pane rather than the focused widget) and Quit (which asks when a run is live).
SUPERSEDED_SYSTEM_COMMANDS = frozenset({"Keys", "Maximize", "Minimize", "Quit"})

# The keys every session app has, in their footer order. A tooltip goes on from its
# description (the help shows them side by side): it never repeats it.
SESSION_BINDINGS: list[BindingType] = [
    Binding("f", "fork", "Fork",
            tooltip="A new session from the state after the iteration selected in Calls"),
    Binding("e", "export", "Export",
            tooltip="Save this session to a file: JSONL, Markdown, HTML, JSON or an rlms log"),
    Binding("z", "zoom", "Zoom", tooltip="Let the focused pane fill the screen; again to "
            "restore the layout"),
    Binding("t", "timeline", "Timeline", show=False,
            tooltip="The run as a picture: iterations and sub-calls over time, drawn as it "
            "goes; t again goes back"),
    # The filter box says "( / )" wherever the focus is; in the browser, its own binding
    # shows in the footer.
    Binding("slash", "focus_filter", "Filter", show=False,
            tooltip="Show only the context's files whose names match what you type"),
    # In a small terminal (session_screen.SMALL_WIDTH) one pane shows: these bring each in
    # front (the line above it, widgets/pane_keys.py, lists them); in a wide one they focus it.
    *(Binding(str(n), f"show_pane({n})", name, show=False, tooltip=f"Show the {name} pane")
      for n, name in enumerate(PANE_NAMES, 1)),
    Binding("tab", "next_pane", "Next pane", show=False, priority=True),
    Binding("shift+tab", "previous_pane", "Previous pane", show=False, priority=True),
    Binding("f1", "toggle_help", "Help", tooltip="What each key does; f1 again closes it"),
    Binding("ctrl+q", "quit", "Quit", priority=True,
            tooltip="Leave rlm-tui; a live run is halted cleanly first"),
]


# The help's parts every session app has (F1: widgets/keys_help.py), after the app's own.
SESSION_HELP: tuple[HelpSection, ...] = (
    HelpSection("The panes", "Context: the files, and how much of each the run read · "
                "Preview: the file under the cursor · Reasoning: what the model wrote · "
                "Cells: the code it ran, with its output · Calls: every model call (enter "
                "opens one in Call) · Answer: the final answer · t: the timeline, the "
                "run over time.",
                ("show_pane", "next_pane", "previous_pane", "zoom", "timeline", "focus_filter")),
    HelpSection("Keep it", "Each session is saved as a transcript while it runs; "
                "`rlm-tui replay FILE` plays one back.", ("export", "fork")),
    HelpSection("This app", "", ("command_palette", "toggle_help", "quit")),
)


def session_bindings(own: list[BindingType]) -> list[BindingType]:
    """A session app's keys in footer order: `own` (what the app is for first), then
    SESSION_BINDINGS (quit last, as in the replay and the palette), then Textual's app keys
    that ours do not replace (ctrl+c's hint)."""
    ours = [*own, *SESSION_BINDINGS]
    keys = {b.key for b in ours if isinstance(b, Binding)}
    return [*ours, *(b for b in App.BINDINGS if isinstance(b, Binding) and b.key not in keys)]


class SessionApp(App[None]):
    """One session on the session screen; see the module's docstring for what to add."""

    TITLE = "rlm-tui"
    PANES: ClassVar[tuple[str, ...]] = PANE_ORDER  # what tab moves between
    AUTO_FOCUS = None  # the subclass chooses where the focus starts
    # One provider, Textual's system commands included: see commands.py.
    COMMANDS = {SessionCommands}
    BINDINGS: ClassVar[list[BindingType]] = SESSION_BINDINGS
    HELP_SECTIONS: ClassVar[tuple[HelpSection, ...]] = SESSION_HELP  # the subclass's first

    def __init__(self, *, theme: str | None, preferences_path: Path | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._session: SessionScreen
        self._quit_question: ConfirmScreen | None = None  # "Halt and quit?", while it is open
        self._quitting = False  # said yes: halting the run, then exiting
        self.clock = clock
        self._preferences_path = preferences_path
        self.preferences = Preferences.load(preferences_path)
        loaded = load_themes()
        for theme_ in loaded.themes.values():
            self.register_theme(theme_)
        self._theme_errors = loaded.errors
        wanted = theme or self.preferences.theme or DEFAULT_THEME
        if wanted not in self.available_themes:
            self._theme_errors.append(f"no theme named {wanted!r}: using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        self.theme = wanted

    # -- the session screen ------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        self._session = SessionScreen(panes=self.PANES, clock=lambda: self.clock(),
                                      on_mounted=self._session_mounted)
        return self._session

    def _session_mounted(self) -> None:
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        for message in self._theme_errors:
            self.notify(message, title="Theme", severity="warning")
        self.session.on_batch(lambda batch: self.on_session_batch(batch.events))
        self.session.on_batch(lambda _: self._timeline_changed())
        self.open_session()
        tune_collector()
        self.call_after_refresh(freeze_long_lived)

    def open_session(self) -> None:
        """What the panes show first (the subclass's)."""

    def on_session_batch(self, events: list[ev.EventBase]) -> None:
        """Events have reached the panes (the subclass's reaction, if any)."""

    @property
    def session(self) -> SessionScreen:
        """The session screen (made when the app starts, kept while it closes)."""
        return self._session

    @property
    def summary(self) -> RunSummary:
        return self.session.summary

    @property
    def relay(self) -> EventRelay:
        return self.session.relay

    def feed(self, events: Iterable[ev.EventBase]) -> None:
        """Show events that did not come from a run started here (a replay, tests)."""
        self.session.feed(events)

    async def flush_events(self) -> None:
        await self.session.flush_events()

    def show_status(self) -> None:
        self.session.show_status()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title not in SUPERSEDED_SYSTEM_COMMANDS:
                yield command

    # -- panes -------------------------------------------------------------------------------

    def _pane_of(self, widget: Widget | None) -> Widget | None:
        return self.session.pane_of(widget)

    def _focus_pane(self, step: int) -> None:
        if self.screen is not self.screen_stack[0]:  # a dialog: tab moves inside it
            (self.screen.focus_next if step > 0 else self.screen.focus_previous)()
            return
        self.session.focus_pane(step)

    def action_next_pane(self) -> None:
        self._focus_pane(+1)

    def action_previous_pane(self) -> None:
        self._focus_pane(-1)

    def action_show_pane(self, number: int) -> None:
        self.session.show_pane(number)

    def action_zoom(self) -> None:
        self.session.zoom()

    def action_focus_filter(self) -> None:
        self.session.focus_filter()

    def action_toggle_help(self) -> None:
        self.session.toggle_help()

    # -- the timeline ----------------------------------------------------------------------

    def action_timeline(self) -> None:
        """The timeline screen over the panes, or (from it) back to them."""
        shown = [s for s in self.screen_stack if isinstance(s, TimelineScreen)]
        if shown:
            if self.screen is shown[-1]:
                self.screen.dismiss()
            return
        if self.screen is not self.screen_stack[0]:
            return  # from the palette over a dialog: the dialog first
        self.push_screen(TimelineScreen(lambda: self.session.tree))

    def _timeline_changed(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, TimelineScreen):
                screen.mark_changed()

    # -- export ------------------------------------------------------------------------------

    @property
    def has_session(self) -> bool:
        """A session to export (the subclass's)."""
        return False

    def export_to(self, path: Path) -> int:
        """Write the session to `path`, in the format its suffix names; the events written.
        InputError (one line naming the path) when it cannot be written (the subclass's)."""
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export":
            return True if self.has_session else None
        if action in ("zoom", "focus_filter") and isinstance(self.screen, TimelineScreen):
            return None  # the panes are under the timeline
        if action == "fork":
            root = self.session.tree.root
            return bool(root is not None and root.iterations)
        return True

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
            count = self.export_to(path)
        except (RlmTuiError, OSError) as exc:
            self.call_from_thread(self.notify, str(exc), title="Export failed",
                                  severity="error")
            return
        self.call_from_thread(self.notify, f"{count:,} events written to {path}",
                              title=f"Exported ({format_of_path(path)})")

    # -- fork --------------------------------------------------------------------------------

    def action_fork(self) -> None:
        point = selected_point(self.session.calls)
        root = self.session.tree.root
        if point is None or root is None:
            self.notify("Select an iteration of the session in Calls, then press f to fork "
                        "from it.", severity="warning")
            return
        if any(isinstance(screen, ForkScreen) for screen in self.screen_stack):
            return
        self.push_screen(ForkScreen(point.turn, point.iteration, model=root.root_model,
                                    sub_model=root.sub_model),
                         lambda choice: choice and self.fork_chosen(point, choice))

    def fork_chosen(self, point: ForkPoint, choice: ForkChoice) -> None:
        """Fork the session from `point` with `choice` (the subclass's)."""

    # -- quitting ----------------------------------------------------------------------------

    @property
    def run_is_live(self) -> bool:
        """A run is going on: quitting asks first, and halts it (the subclass's)."""
        return False

    async def halt_for_quit(self) -> None:
        """Halt the live run and wait for it to end (the subclass's)."""

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
        await self.halt_for_quit()
        self.exit()

    # -- themes ------------------------------------------------------------------------------

    def _remember_theme(self, theme: Any) -> None:
        if theme.name != self.preferences.theme:
            self.preferences.theme = theme.name
            self.preferences.save(self._preferences_path)
