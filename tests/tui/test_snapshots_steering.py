"""Snapshots of steering a run (issue 18), from fixed events: a held cell awaiting approval
(at 120x40 and 80x24), its code in the editor, the note input, the fork dialog (at both
sizes) and a second turn. The held scenes give the app a stand-in for the live run (snapshot_scenes.HeldRunStub)
so the keys a person has then (a, c, s) are in the footer.
Update with `pytest tests/tui/test_snapshots_steering.py --snapshot-update`, and look at the
SVGs changed before committing them."""

from __future__ import annotations

from rlm_tui.tui.screens.cell_editor import CellEditorScreen
from rlm_tui.tui.screens.fork import ForkScreen
from rlm_tui.tui.screens.prompt import PromptScreen
from rlm_tui.tui.widgets.subcall_tree import SubCallTree
from tests.tui.conftest import make_app
from tests.tui.snapshot_scenes import (
    NARROW,
    SIZE,
    answered,
    held_final,
    pressing,
    second_turn,
    showing,
    steering,
    until,
)


def test_a_held_cell_awaiting_approval(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE,
                        run_before=showing(held_final, steering()))


def test_a_held_cell_at_80x24(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=NARROW,
                        run_before=showing(held_final, steering()))


def test_the_held_cell_in_the_editor(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE,
                        run_before=showing(held_final, steering(), pressing("c"),
                                           until(lambda app: isinstance(app.screen,
                                                                        CellEditorScreen),
                                                 "the editor")))


def test_the_note_input(snap_compare, sample):
    def note_typed(app) -> bool:
        return isinstance(app.screen, PromptScreen) and app.screen.query_one(
            "#note-input").value == "skip the docs, read the code"

    assert snap_compare(make_app(sample), terminal_size=SIZE,
                        run_before=showing(held_final, steering(), pressing("i"),
                                           pressing(*"skip the docs, read the code"),
                                           until(note_typed, "the note typed")))


async def select_iteration_2(pilot) -> None:
    calls = pilot.app.query_one(SubCallTree)
    calls.move_cursor(calls._by_id["run0001.i2"])


def fork_dialog_open(app) -> bool:
    return isinstance(app.screen, ForkScreen)


def test_the_fork_dialog(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE,
                        run_before=showing(answered, select_iteration_2, pressing("f"),
                                           until(fork_dialog_open, "the fork dialog")))


def test_the_fork_dialog_at_80x24(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=NARROW,
                        run_before=showing(answered, select_iteration_2, pressing("f"),
                                           until(fork_dialog_open, "the fork dialog")))


def test_a_second_turn(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=showing(second_turn))
