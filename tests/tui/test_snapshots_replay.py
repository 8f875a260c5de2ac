"""Snapshots of a replay at 120x40, beside test_replay.py's (two iterations in): one
iteration in, and at the end with the answer shown. The session is test_replay.py's.
Update with `pytest tests/tui/test_snapshots_replay.py --snapshot-update`."""

from __future__ import annotations

from tests.tui.snapshot_scenes import SIZE, settled
from tests.tui.test_replay import _snapshot_transcript, opened, press, replay_app


def replay_after(*keys: str):
    async def run_before(pilot) -> None:
        await opened(pilot)
        await press(pilot, *keys)
        await settled(pilot)

    return run_before


def test_a_replay_one_iteration_in(snap_compare, tmp_path):
    app = replay_app(_snapshot_transcript(tmp_path / "session.jsonl"))
    assert snap_compare(app, terminal_size=SIZE, run_before=replay_after("n"))


def test_a_replay_at_its_end_showing_the_answer(snap_compare, tmp_path):
    app = replay_app(_snapshot_transcript(tmp_path / "session.jsonl"))
    assert snap_compare(app, terminal_size=SIZE, run_before=replay_after("G"))
