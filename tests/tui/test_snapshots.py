"""Snapshots of the main screen, from fixed events (no live model, a fixed clock, a context
dir named `sample`): idle, mid-run, paused, answered, halted, failed; zoomed, with help, at
80x24, and in each built-in theme. Dialogs: test_snapshots_dialogs.py.
Update with `pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate change,
and look at the SVGs changed (`__snapshots__/test_snapshots/`) before committing them."""

from __future__ import annotations

import pytest

from rlm_tui.tui.themes import BUILTIN_THEMES_DIR
from tests.tui.conftest import make_app
from tests.tui.event_script import mid_run
from tests.tui.snapshot_scenes import (
    NARROW,
    SIZE,
    answered,
    failed,
    halted,
    paused,
    pressing,
    showing,
)

BUILTIN_THEMES = sorted(path.stem for path in BUILTIN_THEMES_DIR.glob("*.toml"))


def test_idle_with_the_context_loaded_and_the_query_box_waiting(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=showing(None))


def test_mid_run(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=showing(mid_run))


def test_paused(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=showing(paused))


def test_with_a_final_answer(snap_compare, sample):
    assert snap_compare(make_app(sample, max_cost=0.5), terminal_size=SIZE,
                        run_before=showing(answered))


def test_halted_with_calls_in_flight_shown_stopped(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=showing(halted))


def test_with_an_error(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=showing(failed))


def test_the_call_tree_zoomed_to_fill_the_screen(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE,
                        run_before=showing(mid_run, pressing("z")))


def test_the_help_panel_beside_the_panes(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE,
                        run_before=showing(mid_run, pressing("f1")))


def test_the_help_right_after_launch(snap_compare, sample):
    """F1 with the query box in focus: what the app does first, its own keys last."""
    assert snap_compare(make_app(sample), terminal_size=SIZE,
                        run_before=showing(None, pressing("f1")))


def test_the_help_right_after_launch_at_80x24(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=NARROW,
                        run_before=showing(None, pressing("f1")))


def test_the_narrow_layout_at_80x24_mid_run(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=NARROW, run_before=showing(mid_run))


@pytest.mark.parametrize("theme", BUILTIN_THEMES)
def test_mid_run_in_each_built_in_theme(snap_compare, sample, theme):
    assert snap_compare(make_app(sample, theme=theme), terminal_size=SIZE,
                        run_before=showing(mid_run))
