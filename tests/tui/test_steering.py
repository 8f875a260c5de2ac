"""Steering a live run from the app's keys (issue 18), against the demo model and a real
worker: a note (i), a held cell run (a), edited (c, ctrl+s), left held (c, escape) or
skipped (s), a follow-up question, a fork (f) live and from a replay, and the palette's
commands that hold cells and switch models."""

from __future__ import annotations

import json

from pathlib import Path

import pytest

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.errors import InputError
from rlm_tui.transcript import read_transcript
from rlm_tui.tui.app import RlmApp
from rlm_tui.tui.forking import ForkPoint, ForkRequest
from rlm_tui.tui.launch import launch_fork
from rlm_tui.tui.replay_app import ReplayApp
from rlm_tui.tui.screens.cell_editor import CellEditorScreen
from rlm_tui.tui.screens.fork import ForkChoice, ForkScreen
from rlm_tui.tui.screens.prompt import PromptScreen
from rlm_tui.tui.widgets.cell_log import CellLog
from rlm_tui.tui.widgets.final_answer import FinalAnswer
from rlm_tui.tui.widgets.reasoning import RootReasoning
from rlm_tui.tui.widgets.status_bar import RunStatusBar
from rlm_tui.tui.widgets.subcall_tree import SubCallTree
from tests.tui.conftest import ended, make_app, wait_for
from tests.tui.event_script import T0

QUERY = "How does the sandbox stop a runaway cell?"
NOTE = "look at sandbox/host.py first"


def label(tree: SubCallTree, node_id: str) -> str:
    node = tree._by_id[node_id]
    return tree.render_label(node, tree.rich_style, tree.rich_style).plain


def transcript_events(app: RlmApp) -> list[ev.EventBase]:
    return list(read_transcript(app.live_run.transcript_path).events)


async def held(pilot, what: str = "a held cell") -> str:
    """Until a cell is held (shown as held); its node id."""
    app = pilot.app

    def is_held() -> bool:
        run = app.live_run.run if app.live_run is not None else None
        return (run is not None and run.held is not None and app.summary.state == "held"
                and app.session.tree.held_cell is not None)

    await wait_for(pilot, is_held, what=what)
    return app.live_run.run.held.cell_id


def cell_view(app: RlmApp, node_id: str):
    return next(c for c in app.query_one(CellLog).cells if c.node_id == node_id)


async def type_into_prompt(pilot, text: str) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PromptScreen), what="the prompt")
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, PromptScreen),
                   what="the prompt to close")


# -- notes ------------------------------------------------------------------------------------

