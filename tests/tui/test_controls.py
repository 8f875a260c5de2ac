"""The app's controls against live runs of the demo model: keys, query box, quit, export."""

from __future__ import annotations

import json
from pathlib import Path

from textual.command import CommandList

from rlm_tui import events as ev
from rlm_tui.tui.screens.confirm import ConfirmScreen
from rlm_tui.tui.screens.export import ExportScreen
from rlm_tui.tui.widgets.final_answer import FinalAnswer
from rlm_tui.tui.widgets.query_bar import QueryBar
from rlm_tui.tui.widgets.status_bar import RunStatusBar
from tests.tui.conftest import ended, loaded, make_app, wait_for
from tests.tui.event_script import EventScript, mid_run

QUERY = "How does the sandbox stop a runaway cell?"


def iterations(app) -> int:
    return app.summary.iteration


async def test_a_query_from_the_command_line_runs_to_an_answer(sample):
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        assert app.summary.state == "done"
        answer = app.query_one(FinalAnswer)
        assert answer.answer and "demo model" in answer.answer
        assert answer.status_line == "Answer"
        assert app.query_one("#inspector").active == "answer-tab"
        assert app.live_run.transcript_path.exists()


async def test_the_query_box_starts_a_run(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.summary.state == "idle" and app.live_run is None
        assert app.focused is app.query_one(QueryBar).input  # no --query: the box waits
        await pilot.press(*"where is the cell timeout", "enter")
        await ended(pilot)
        assert app.summary.query == "where is the cell timeout"
        assert app.summary.state == "done"


async def test_r_asks_a_follow_up_on_the_same_session_and_repl(sample):
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        first = app.live_run
        assert first.is_open  # the REPL waits for a follow-up
        app.query_one("#calls").focus()
        await pilot.press("r")
        assert app.focused is app.query_one(QueryBar).input
        await pilot.press(*"what does util.py do", "enter")
        await ended(pilot)
        assert app.live_run is first and first.is_open  # the same session, turn 2
        assert app.summary.turn == 2
        assert app.summary.query == "what does util.py do" and app.summary.state == "done"


async def test_ctrl_n_closes_the_session_and_starts_a_new_one(sample):
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        first = app.live_run
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.live_run is None, what="the session to close")
        assert not first.is_open  # its REPL's worker has ended
        assert app.summary.state == "idle" and not app.session.tree.root
        box = app.query_one(QueryBar).input
        assert app.focused is box and box.value == ""
        assert str(app.query_one("#query-label").render()) == "Query"
        await pilot.press(*"what does util.py do", "enter")
        await ended(pilot)
        assert app.live_run is not first
        assert app.live_run.workspace is first.workspace  # loaded once
        assert app.summary.turn == 1 and app.summary.state == "done"


