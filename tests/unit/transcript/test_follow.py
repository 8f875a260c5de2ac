"""Following a transcript as another process writes it (transcript/follow.py), and the replay
cursor that takes the new events in (tui/replay.py's ReplayCursor.extend)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlm_tui import events as ev
from rlm_tui.errors import InputError
from rlm_tui.transcript import TranscriptWriter
from rlm_tui.transcript.follow import TranscriptFollower
from rlm_tui.tui.replay import ReplayCursor
from tests.tui.event_script import REPLY_1, REPLY_2, EventScript


def lines_of(events: list[ev.EventBase]) -> list[bytes]:
    return [e.model_dump_json().encode() + b"\n" for e in events]


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, EventScript]:
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path, query="q", settings={}, context={})
    writer.close()  # the header alone; the test appends lines as a writer would
    script = EventScript()
    script.start("q")
    return path, script


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as file:
        file.write(data)


def test_events_are_read_as_their_lines_end(written):
    path, script = written
    follower = TranscriptFollower.open(path)
    assert follower.transcript.events == [] and follower.poll() == []
    first, second = lines_of(script.take())
    append(path, first + second[:10])
    assert [e.type for e in follower.poll()] == ["session_started"]
    assert follower.pending == second[:10]
    assert follower.poll() == []  # the rest of the line has not come yet
    append(path, second[10:])
    assert [e.type for e in follower.poll()] == ["state_changed"]
    assert follower.pending == b"" and follower.stop is None


def test_a_file_opened_mid_line_keeps_the_cut_line_pending(written):
    path, script = written
    first, second = lines_of(script.take())
    append(path, first + second[:-5])
    follower = TranscriptFollower.open(path)
    assert [e.type for e in follower.transcript.events] == ["session_started"]
    assert follower.stop is None and follower.pending == second[:-5]
    append(path, second[-5:])
    assert [e.type for e in follower.poll()] == ["state_changed"]


def test_a_line_still_cut_when_the_writer_is_gone_is_reported_as_a_cut(written):
    path, script = written
    first, second = lines_of(script.take())
    append(path, first + second[:10])
    follower = TranscriptFollower.open(path)
    assert follower.finish() == []
    assert follower.stop is not None and follower.stop.reason == "the last line is cut short"
    assert follower.stop.line == 3


def test_a_whole_line_that_is_not_json_stops_the_follow_there(written):
    path, script = written
    first, _ = lines_of(script.take())
    follower = TranscriptFollower.open(path)
    append(path, first + b"garbage\n" + first)
    assert [e.type for e in follower.poll()] == ["session_started"]
    assert follower.stop.reason == "the line is not JSON" and follower.stop.line == 3
    assert follower.poll() == []


def test_a_truncated_file_stops_the_follow(written):
    path, script = written
    follower = TranscriptFollower.open(path)
    append(path, b"".join(lines_of(script.take())))
    assert len(follower.poll()) == 2
    os.truncate(path, 10)
    assert follower.poll() == [] and "truncated" in follower.stop.reason


def test_the_writer_is_gone_when_its_socket_or_its_process_is(tmp_path):
    path = tmp_path / "t.jsonl"
    TranscriptWriter(path, query="q", settings={}, context={},
                     control_socket=str(tmp_path / "gone.sock")).close()
    assert TranscriptFollower.open(path).writer_gone() == "the session has closed"
    TranscriptWriter(path, query="q", settings={}, context={}).close()
    assert TranscriptFollower.open(path).writer_gone() is None  # this process wrote it


def test_an_rlms_log_is_refused_in_one_line(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"type": "metadata", "root_model": "x"}\n')
    with pytest.raises(InputError, match="is an rlms log"):
        TranscriptFollower.open(path)


def test_the_cursor_takes_in_new_events_with_their_iterations():
    script = EventScript()
    script.start("q")
    cursor = ReplayCursor([])
    cursor.extend(script.take())
    assert cursor.iterations == 0 and cursor.stops == [2]
    script.iteration(1, REPLY_1)
    cursor.extend(script.take())
    script.iteration(2, REPLY_2)
    cursor.extend(script.take())
    whole = ReplayCursor(list(cursor.events))
    assert (cursor.iterations, cursor.stops, cursor.times) == \
        (whole.iterations, whole.stops, whole.times) and cursor.iterations == 2
    cursor.take_to(cursor.total)
    assert cursor.at_end and cursor.iteration == 2


def test_the_cursor_finds_the_root_when_its_session_starts_after_it_was_made():
    script = EventScript()
    cursor = ReplayCursor([])
    cursor.extend([])
    script.start("q")
    script.iteration(1, REPLY_1)
    cursor.extend(script.take())
    assert cursor.iterations == 1 and cursor.iteration_starts == [2]