async def test_i_queues_a_note_the_model_reads_before_its_next_call(sample):
    app = make_app(sample, query=QUERY, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        await pilot.press("i")
        await type_into_prompt(pilot, NOTE)
        reasoning = app.query_one(RootReasoning)
        await wait_for(pilot, lambda: app.session.tree.pending_notes == [NOTE],
                       what="the note queued")
        queued = reasoning.queued_notes
        assert queued.has_class("-shown") and NOTE in str(queued.render())
        assert "queued" in str(queued.render())
        await pilot.press("n")  # one iteration: the note goes with its call
        await wait_for(pilot, lambda: app.summary.reason == "stepped one iteration",
                       what="the step")
        first = reasoning.sections[0]
        assert first.notes == [NOTE]
        note_line = first.query(".note").first()
        assert str(note_line.render()) == f"✎ you: {NOTE}"
        assert not queued.has_class("-shown") and app.session.tree.pending_notes == []
        events = transcript_events(app)
        assert any(isinstance(e, ev.NoteAdded) and e.text == NOTE for e in events)
        delivered = [e for e in events if isinstance(e, ev.MessageAdded) and e.kind == "note"]
        assert len(delivered) == 1 and delivered[0].node_id.endswith(".i1")


async def test_a_note_after_the_run_ended_waits_for_the_next_question(sample):
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        await pilot.press("i")
        hint = str(app.screen.query_one("#hint").render())
        assert "waits for your next question" in hint
        await type_into_prompt(pilot, NOTE)
        await wait_for(pilot, lambda: app.session.tree.pending_notes == [NOTE],
                       what="the note queued")
        await pilot.press("r", *"and the memory limit", "enter")
        await wait_for(pilot, lambda: app.summary.turn == 2, what="turn 2")
        await ended(pilot)
        turn2 = app.session.tree.nodes[f"{app.summary.root_session}.t2.i1"]
        assert turn2.notes == [NOTE]
        section = app.query_one(RootReasoning).sections[-1]
        assert section.label == "Turn 2 · iteration 1" and section.notes == [NOTE]


# -- held cells -------------------------------------------------------------------------------

async def test_a_runs_the_held_cell_as_the_model_wrote_it(sample):
    app = make_app(sample, query=QUERY, approve="cells")
    async with app.run_test(size=(120, 40)) as pilot:
        cell = await held(pilot)
        bar = str(app.query_one(RunStatusBar).render())
        assert "HELD" in bar and "awaits approval: a run · c edit · s skip" in bar
        view = cell_view(app, cell)
        assert view.awaiting and "held: every cell is held" in str(
            view.query_one(".cell-header").render())
        assert "‖ cell 1  held: awaits approval" in label(app.query_one(SubCallTree), cell)
        await pilot.press("a")
        await wait_for(pilot, lambda: view.finished is not None, what="the cell to run")
        assert view.decision == "approved" and not view.finished.skipped
        assert "· approved" in str(view.query_one(".cell-header").render())
        node = app.session.tree.nodes[cell]
        assert node.decision == "approved" and node.ran_code is None
        assert await held(pilot, "the next cell held") != cell  # every cell is held


async def test_c_then_ctrl_s_runs_the_edited_code_and_shows_both(sample):
    app = make_app(sample, query=QUERY, approve="cells")
    async with app.run_test(size=(120, 40)) as pilot:
        cell = await held(pilot)
        model_code = app.live_run.run.held.code
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CellEditorScreen),
                       what="the editor")
        editor = app.screen.editor
        assert editor.text == model_code and editor.language == "python"
        assert app.focused is editor
        editor.load_text("print('edited by you')")
        await pilot.press("ctrl+s")
        view = cell_view(app, cell)
        await wait_for(pilot, lambda: view.finished is not None, what="the edited cell")
        assert view.finished.stdout == "edited by you\n"
        assert view.decision == "edited" and view.ran_code == "print('edited by you')"
        assert "the model wrote (not run)" in str(view.query_one(".cell-original").render())
        node = app.session.tree.nodes[cell]
        assert node.code == model_code and node.ran_code == "print('edited by you')"
        decided = [e for e in transcript_events(app) if isinstance(e, ev.CellDecided)]
        assert decided[0].decision == "edited" and decided[0].code == "print('edited by you')"


async def test_c_then_escape_goes_back_without_running(sample):
    app = make_app(sample, query=QUERY, approve="cells")
    async with app.run_test(size=(120, 40)) as pilot:
        cell = await held(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CellEditorScreen),
                       what="the editor")
        app.screen.editor.load_text("print('never run')")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CellEditorScreen),
                       what="the editor to close")
        await pilot.pause(0.3)
        assert app.live_run.run.held.cell_id == cell and app.summary.state == "held"
        view = cell_view(app, cell)
        assert view.awaiting and view.finished is None and view.decision is None


async def test_s_skips_the_held_cell_and_the_model_is_told(sample):
    app = make_app(sample, query=QUERY, approve="cells")
    async with app.run_test(size=(120, 40)) as pilot:
        cell = await held(pilot)
        await pilot.press("s")
        view = cell_view(app, cell)
        await wait_for(pilot, lambda: view.finished is not None, what="the skip")
        assert view.finished.skipped
        header = str(view.query_one(".cell-header").render())
        assert header.startswith("⤼ ") and "skipped" in header
        assert "did not run" in str(view.query_one(".cell-output").render())
        assert app.session.tree.nodes[cell].decision == "skipped"
        assert "⤼ skipped" in label(app.query_one(SubCallTree), cell)


async def test_quitting_while_a_cell_is_held_halts_the_run_and_closes_it(sample):
    app = make_app(sample, query=QUERY, approve="cells")
    async with app.run_test(size=(120, 40)) as pilot:
        await held(pilot)
        live = app.live_run
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app._quit_question is not None, what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: not live.is_open, what="the session to close")
    assert app.summary.state == "halted" and not live.is_open


