"""Reading transcripts back: whole files, files cut anywhere, newer and foreign files."""

from __future__ import annotations

import json
import os

import pytest

from rlm_tui import events as ev
from rlm_tui.errors import InputError
from rlm_tui.transcript import TranscriptWriter, parse_transcript, read_transcript
from tests.unit.transcript.synthetic import (
    header,
    synthetic_events,
    transcript_bytes,
    write_transcript,
)


def test_a_transcript_written_by_the_writer_reads_back_to_the_same_events(tmp_path):
    events = synthetic_events(3, child_every=2)
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path, query="What does the code do?",
                              settings={"model": "root-model"}, context={"files": 3})
    for event in events:
        writer(event)
    writer.close()
    transcript = read_transcript(path)
    assert transcript.source_format == "rlm-tui"
    assert transcript.header["query"] == "What does the code do?"
    assert transcript.events == events
    assert transcript.stop is None and not transcript.truncated
    assert transcript.skipped == {}
    assert transcript.lines == len(events) + 1


def test_a_transcript_holds_no_raw_del_or_c1_and_reads_back_the_same(tmp_path):
    """`cat` or `tail -f` of a transcript sends no control a terminal would obey: JSON
    escapes C0 itself, and the writer escapes DEL and C1 (a model's reply, a cell's output)."""
    hostile = "out\x9b31m\x7f\x85\x1b]0;pwned\x07 é"
    events = synthetic_events(2, text=hostile, answer=hostile)
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path, query=f"q {hostile}", settings={"model": "m\x9b"},
                              context={"files": 3})
    for event in events:
        writer(event)
    writer.close()
    text = path.read_bytes().decode("utf-8")
    assert not any(0x7F <= ord(ch) < 0xA0 or ch == "\x1b" for ch in text)
    assert "\\u009b31m" in text and "é" in text
    transcript = read_transcript(path)
    assert transcript.events == events
    assert transcript.header["query"] == f"q {hostile}"
    assert path.read_bytes() == transcript_bytes(events, {**transcript.header})


def test_a_new_transcript_holds_its_header_from_the_moment_it_exists(tmp_path, monkeypatch):
    """Written beside it and moved in: a kill between creating and writing the header
    (seen in the SIGKILL suite) cannot leave an empty transcript."""
    path = tmp_path / "t.jsonl"
    seen: list[bytes] = []
    real_replace = os.replace

    def replace(source, target):
        seen.append(open(source, "rb").read())
        assert not os.path.exists(target)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    writer = TranscriptWriter(path, query="q", settings={}, context={})
    writer.close()
    assert seen and json.loads(seen[0])["type"] == "header"
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]  # no partial file left
    with pytest.raises(InputError, match="cannot write the transcript .*: Is a directory"):
        TranscriptWriter(tmp_path, query="q", settings={}, context={})
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]


def test_a_cut_last_line_reads_up_to_the_last_whole_event_and_says_where_it_stops(tmp_path):
    events = synthetic_events(2)
    data = transcript_bytes(events)
    cut = data[: len(data) - 25]  # inside the last event's line
    path = tmp_path / "cut.jsonl"
    path.write_bytes(cut)
    transcript = read_transcript(path)
    assert transcript.events == events[:-1]
    stop = transcript.stop
    assert stop is not None
    assert stop.line == len(events) + 1  # the header is line 1
    assert stop.offset == data.rindex(b"\n", 0, len(data) - 1) + 1
    assert "cut short" in stop.reason
    assert stop.describe().startswith(f"the transcript stops at line {stop.line} (byte ")


def test_a_transcript_cut_at_every_byte_offset_reads_without_error_and_no_partial_event():
    events = synthetic_events(2, subcalls_per_cell=1, child_every=2, text="é ü ✓ 漢字")
    data = transcript_bytes(events)
    line_ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    for offset in range(1, len(data) + 1):
        transcript = parse_transcript(data[:offset], name="cut")
        # a line cut just before its newline still holds whole JSON
        just_before_newline = offset + 1 in line_ends
        whole_lines = sum(1 for end in line_ends if end <= offset) + just_before_newline
        expected = max(0, whole_lines - 1)  # the header is the first line
        assert transcript.events == events[:expected], offset
        if offset in line_ends or just_before_newline:  # the file ends on a whole line
            assert transcript.stop is None, offset
        else:
            assert transcript.stop is not None, offset
            assert transcript.stop.offset <= offset
        transcript.fold()  # every prefix folds without error too


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_a_file_cut_by_a_kill_reads_from_disk(tmp_path, fraction):
    data = transcript_bytes(synthetic_events(3))
    path = tmp_path / "killed.jsonl"
    path.write_bytes(data[: int(len(data) * fraction)])
    transcript = read_transcript(path)
    assert transcript.truncated
    assert transcript.fold().status == "running"  # no session_finished: the run did not end


