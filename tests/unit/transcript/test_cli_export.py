"""`rlm-tui export` through the real command line, in a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_tui.events import SCHEMA_VERSION
from rlm_tui.transcript.export import export_file
from tests.unit.transcript.synthetic import header, synthetic_events, transcript_bytes

ROOT = Path(__file__).resolve().parents[3]
RLMS_LOG = ROOT / "tests" / "fixtures" / "rlms_logs" / "v013_answer_dict.jsonl"


def export(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rlm_tui", "export", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          encoding="utf-8")


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "session.jsonl"
    path.write_bytes(transcript_bytes(synthetic_events(3, child_every=2)))
    return path


def newer_schema(path: Path) -> None:
    head = {**header(), "schema": SCHEMA_VERSION + 1}
    path.write_bytes(transcript_bytes(synthetic_events(1), head))


def unreadable(path: Path) -> None:
    path.write_bytes(transcript_bytes(synthetic_events(1)))
    path.chmod(0)


BAD_FILES = {
    "missing": (None, "no such file"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "unreadable": (unreadable, "permission denied"),
    "empty": (lambda p: p.write_bytes(b""), "is empty"),
    "binary": (lambda p: p.write_bytes(bytes(range(256)) * 4), "binary file"),
    "random JSON": (lambda p: p.write_text('{"answer": 42, "list": [1, 2]}\n'),
                    "not an rlm-tui transcript or an rlms log"),
    "foreign JSONL": (lambda p: p.write_text('{"level": "info", "msg": "started"}\n'
                                             '{"level": "info", "msg": "done"}\n'),
                      "not an rlm-tui transcript or an rlms log"),
    "newer schema": (newer_schema, "newer rlm-tui"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_one_line_on_stderr_and_exit_2(tmp_path, case):
    if case == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads any file")
    make, message = BAD_FILES[case]
    path = tmp_path / "input.jsonl"
    if make is not None:
        make(path)
    result = export(path, "--format", "markdown")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlm-tui: ") and message in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["markdown", "json", "rlm-log"])
def test_text_formats_go_to_stdout(transcript, fmt):
    result = export(transcript, "--format", fmt)
    assert result.returncode == 0 and result.stderr == ""
    if fmt == "markdown":
        assert result.stdout.startswith("# rlm-tui session")
    elif fmt == "json":
        assert json.loads(result.stdout)["answer"] == "the answer"
    else:
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert lines[0]["type"] == "metadata" and len(lines) == 4


def test_html_is_written_beside_the_input_by_default(transcript):
    result = export(transcript, "--format", "html")
    target = transcript.with_name("session.html")
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.strip() == f"rlm-tui: wrote {target}"
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_output_chooses_the_file_or_stdout(transcript, tmp_path):
    out = tmp_path / "out"
    result = export(transcript, "-f", "html", "--output", out)
    assert result.returncode == 0 and out.read_text(encoding="utf-8").startswith("<!DOCTYPE")
    result = export(transcript, "-f", "html", "-o", "-")
    assert result.returncode == 0 and result.stdout.startswith("<!DOCTYPE html>")


def test_the_output_may_not_be_the_input(transcript):
    before = transcript.read_bytes()
    result = export(transcript, "-f", "json", "-o", transcript)
    assert result.returncode == 2 and "is the input file" in result.stderr
    assert transcript.read_bytes() == before


def test_an_unwritable_output_is_an_input_error(transcript, tmp_path):
    result = export(transcript, "-o", tmp_path / "no" / "such" / "dir" / "x.md")
    assert result.returncode == 2 and "no such directory: " in result.stderr


def test_a_cut_transcript_exports_what_precedes_the_cut_with_a_note(tmp_path):
    data = transcript_bytes(synthetic_events(3))
    path = tmp_path / "killed.jsonl"
    path.write_bytes(data[: len(data) // 2])
    result = export(path, "-f", "markdown")
    assert result.returncode == 0
    assert result.stderr.startswith("rlm-tui: note: the transcript stops at line ")
    assert "the transcript stops at line" in result.stdout
    assert "## Iteration 1 " in result.stdout


def test_an_rlms_log_exports_too(tmp_path):
    result = export(RLMS_LOG, "-f", "markdown")
    assert result.returncode == 0
    assert "Which functions does util.py define" in result.stdout
    assert "converted from an rlms trajectory log" in result.stderr


def test_an_unknown_format_is_a_usage_error(transcript):
    result = export(transcript, "--format", "pdf")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_markdown_on_a_terminal_shows_a_control_sequence_and_keeps_it_for_a_pipe(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    path = tmp_path / "hostile.jsonl"
    path.write_bytes(transcript_bytes(synthetic_events(1, answer="done\x1b]0;pwned\x07")))
    shown, piped = Terminal(), io.StringIO()
    export_file(path, "markdown", "-", stdout=shown, stderr=io.StringIO())
    export_file(path, "markdown", "-", stdout=piped, stderr=io.StringIO())
    assert "␛]0;pwned␇" in shown.getvalue() and "\x1b" not in shown.getvalue()
    assert "\x1b]0;pwned\x07" in piped.getvalue()


def test_json_escapes_del_and_c1_so_printing_it_sends_no_control_and_reads_back_the_same(
    tmp_path,
):
    answer = "done\x9b31m red \x7f \x85 é \x1b]0;pwned\x07"
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(transcript_bytes(synthetic_events(1, answer=answer)))
    for fmt in ("json", "rlm-log"):
        result = export(path, "--format", fmt)
        assert result.returncode == 0
        assert all(ch not in result.stdout for ch in ("\x1b", "\x7f", "\x85", "\x9b"))
        assert "\\u009b31m" in result.stdout and "é" in result.stdout  # the rest as it is
        documents = [json.loads(line) for line in result.stdout.splitlines()]
        assert answer in _strings(documents)


def _strings(value: object) -> str:
    """Every string in a JSON value, joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    return "\n".join(map(_strings, value)) if isinstance(value, list) else ""


def test_jsonl_is_the_transcript_itself_and_an_rlms_log_comes_back_as_one(transcript, tmp_path):
    from rlm_tui.transcript import read_transcript

    copy = tmp_path / "copy.jsonl"
    result = export(transcript, "--format", "jsonl", "-o", copy)
    assert result.returncode == 0, result.stderr
    assert read_transcript(copy).events == read_transcript(transcript).events
    converted = tmp_path / "from-rlms.jsonl"
    result = export(RLMS_LOG, "-f", "jsonl", "-o", converted)
    assert result.returncode == 0, result.stderr
    back = read_transcript(converted)
    assert back.source_format == "rlm-tui"
    assert back.events == read_transcript(RLMS_LOG).events
    assert any("rlms" in note for note in back.notes())  # it says it was converted