async def test_the_palette_sets_which_cells_are_held_for_the_run_in_hand(sample):
    app = make_app(sample, query=QUERY, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        await pilot.press("ctrl+p", *"hold cells every", "enter")
        await wait_for(pilot, lambda: app.settings.approve == "cells", what="the mode")
        await wait_for(pilot, lambda: app.session.tree.approve_mode == "cells",
                       what="the change recorded")
        await pilot.press("space")  # resume: the first cell is held
        await held(pilot)
        app.live_run.run.set_approve_mode("none")  # and the rest run
        app.live_run.run.approve_cell()
        await ended(pilot)
        assert app.summary.state == "done"


# -- follow-up questions ----------------------------------------------------------------------

async def test_a_follow_up_shows_as_turn_2_in_every_pane(sample):
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        await pilot.press("r", *"and the memory limit", "enter")
        await wait_for(pilot, lambda: app.summary.turn == 2, what="turn 2")
        await ended(pilot)
        root = app.summary.root_session
        reasoning = app.query_one(RootReasoning)
        headers = [str(h.render()) for h in reasoning.query(".turn-header")]
        assert headers == [f"Turn 1 · {QUERY}", "Turn 2 · and the memory limit"]
        assert reasoning.sections[-1].label == "Turn 2 · iteration 1"
        assert reasoning.border_title == "Reasoning · turn 2 · iteration 1"
        cells = app.query_one(CellLog).cells
        assert cells[-1].title == "turn 2 · iteration 1 · cell 1"
        assert "✓ turn 2 · iteration 1" in label(app.query_one(SubCallTree), f"{root}.t2.i1")
        answer = app.query_one(FinalAnswer)
        assert answer.status_line == "Answer · turn 2" and answer.turn == 2
        bar = str(app.query_one(RunStatusBar).render())
        assert "turn 2 · iteration 1/30" in bar
        assert app.live_run.is_open
        assert str(app.query_one("#query-label").render()) == "Follow-up"


async def test_quitting_closes_the_open_session(sample):
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        live = app.live_run
        assert live.is_open
        await pilot.press("ctrl+q")
    assert not live.is_open


async def test_a_replay_shows_the_notes_turns_and_decisions_of_a_steered_session(sample):
    app = make_app(sample, query=QUERY, approve="cells")
    async with app.run_test(size=(120, 40)) as pilot:
        first = await held(pilot)
        await pilot.press("i")
        await type_into_prompt(pilot, NOTE)
        await pilot.press("s")
        await held(pilot, "the second cell held")
        await pilot.press("ctrl+p", *"hold cells none", "enter")
        await wait_for(pilot, lambda: app.session.tree.approve_mode == "none", what="none")
        await pilot.press("a")
        await ended(pilot)
        await pilot.press("r", *"and the memory limit", "enter")
        await wait_for(pilot, lambda: app.summary.turn == 2, what="turn 2")
        await ended(pilot)
        path = app.live_run.transcript_path
    replay = ReplayApp(read_transcript(path), Settings())
    async with replay.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: replay.cursor.position > 0, what="the replay")
        await replay.action_to_end()
        await pilot.pause()
        reasoning = replay.query_one(RootReasoning)
        noted = [s for s in reasoning.sections if s.notes]
        assert [s.notes for s in noted] == [[NOTE]] and noted[0].label == "Iteration 2"
        headers = [str(h.render()) for h in reasoning.query(".turn-header")]
        assert headers == [f"Turn 1 · {QUERY}", "Turn 2 · and the memory limit"]
        skipped = cell_view(replay, first)
        assert skipped.finished is not None and skipped.finished.skipped
        assert replay.query_one(FinalAnswer).status_line == "Answer · turn 2"
        assert "turn 2" in str(replay.query_one(RunStatusBar).render())


# -- forks ------------------------------------------------------------------------------------

async def choose_iteration(pilot, node_id: str) -> None:
    calls = pilot.app.query_one(SubCallTree)
    calls.focus()
    calls.move_cursor(calls._by_id[node_id])
    await pilot.pause()


async def test_f_forks_a_new_live_session_from_the_selected_iteration(sample):
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        parent = app.live_run
        parent_path = parent.transcript_path
        before = parent_path.read_bytes()
        root = app.summary.root_session
        await choose_iteration(pilot, f"{root}.i2")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ForkScreen), what="the dialog")
        dialog = app.screen
        assert dialog.query_one("#fork-model").value == "demo"
        assert "iteration 2" in str(dialog.query_one("#title").render())
        await pilot.press(*"try the tests", "enter")
        await wait_for(pilot, lambda: app.live_run is not parent, what="the fork")
        await ended(pilot)
        fork = app.live_run
        assert fork.transcript_path != parent_path
        assert parent_path.read_bytes() == before  # the original stays as it was
        assert not parent.is_open and fork.is_open
        events = transcript_events(app)
        started = next(e for e in events if isinstance(e, ev.SessionStarted))
        assert started.fork_of["transcript"] == str(parent_path)
        assert started.fork_of["iteration"] == 2
        header = json.loads(fork.transcript_path.read_text().splitlines()[0])
        assert header["fork_of"] == started.fork_of  # the fork's header names its parent
        rebuilt = [e for e in events if isinstance(e, ev.IterationStarted) and e.rebuilt]
        assert [e.iteration for e in rebuilt] == [1, 2]
        assert any(isinstance(e, ev.NoteAdded) and e.text == "try the tests" for e in events)
        assert app.summary.state == "done"
        assert "↺ rebuilt" in label(app.query_one(SubCallTree), f"{app.summary.root_session}.i1")
        reasoning = app.query_one(RootReasoning)
        lineage = str(reasoning.query(".fork-of").first().render())
        assert lineage.startswith(f"↳ forked from {parent_path.name} after iteration 2")
        assert reasoning.sections[0].label == "Iteration 1 (rebuilt)"


