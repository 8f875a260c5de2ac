"""Steering the live app's session: pause, step and halt (space, n, x), a question (r: a
follow-up once a turn has ended), a note to the model (i), the held cell (a, c, s), which
cells are held (the palette), switching models (the palette), a fresh session (ctrl+n) and a
fork (f, after the Calls pane's selected iteration).

`SteeringActions` is mixed into RlmApp (app.py), which owns the run and its worker; these are
the keys' and the palette commands' side. Every decision goes to the engine's Run
(engine/run.py), which records it as an event, so the panes show it as they show the rest.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import Binding, BindingType

from rlm_tui import events as ev
from rlm_tui.errors import RlmTuiError
from rlm_tui.tui.forking import ForkPoint, ForkRequest
from rlm_tui.tui.screens.cell_editor import CellEditorScreen
from rlm_tui.tui.run_summary import RunSummary
from rlm_tui.tui.session_app import SESSION_HELP
from rlm_tui.tui.screens.fork import ForkChoice
from rlm_tui.tui.screens.prompt import PromptScreen
from rlm_tui.tui.widgets.cell_log import describe_cell
from rlm_tui.tui.widgets.keys_help import HelpSection

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from rlm_tui.config import Settings
    from rlm_tui.engine.run import Run
    from rlm_tui.engine.run_context import Outcome
    from rlm_tui.tui.live_run import LiveRun
    from rlm_tui.tui.session_app import SessionApp

    _App = SessionApp
else:
    _App = object

STEERING_BINDINGS: list[BindingType] = [
    Binding("space", "toggle_pause", "Pause/resume",
            tooltip="Pause after the step in hand; space again goes on"),
    Binding("n", "step", "Step", tooltip="One more iteration, then pause again"),
    Binding("x", "halt", "Halt", tooltip="Stop the run now; what it found so far is kept"),
    Binding("r", "new_query", "Ask", tooltip="Type a question about the context (a "
            "follow-up on this session once its turn has ended)"),
    Binding("i", "note", "Note", tooltip="A line for the model to read before its next call"),
    Binding("a", "approve_cell", "Approve", tooltip="Run the held cell as the model wrote it"),
    Binding("c", "edit_cell", "Edit",
            tooltip="Change the held cell's code, then run it (ctrl+s); escape goes back"),
    Binding("s", "skip_cell", "Skip",
            tooltip="Do not run the held cell; the model is told"),
    Binding("ctrl+n", "new_session", "New session", show=False,
            tooltip="Start over on the same context (this session's REPL is closed)"),
]
# The help's parts (F1) for the live app's own keys and commands.
STEERING_HELP: tuple[HelpSection, ...] = (
    HelpSection("Ask", "Type a question in the box at the bottom and press enter. The model "
                "never reads the files whole: it writes Python that looks through them, and "
                "asks sub-models about the pieces it picks.",
                ("new_query", "choose_model", "switch_model", "new_session")),
    HelpSection("Steer a run", "The panes fill in as the model works: stop it after any "
                "step, tell it something, or end it.", ("toggle_pause", "step", "halt", "note")),
    HelpSection("Check its code first", "Choose in the palette which cells of code wait for "
                "you before they run; a held cell shows in Cells.",
                ("set_approve_mode", "approve_cell", "edit_cell", "skip_cell")),
)
CELL_ACTIONS = frozenset({"approve_cell", "edit_cell", "skip_cell"})

# Which cells wait for approval (--approve): the palette's title for each, and its help.
APPROVE_MODES: dict[str, tuple[str, str]] = {
    "none": ("none", "No cell waits: every cell runs as the model wrote it"),
    "cells": ("every cell", "Every cell waits for your approval before it runs (a, c, s)"),
    "final": ("cells that end the run (FINAL)",
              "Cells that call FINAL or FINAL_VAR, and the replies that end the run, wait for "
              "your approval"),
}
# The palette's own commands (no key): (title, help, action).
PALETTE_ACTIONS: tuple[tuple[str, str, str], ...] = (
    *((f"Hold cells: {title}", help_text, f"set_approve_mode('{mode}')")
      for mode, (title, help_text) in APPROVE_MODES.items()),
    ("Switch root model…", "From the next call on; its name and key are checked first",
     "switch_model('root')"),
    ("Switch sub-model…", "For the next sub-calls; its name and key are checked first",
     "switch_model('sub')"),
)


class SteeringActions(_App):
    """The live app's steering keys and commands (mixed into RlmApp)."""

    PALETTE_ACTIONS: ClassVar[tuple[tuple[str, str, str], ...]] = PALETTE_ACTIONS
    HELP_SECTIONS: ClassVar[tuple[HelpSection, ...]] = (*STEERING_HELP, *SESSION_HELP)

    if TYPE_CHECKING:  # what the mixin reads and calls of RlmApp (app.py)
        settings: Settings
        live_run: LiveRun | None

        async def new_session(self, summary: RunSummary) -> LiveRun: ...
        def drive_turn(self, live: LiveRun, turn: Awaitable[Outcome]) -> None: ...
        async def wait_for_run(self) -> None: ...
        async def _clear_for_new_run(self, summary: RunSummary | None = None) -> None: ...

    @property
    def steered_run(self) -> Run | None:
        live = self.live_run
        return live.run if live is not None else None

    def check_steering(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """True: the action applies now; False: hidden (no use now); None: disabled;
        NotImplemented: not a steering action."""
        run = self.steered_run
        control = run.control if run is not None else None
        state = self.summary.state
        if action in ("toggle_pause", "step") and state == "held":
            return False  # a held cell waits for a, c or s: their room in the footer
        if action == "toggle_pause":
            return True if control is not None and state in (
                "running", "paused", "stepping") else None
        if action == "step":
            return True if control is not None and state in ("running", "paused") else None
        if action == "halt":
            return True if self.run_is_live else None
        if action in CELL_ACTIONS:
            return run is not None and run.held is not None
        if action == "note":
            live = self.live_run
            return live is not None and (self.run_is_live or live.is_open)
        if action == "new_session":
            return True if self.has_session else None
        if action == "set_approve_mode":
            return parameters[:1] != (self.settings.approve,) if parameters else False
        if action == "switch_model":
            return True
        return NotImplemented  # type: ignore[return-value]

    # -- controls ----------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        run = self.steered_run
        if run is not None:
            run.control.toggle_pause()

    def action_step(self) -> None:
        run = self.steered_run
        if run is not None:
            run.control.step()

    def action_halt(self) -> None:
        if self.live_run is not None and self.run_is_live:
            self.live_run.halt("halted by the user")

    def action_new_query(self) -> None:
        self.session.query_bar.edit()

    async def action_new_session(self) -> None:
        """The session shown ends (halted first if live; its REPL closed); the query box
        waits for a new session's first question."""
        await self.end_session()
        await self._clear_for_new_run(RunSummary())
        self.live_run = None
        self.session.query_bar.set_follow_up(False)
        self.session.query_bar.set_query("")
        self.session.query_bar.edit()
        self.refresh_bindings()
        self.notify("A new session: ask its first question.", timeout=4)

    async def end_session(self, reason: str = "a new session was started") -> None:
        """Halt the session shown if it is live, then close it (its REPL's worker)."""
        live = self.live_run
        if live is not None:
            if self.run_is_live:
                live.halt(reason)
                await self.wait_for_run()
            await live.close()

    # -- a note ----------------------------------------------------------------------------

    def action_note(self) -> None:
        live = self.live_run
        if live is None:
            return
        hint = ("enter queues it: the model reads it before its next call · escape cancels"
                if self.run_is_live else "the session has ended its turn: the note waits for "
                "your next question · enter queues it · escape cancels")
        self.push_screen(PromptScreen("A note to the model", placeholder="e.g. check the tests "
                                     "before answering", hint=hint, input_id="note-input"),
                        self._note_written)

    def _note_written(self, text: str | None) -> None:
        if text and self.live_run is not None:
            self.live_run.add_note(text)

    # -- the held cell -----------------------------------------------------------------------

    def action_approve_cell(self) -> None:
        run = self.steered_run
        if run is not None:
            run.approve_cell()

    def action_skip_cell(self) -> None:
        run = self.steered_run
        if run is not None:
            run.skip_cell()

    def action_edit_cell(self) -> None:
        run = self.steered_run
        held = run.held if run is not None else None
        if held is None:
            return
        self.push_screen(CellEditorScreen(held.code, title=describe_cell(held.cell_id),
                                         reason=held.reason),
                        partial(self._cell_edited, held.cell_id))

    def _cell_edited(self, cell_id: str, code: str | None) -> None:
        run = self.steered_run
        if code is None or run is None:
            return  # back without running: the cell is still held
        held = run.held
        if held is None or held.cell_id != cell_id:
            self.notify("That cell is no longer held: the edit was not run.", severity="warning")
            return
        run.edit_cell(code)

    def action_set_approve_mode(self, mode: str) -> None:
        if mode not in APPROVE_MODES:
            return
        self.settings = self.settings.model_copy(update={"approve": mode})
        run = self.steered_run
        if run is not None:
            run.set_approve_mode(mode)  # type: ignore[arg-type]
        self.notify(APPROVE_MODES[mode][1], title=f"Cells held: {APPROVE_MODES[mode][0]}")

    # -- models ------------------------------------------------------------------------------

    def action_switch_model(self, which: str) -> None:
        run = self.steered_run
        settings = run.settings if run is not None else self.settings
        current = (settings.model if which == "root" else settings.effective_sub_model) or ""
        name = "root model" if which == "root" else "sub-model"
        self.push_screen(PromptScreen(f"Switch the {name}", value=current,
                                     hint="from the next call on · it is checked first "
                                     "(provider, API key) · enter switches · escape cancels",
                                     input_id="model-input"),
                        partial(self._model_chosen, which, current))

    def _model_chosen(self, which: str, current: str, name: str | None) -> None:
        if name and name != current:
            self.run_worker(self._switch_model(which, name), group="models",
                           exit_on_error=False)

    async def _switch_model(self, which: str, name: str) -> None:
        from rlm_tui.engine.workspace import check_models  # deferred: the engine's imports
        update = {"model": name} if which == "root" else {"sub_model": name}
        run = self.steered_run
        candidate = (run.settings if run is not None else self.settings).model_copy(
            update=update)
        problem = await checked(check_models, candidate)
        if problem is not None:
            self.notify(problem, title="Model not switched", severity="error", timeout=12)
            return
        self.settings = self.settings.model_copy(update=update)  # the next sessions' too
        if run is not None and self.live_run is not None and self.live_run.is_open:
            run.set_models(**update)
        else:
            self.session.status_bar.model = self.settings.model or ""
        what = "Root model" if which == "root" else "Sub-model"
        self.notify(f"{what}: {name}, from the next call", title="Model switched")

    # -- a fork ------------------------------------------------------------------------------

    def fork_chosen(self, point: ForkPoint, choice: ForkChoice) -> None:
        """The fork dialog's answer, in the live app: fork the session shown."""
        live = self.live_run
        if live is None or not live.transcript_path.exists():
            self.notify("This session has no transcript to fork from.", severity="warning")
            return
        request = ForkRequest(live.transcript_path, point, choice)
        self.run_worker(self.start_fork(request), group="fork", exit_on_error=False)

    async def start_fork(self, request: ForkRequest) -> None:
        """A new live session from `request`'s point, on a new run with its own transcript;
        the session shown (halted first if it is live) and its transcript stay as they were."""
        planned = await self.fork_plan(request)
        if planned is None:
            return
        plan, settings = planned
        await self.end_session("forked into a new session")
        self.settings = settings
        self.session.status_bar.model = settings.model or ""
        live = await self.new_session(RunSummary(state="starting", query=plan.query,
                                                max_iterations=settings.max_iterations))
        self.session.query_bar.set_query(plan.query)
        point = request.point
        where = f"iteration {point.iteration}" + (f" of turn {point.turn}" if point.turn > 1
                                                   else "")
        self.notify(f"From {request.transcript.name}, after {where}", title="Forked", timeout=8)
        self.drive_turn(live, live.execute_fork(plan, request.choice.note))

    async def fork_plan(self, request: ForkRequest) -> tuple[Any, Settings] | None:
        """The plan and the fork's settings, or None after saying (one line) why not: the
        models checked, the transcript read up to now (it is flushed as it is written)."""
        from rlm_tui.engine.workspace import check_models  # deferred: the engine's imports
        from rlm_tui.forks import load_fork
        choice = request.choice
        settings = self.settings.model_copy(update={"model": choice.model,
                                                    "sub_model": choice.sub_model})
        problem = await checked(check_models, settings)
        if problem is None:
            try:
                loaded = await asyncio.to_thread(load_fork, request.transcript,
                                                 request.point.at)
            except RlmTuiError as exc:
                problem = str(exc)
        if problem is not None:
            self.notify(problem, title="Not forked", severity="error", timeout=12)
            return None
        return loaded.plan, settings


async def checked(check: Any, settings: Settings) -> str | None:
    """Run a model check in a thread (it may load litellm, ~3 s); its one-line problem, or
    None when the models are usable."""
    try:
        await asyncio.to_thread(check, settings)
    except RlmTuiError as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - a bug too: said in one line, not a crash
        return f"{type(exc).__name__}: {exc}"
    return None


def models_changed(events: list[ev.EventBase], root: str | None) -> ev.ModelsChanged | None:
    """The last change of models in the root session among `events`, if any."""
    found = None
    for event in events:
        if isinstance(event, ev.ModelsChanged) and event.session_id == root:
            found = event
    return found