async def test_step_runs_exactly_one_iteration(sample):
    app = make_app(sample, query=QUERY, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        assert iterations(app) == 0
        await pilot.press("n")
        await wait_for(pilot, lambda: app.summary.reason == "stepped one iteration",
                       what="the step to end")
        assert app.summary.state == "paused" and iterations(app) == 1
        await pilot.press("n")
        await wait_for(pilot, lambda: iterations(app) == 2 and app.summary.state == "paused",
                       what="the second step")
        await pilot.pause(0.3)
        assert iterations(app) == 2  # and no further


async def test_space_pauses_and_resumes(sample):
    app = make_app(sample, query=QUERY, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        app.query_one("#calls").focus()  # space on a tree pauses too, not folds
        await pilot.press("space")
        await wait_for(pilot, lambda: app.summary.state in ("running", "done"), what="running")
        await ended(pilot)
        assert app.summary.state == "done"
        states = [e.state for e in _transcript_events(app) if e.type == "state_changed"]
        assert states[:2] == ["paused", "running"] and states[-1] == "done"


async def test_x_halts_the_run_and_keeps_what_it_found(sample):
    app = make_app(sample, query=QUERY, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.summary.reason == "stepped one iteration",
                       what="one step")
        await pilot.press("x")
        await ended(pilot, timeout=10)
        assert app.summary.state == "halted"
        assert app.summary.reason == "halted by the user"
        assert app.query_one(FinalAnswer).status_line.startswith("Halted: halted by the user")
        assert app.query_one("#cells").cells  # the first iteration's cell is still shown


async def test_controls_do_nothing_without_a_live_run(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        app.query_one("#calls").focus()
        for action in ("toggle_pause", "step", "halt"):
            assert app.check_action(action, ()) is None  # shown disabled in the footer
        await pilot.press("space", "n", "x")
        assert app.summary.state == "idle"


async def test_quit_during_a_run_asks_then_halts_it_cleanly(sample):
    app = make_app(sample, query=QUERY, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep running
        assert not isinstance(app.screen, ConfirmScreen) and app.is_running
        await pilot.press("ctrl+q", "y")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    finished = [e for e in _transcript_events(app) if e.type == "session_finished"]
    assert finished and finished[-1].status == "halted"
    assert finished[-1].reason == "the app was closed"


def dialogs(app, kind) -> int:
    return sum(isinstance(screen, kind) for screen in app.screen_stack)


async def test_ctrl_q_again_answers_the_quit_question_rather_than_asking_twice(sample):
    app = make_app(sample, query=QUERY, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        await pilot.press("ctrl+q")
        assert dialogs(app, ConfirmScreen) == 1
        await pilot.press("ctrl+q")
        assert dialogs(app, ConfirmScreen) == 0  # answered yes, not asked again
        await pilot.press("ctrl+q")  # while the run halts: still no question
        assert dialogs(app, ConfirmScreen) == 0
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    finished = [e for e in _transcript_events(app) if e.type == "session_finished"]
    assert finished and finished[-1].status == "halted"


async def test_ctrl_q_over_the_palette_answers_the_quit_question_under_it(sample):
    app = make_app(sample, query=QUERY, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        await pilot.press("ctrl+q", "ctrl+p")
        await pilot.pause()
        assert dialogs(app, ConfirmScreen) == 1 and not isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
        assert dialogs(app, ConfirmScreen) == 0


async def test_export_from_the_palette_in_the_export_dialog_opens_no_second_one(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_a_finished_session(pilot)
        app.query_one("#calls").focus()
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        await pilot.press("ctrl+p", *"export")
        await palette_found(pilot, "Export")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), what="the dialog")
        await pilot.pause()
        assert dialogs(app, ExportScreen) == 1


async def palette_found(pilot, title: str) -> None:
    """Wait until the command palette's first match is `title`."""

    def first() -> str:
        found = pilot.app.screen.query(CommandList)
        if not found or found.first().option_count == 0:
            return ""
        return found.first().get_option_at_index(0).prompt.plain.split("\n")[0]

    await wait_for(pilot, lambda: first() == title, what=f"the palette to find {title}")


async def test_quit_without_a_run_exits_at_once(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")


async def test_e_exports_the_session_as_jsonl(sample, tmp_path: Path):
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        app.query_one("#calls").focus()
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        (tmp_path / "out").mkdir()  # an export creates no directory of the user's
        await pilot.press(*"out/session.jsonl", "enter")
        target = tmp_path / "out" / "session.jsonl"
        await wait_for(pilot, target.exists, what="the export")
        await app.workers.wait_for_complete()
    lines = target.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "header"
    assert target.read_text() == app.live_run.transcript_path.read_text()
    assert json.loads(lines[-1])["type"] == "state_changed"


async def test_export_to_markdown_renders_the_session(sample, tmp_path: Path):
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        app.query_one("#calls").focus()
        await pilot.press("e", *"session.md", "enter")
        target = tmp_path / "session.md"
        await wait_for(pilot, target.exists, what="the export")
        await app.workers.wait_for_complete()
        notes = [n.message for n in app._notifications if n.title.startswith("Exported")]
        assert notes and notes[-1].endswith(f"written to {target}")  # the full path
    text = target.read_text()
    assert QUERY in text and "demo model" in text


async def show_a_finished_session(pilot) -> None:
    """Fixed events instead of a live run, where only a session on screen matters."""
    await loaded(pilot)
    script = EventScript()
    mid_run(script)
    script.finish("done")
    pilot.app.feed(script.take())
    await pilot.app.flush_events()


async def test_escape_cancels_the_export(sample, tmp_path: Path):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_a_finished_session(pilot)
        app.query_one("#calls").focus()
        await pilot.press("e", "escape")
        assert not isinstance(app.screen, ExportScreen)
    assert not list(tmp_path.glob("rlm-tui-*"))


async def test_tab_moves_between_panes_and_z_zooms_one(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        app.query_one("#context-tree").focus()
        await pilot.pause()
        seen = []
        for _ in range(7):
            seen.append(app._pane_of(app.focused).id)
            await pilot.press("tab")
        assert seen == ["context", "preview", "reasoning", "cells", "calls", "inspector",
                        "query"]
        assert app._pane_of(app.focused).id == "context"  # around again
        await pilot.press("shift+tab")
        assert app._pane_of(app.focused).id == "query"
        await pilot.press("tab", "z")
        assert app.screen.maximized is app.query_one("#context")
        await pilot.pause()
        status = app.query_one(RunStatusBar)
        assert status.region.height == 1 and status.region.y == 0  # the state stays in view
        assert app.query_one("#context").region.y == 1
        await pilot.press("z")
        assert app.screen.maximized is None


async def test_f1_shows_and_hides_the_keys(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("f1")
        assert app.screen.query("KeysHelp")
        await pilot.press("f1")
        await pilot.pause()
        assert not app.screen.query("KeysHelp")


async def test_the_palette_runs_the_apps_commands(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_a_finished_session(pilot)
        app.query_one("#calls").focus()
        await pilot.press("ctrl+p", *"export")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), what="export")


async def test_the_palette_lists_each_command_once_with_its_key(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_a_finished_session(pilot)
        app.query_one("#calls").focus()
        await pilot.press("ctrl+p")
        await pilot.pause(0.5)
        commands = app.screen.query_one(CommandList)
        shown = [commands.get_option_at_index(i).prompt.plain.split("\n")
                 for i in range(commands.option_count)]
        titles = [title for title, *_ in shown]
        assert len(titles) == len(set(titles))  # Textual's own Quit, Keys, Maximize are not
        assert {"Ask", "Fork", "Export", "Zoom", "Help", "Quit", "Theme"} <= set(titles)
        assert not {"Keys", "Maximize"} & set(titles)
        helps = {title: rest[0] for title, *rest in shown if rest}
        assert helps["Ask"].endswith("[r]") and helps["Export"].endswith("[e]")
        assert helps["Quit"].endswith("[^q]")


def _transcript_events(app) -> list:
    lines = app.live_run.transcript_path.read_text().splitlines()[1:]
    return [ev.parse_event(line) for line in lines]