async def test_f_on_a_paused_session_halts_it_and_forks(sample):
    app = make_app(sample, query=QUERY, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.summary.reason == "stepped one iteration",
                       what="the step")
        parent = app.live_run
        await choose_iteration(pilot, f"{app.summary.root_session}.i1")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ForkScreen), what="the dialog")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.live_run is not parent, what="the fork")
        assert not parent.is_open
        ends = [e for e in read_transcript(parent.transcript_path).events
                if isinstance(e, ev.SessionFinished)]
        assert ends[-1].status == "halted" and ends[-1].reason == "forked into a new session"
        await wait_for(pilot, lambda: app.summary.state == "paused", what="the fork paused")
        assert app.live_run.start_paused  # as the app's runs start: space goes on


async def test_f_in_a_replay_hands_the_live_app_a_fork_it_starts(sample):
    first = make_app(sample, query=QUERY)
    async with first.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        path = first.live_run.transcript_path
    replay = ReplayApp(read_transcript(path), Settings(model="demo"))
    async with replay.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: replay.cursor.position > 0 or replay.cursor.total == 0,
                       what="the replay")
        await replay.action_to_end()
        await pilot.pause()
        root = replay.session.tree.root.node_id
        await choose_iteration(pilot, f"{root}.i1")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(replay.screen, ForkScreen), what="the dialog")
        await pilot.press("enter")
        await wait_for(pilot, lambda: replay.fork_request is not None, what="the request")
    request = replay.fork_request
    assert request.transcript == path and request.point == ForkPoint(1, 1)
    assert request.choice.model == "demo" and request.choice.note is None
    live = RlmApp(sample, Settings(model="demo"), clock=lambda: T0, fork=request)
    async with live.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: live.live_run is not None, what="the fork to start")
        await ended(pilot)
        started = next(e for e in transcript_events(live) if isinstance(e, ev.SessionStarted))
        assert started.fork_of["iteration"] == 1 and live.summary.state == "done"


async def test_f_has_nothing_to_fork_before_an_iteration(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None, what="the workspace")
        app.query_one(SubCallTree).focus()
        assert app.check_action("fork", ()) is False  # not offered: no footer key, no command
        await pilot.press("f")
        await pilot.pause()
        assert not isinstance(app.screen, ForkScreen)


# -- models -----------------------------------------------------------------------------------

async def test_the_palette_switches_the_root_model_after_checking_it(sample):
    app = make_app(sample, query=QUERY, start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        await pilot.press("ctrl+p", *"switch root", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), what="the prompt")
        box = app.screen.query_one("#model-input")
        assert box.value == "demo"
        await type_into_prompt(pilot, "nosuch/model")  # typed over the current one
        await wait_for(pilot, lambda: any("unknown model" in n.message
                                          for n in app._notifications), what="the refusal")
        assert app.live_run.run.settings.model == "demo"  # nothing changed
        await pilot.press("ctrl+p", *"switch root", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), what="the prompt")
        app.screen.query_one("#model-input").value = ""
        await type_into_prompt(pilot, "demo/second")
        await wait_for(pilot, lambda: app.session.tree.root.root_model == "demo/second",
                       what="the switch recorded")
        assert app.live_run.run.settings.model == "demo/second"
        assert app.query_one(RunStatusBar).model == "demo/second"
        await pilot.press("space")
        await ended(pilot)
        done = [e for e in transcript_events(app) if isinstance(e, ev.RootDone)]
        assert {e.model for e in done} == {"demo/second"}


def test_a_fork_from_a_replay_whose_context_is_gone_is_one_line(tmp_path):
    request = ForkRequest(Path("run.jsonl"), ForkPoint(1, 1), ForkChoice("demo", None, None))
    gone = str(tmp_path / "moved-away")
    for header, said in (({"context": {"source": gone}}, "is gone: pass --context PATH"),
                         ({"context": {"source": "-"}}, "came from stdin")):
        with pytest.raises(InputError) as raised:
            launch_fork(request, header, Settings(model="demo"))
        assert said in str(raised.value) and "\n" not in str(raised.value)
