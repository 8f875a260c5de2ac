"""Writing a session to a file through the one export path (rlm_tui/transcript/export.py),
as the app's dialog does: where it goes by default, which paths it refuses, and errors that
name the path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rlm_tui.errors import InputError
from rlm_tui.transcript import TranscriptWriter, default_transcript_path, read_transcript
from rlm_tui.transcript.export import (
    default_export_dir,
    default_export_path,
    format_of_path,
    export_problem,
    export_read_transcript,
    export_session,
    export_transcript_file,
    resolve_export_path,
)
from tests.tui.event_script import EventScript, mid_run


def script_events() -> list:
    script = EventScript()
    mid_run(script)
    script.finish("done")
    return script.take()


def export(path: Path) -> str:
    return export_session(path, script_events(), query="q", settings={}, context={})


def full_device(tmp_path: Path, name: str) -> Path:
    """A name with a known suffix for /dev/full, which takes a file open and refuses its data
    (no space left on device) when it is flushed."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    link = tmp_path / name
    link.symlink_to("/dev/full")
    return link


def test_the_default_export_dir_is_beside_the_transcripts_not_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert default_export_dir() == tmp_path / "data" / "rlm-tui" / "exports"
    assert default_export_dir().parent == default_transcript_path().parent.parent
    assert default_export_path("abc") == default_export_dir() / "rlm-tui-abc.jsonl"


def test_the_default_export_dir_is_created_when_first_written(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    target = default_export_path("abc")
    assert not target.parent.exists()
    assert export(target) == "jsonl"
    assert read_transcript(target).events == script_events()


@pytest.mark.parametrize("name", ["x.md", "x.jsonl"])
def test_a_missing_directory_is_named_and_nothing_is_created(tmp_path: Path, name: str):
    target = tmp_path / "no" / "such" / name
    with pytest.raises(InputError) as raised:
        export(target)
    assert str(raised.value) == f"no such directory: {target.parent}"
    assert not (tmp_path / "no").exists()


def test_a_missing_directory_is_refused_for_a_transcript_copy_and_a_replay_too(
        tmp_path: Path):
    source = tmp_path / "run.jsonl"
    export(source)
    target = tmp_path / "no" / "x.md"
    with pytest.raises(InputError, match="no such directory"):
        export_transcript_file(source, target)
    with pytest.raises(InputError, match="no such directory"):
        export_read_transcript(target, read_transcript(source))
    assert not target.parent.exists()


def test_a_file_as_the_parent_is_named(tmp_path: Path):
    (tmp_path / "file").write_text("")
    problem = export_problem(tmp_path / "file" / "x.md")
    assert problem == f"not a directory: {tmp_path / 'file'}"


def test_a_directory_is_not_a_file_to_write(tmp_path: Path):
    assert export_problem(tmp_path) == f"{tmp_path} is a directory: add a file name"
    with pytest.raises(InputError, match="is a directory"):
        export(tmp_path)


@pytest.mark.parametrize("suffix, fmt", [(".jsonl", "jsonl"), (".md", "markdown"),
                                         (".MARKDOWN", "markdown"), (".html", "html"),
                                         (".json", "json"), (".rlm.jsonl", "rlm-log"),
                                         (".RLM.JSONL", "rlm-log")])
def test_each_known_suffix_names_its_format(suffix: str, fmt: str):
    assert format_of_path(Path(f"x{suffix}")) == fmt


@pytest.mark.parametrize("name, says", [("x.txt", "unknown suffix .txt"), ("x", "no suffix")])
def test_an_unknown_suffix_is_refused_with_the_known_ones(tmp_path: Path, name: str,
                                                          says: str):
    target = tmp_path / name
    problem = export_problem(target)
    assert problem == f"{name}: {says} (use one of .jsonl, .md, .markdown, .html, .json, .rlm.jsonl)"
    assert "\n" not in problem
    with pytest.raises(InputError):
        export(target)
    assert not target.exists()


def test_an_existing_file_is_replaced_when_written(tmp_path: Path):
    target = tmp_path / "x.md"
    target.write_text("old")
    assert export_problem(target) is None  # whether to overwrite is the dialog's question
    export(target)
    assert "# " in target.read_text()


@pytest.mark.parametrize("name", ["x.jsonl", "x.md"])
def test_a_write_error_names_the_path_and_the_reason(tmp_path: Path, name: str):
    target = full_device(tmp_path, name)
    with pytest.raises(InputError) as raised:
        export(target)
    assert str(raised.value) == f"cannot write {target}: {os.strerror(28)}"


def test_a_transcript_copy_error_names_the_path_and_the_reason(tmp_path: Path):
    source = tmp_path / "run.jsonl"
    export(source)
    target = full_device(tmp_path, "copy.jsonl")
    with pytest.raises(InputError) as raised:
        export_transcript_file(source, target)
    assert str(raised.value) == f"cannot write {target}: {os.strerror(28)}"


def test_a_transcript_copy_is_the_same_bytes_and_counts_its_events(tmp_path: Path):
    source = tmp_path / "run.jsonl"
    writer = TranscriptWriter(source, query="q", settings={}, context={})
    for event in script_events():
        writer(event)
    writer.close()
    target = tmp_path / "copy.jsonl"
    assert export_transcript_file(source, target) == len(script_events())
    assert target.read_bytes() == source.read_bytes()


def test_a_live_transcript_is_copied_up_to_its_last_whole_line_and_never_onto_itself(
        tmp_path: Path):
    source = tmp_path / "run.jsonl"
    writer = TranscriptWriter(source, query="q", settings={}, context={})
    for event in script_events():
        writer(event)
    writer.close()
    whole = source.read_bytes()
    with open(source, "ab") as file:
        file.write(b'{"type": "root_delta", "te')  # the run is writing a line just now
    target = tmp_path / "copy.jsonl"
    assert export_transcript_file(source, target) == len(script_events())
    assert target.read_bytes() == whole
    with pytest.raises(InputError, match="is the session's own transcript"):
        export_transcript_file(source, source)
    assert source.read_bytes().startswith(whole)  # untouched


@pytest.mark.parametrize("typed", ["~no-such-user-here/x.jsonl", "/tmp/" + "x" * 300 + ".md"])
def test_a_path_that_cannot_even_be_looked_at_is_a_problem_not_a_crash(typed: str):
    try:
        problem = export_problem(resolve_export_path(typed))
    except InputError as exc:
        problem = str(exc)
    assert problem is not None and problem.startswith("cannot use ")
    assert "\n" not in problem


def test_a_session_written_as_jsonl_reads_back_as_a_transcript(tmp_path: Path):
    target = tmp_path / "x.jsonl"
    export_session(target, script_events(), query="the question", settings={"a": 1},
                   context={"files": 2})
    header = json.loads(target.read_text().splitlines()[0])
    assert header["format"] == "rlm-tui-transcript" and header["query"] == "the question"
    assert read_transcript(target).events == script_events()