def test_a_file_cut_inside_its_header_reads_as_an_empty_transcript():
    data = transcript_bytes(synthetic_events(1))
    for offset in (1, 10, 40, data.index(b"\n") - 1):
        transcript = parse_transcript(data[:offset])
        assert transcript.events == [] and transcript.stop is not None
        assert transcript.stop.line == 1


def test_unknown_event_types_from_a_newer_writer_are_skipped_and_counted():
    events = synthetic_events(1)
    lines = transcript_bytes(events).decode().splitlines()
    newer = json.dumps({"seq": 99, "ts": 1.0, "session_id": "s1", "node_id": "s1",
                        "type": "steering_note", "text": "look at tests"})
    lines[2:2] = [newer, newer, json.dumps({"type": "fork_created", "session_id": "s1"})]
    transcript = parse_transcript(("\n".join(lines) + "\n").encode())
    assert transcript.events == events
    assert transcript.skipped == {"steering_note": 2, "fork_created": 1}
    assert transcript.skipped_count == 3
    assert any("3 events" in note for note in transcript.notes())
    assert transcript.stop is None


def test_a_known_event_type_with_unreadable_fields_is_skipped_not_fatal():
    events = synthetic_events(1)
    lines = transcript_bytes(events).decode().splitlines()
    lines.insert(3, json.dumps({"type": "cell_finished", "session_id": "s1"}))  # no node_id
    transcript = parse_transcript(("\n".join(lines) + "\n").encode())
    assert transcript.events == events
    assert transcript.skipped == {"cell_finished (unreadable)": 1}
    assert transcript.notes() == ["1 event was skipped, of types this version does not know "
                                  "or unreadable (cell_finished (unreadable) ×1)"]


def test_a_corrupt_line_in_the_middle_stops_reading_there():
    events = synthetic_events(1)
    lines = transcript_bytes(events).decode().splitlines()
    lines.insert(3, "{not json")
    transcript = parse_transcript(("\n".join(lines) + "\n").encode())
    assert transcript.events == events[:2]
    assert transcript.stop.line == 4 and "not JSON" in transcript.stop.reason


def test_blank_lines_are_ignored():
    data = transcript_bytes(synthetic_events(1)).replace(b"\n", b"\n\n", 3)
    assert parse_transcript(data).stop is None


def test_a_header_with_a_newer_schema_is_refused():
    head = {**header(), "schema": ev.SCHEMA_VERSION + 1}
    with pytest.raises(InputError, match="newer rlm-tui"):
        parse_transcript(transcript_bytes(synthetic_events(1), head))


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"  \n\n", "empty"),
    (b"\x00\x01\x02binary\x00", "binary"),
    (b"\x89PNG\r\n\x1a\n\xff\xfe\xfd", "binary"),
    (b'{"a": 1}\n', "not an rlm-tui transcript or an rlms log"),
    (b"[1, 2, 3]\n", "not a JSON object"),
    (b'{"type": "message", "text": "hi"}\n{"type": "message"}\n', "type 'message'"),
    (b"hello world\nsecond line\n", "first line is not JSON"),
    (b"just text without newline", "not JSON"),
])
def test_foreign_files_are_one_line_input_errors(content, message):
    with pytest.raises(InputError, match=message) as info:
        parse_transcript(content, name="x.jsonl")
    assert "\n" not in str(info.value)


def test_missing_and_directory_paths_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_transcript(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match="is a directory"):
        read_transcript(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_an_input_error(tmp_path):
    path = write_transcript(tmp_path / "t.jsonl", synthetic_events(1))
    path.chmod(0)
    with pytest.raises(InputError, match="permission denied"):
        read_transcript(path)


def test_an_rlms_log_is_recognised_by_its_metadata_line():
    meta = {"type": "metadata", "timestamp": "2026-01-01T00:00:00", "root_model": "m",
            "max_depth": 1, "max_iterations": 3, "backend": "openai", "backend_kwargs": {},
            "environment_type": "local", "environment_kwargs": {}, "other_backends": None}
    transcript = parse_transcript((json.dumps(meta) + "\n").encode())
    assert transcript.source_format == "rlms"
    assert [e.type for e in transcript.events] == ["session_started", "state_changed",
                                                   "session_finished", "state_changed"]
