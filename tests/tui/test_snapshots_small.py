"""Snapshots of a small terminal (issue 27): at 80x24 the small layout (one pane, the keys
1-6 above it), at 100x30 the six panes; idle, running, a held cell and answered.
Update with `--snapshot-update` and look at every SVG changed before committing it."""

from __future__ import annotations

import pytest

from tests.tui.conftest import make_app
from tests.tui.event_script import EventScript, mid_run
from tests.tui.snapshot_scenes import (
    answered,
    held_final,
    pressing,
    settled,
    showing,
    steering,
)

SIZES = pytest.mark.parametrize("size", [(80, 24), (100, 30)], ids=["80x24", "100x30"])


@SIZES
def test_idle(snap_compare, sample, size):
    assert snap_compare(make_app(sample), terminal_size=size, run_before=showing(None))


@SIZES
def test_running_with_the_reasoning_in_front(snap_compare, sample, size):
    assert snap_compare(make_app(sample), terminal_size=size,
                        run_before=showing(mid_run, pressing("3")))


@SIZES
def test_a_held_cell_with_the_cells_in_front(snap_compare, sample, size):
    assert snap_compare(make_app(sample), terminal_size=size,
                        run_before=showing(held_final, steering(), pressing("4")))


@SIZES
def test_answered_the_answer_in_front(snap_compare, sample, size):
    """The answer came in front by itself: the focus stayed in the query box."""

    async def run_before(pilot) -> None:
        await showing(None)(pilot)
        script = EventScript()
        answered(script)
        pilot.app.feed(script.take())
        await settled(pilot)

    assert snap_compare(make_app(sample, max_cost=0.5), terminal_size=size,
                        run_before=run_before)
