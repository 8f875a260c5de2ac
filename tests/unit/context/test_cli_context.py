"""`rlm-tui context PATH`, run for real as a subprocess."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT, run_cli, write


def test_context_prints_the_summary_and_skipped_files(tmp_path: Path):
    write(tmp_path, {"a.py": "print(1)\n", "b.bin": b"\x00\x01", "big.txt": "x" * 5000})
    done = run_cli("context", str(tmp_path), "--max-file-size", "1K")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Context: directory ")
    assert "Skipped files (2):" in done.stdout
    assert "    b.bin" in done.stdout and "    big.txt  (5,000 bytes)" in done.stdout
    assert done.stderr == ""


def test_context_json_lists_every_skipped_file_and_honours_filters(tmp_path: Path):
    write(tmp_path, {"a.py": "a\n", "b.md": "b\n", "tests/t.py": "t\n", "x.bin": b"\x00"})
    done = run_cli(
        "context", str(tmp_path), "--include", "*.py", "--include", "*.bin",
        "--exclude", "tests/", "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["context"]["files"] == 1
    assert report["skipped_files"] == [{"path": "x.bin", "reason": "binary", "detail": ""}]
    assert report["options"]["include"] == ["*.py", "*.bin"]


def test_context_reads_stdin(tmp_path: Path):
    done = run_cli("context", "-", "--json", stdin=b"piped text\nsecond line\n")
    assert done.returncode == 0, done.stderr
    meta = json.loads(done.stdout)["context"]
    assert (meta["kind"], meta["name"], meta["lines"]) == ("text", "<stdin>", 2)


def test_context_leaves_no_pack_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write(tmp_path / "src", {"a.py": "a\n"})
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # run_cli passes the environment on
    assert run_cli("context", str(tmp_path / "src")).returncode == 0
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "no such file or directory"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "is an empty directory"),
        (lambda p: os.mkfifo(p / "fifo") or p / "fifo", "is a FIFO"),
        (lambda p: (p / "e.txt").write_text("") and None or p / "e.txt", "is empty"),
        (
            lambda p: write(p / "d", {"x.bin": b"\x00"}) or p / "d",
            "no text file left to load (1 binary)",
        ),
    ],
)
def test_bad_paths_exit_2_with_one_line(tmp_path: Path, make, message: str):
    path = make(tmp_path)
    done = run_cli("context", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("rlm-tui: ") and message in done.stderr


def test_a_bad_size_is_a_usage_error(tmp_path: Path):
    done = run_cli("context", str(tmp_path), "--max-file-size", "lots")
    assert done.returncode == 2
    assert "not a size in bytes" in done.stderr


def test_context_shows_a_control_sequence_in_a_name_on_a_terminal_and_keeps_it_in_a_pipe(
    tmp_path: Path,
):
    name = "evil\x1b]0;pwned\x07.txt"
    write(tmp_path / "repo", {name: "x\n", "ok.txt": "y\n"})
    piped = run_cli("context", str(tmp_path / "repo"))
    assert f"  {name}  (2 chars)" in piped.stdout  # a pipe gets the name as it is
    text = _context_on_a_terminal(tmp_path / "repo")
    assert "evil␛]0;pwned␇.txt" in text
    assert "\x1b" not in text


def test_context_on_a_terminal_shows_each_name_as_one_line(tmp_path: Path):
    repo = tmp_path / "repo"
    write(repo, {"two\nlines.txt": "x\n", "ok.txt": "y\n"})
    (repo / "bin\nary.dat").write_bytes(b"\0\1\2")
    piped = run_cli("context", str(repo))
    assert "  two\nlines.txt  (2 chars)" in piped.stdout  # a pipe gets the name as it is
    assert "    bin\nary.dat\n" in piped.stdout
    text = _context_on_a_terminal(repo).replace("\r\n", "\n")  # the pty's line ends
    assert "  two␊lines.txt  (2 chars)" in text  # in the tree and the largest files
    assert "Largest files:\n  ok.txt  (2 chars, 1 lines)\n  two␊lines.txt" in text
    assert "(e.g. bin␊ary.dat)" in text  # the summary's skipped files
    assert "    bin␊ary.dat\n" in text  # and the list of them
    assert "lines.txt" not in text.replace("two␊lines.txt", "")


def _context_on_a_terminal(path: Path) -> str:
    """What `rlm-tui context PATH` shows on a terminal (a pty)."""
    main, secondary = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    with subprocess.Popen([sys.executable, "-m", "rlm_tui", "context", str(path)],
                          stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE,
                          env=env) as process:
        os.close(secondary)
        shown = b""
        while chunk := _read_or_end(main):
            shown += chunk
        process.wait(timeout=60)
    os.close(main)
    return shown.decode("utf-8")


def _read_or_end(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the other side closed
        return b""


def test_context_json_escapes_del_and_c1_in_names_and_means_the_same(tmp_path: Path):
    name = "csi\x9b31m\x7f.txt"
    write(tmp_path / "repo", {name: "x\n", "ok.txt": "y\n"})
    done = run_cli("context", str(tmp_path / "repo"), "--json")
    assert done.returncode == 0
    assert "\x9b" not in done.stdout and "\x7f" not in done.stdout
    assert "csi\\u009b31m\\u007f.txt" in done.stdout
    report = json.loads(done.stdout)
    assert any(item["path"] == name for item in report["context"]["largest_files"])


def test_context_loads_as_run_and_the_app_do_defaults_config_and_environment(tmp_path: Path):
    from rlm_tui.config import Settings
    from rlm_tui.context.loader import LoadOptions

    # One set of defaults: `context` said 2 files where `run` loaded 1 (2 MiB against 2 MB).
    assert LoadOptions.from_settings(Settings()) == LoadOptions()
    repo = tmp_path / "repo"
    write(repo, {"big.txt": "hello world\n" * 170_833, "small.txt": "hi\n", "tests/t.py": "x\n"})
    done = run_cli("context", str(repo), "--json")
    assert json.loads(done.stdout)["context"]["files"] == 3  # 2,049,996 bytes < 2 MiB
    # The settings file and the environment choose files for `context` too.
    config = tmp_path / "config.toml"
    config.write_text('exclude = ["tests/"]\nmax_file_size = 1000\n')
    done = run_cli("context", str(repo), "--json", "--config", str(config))
    report = json.loads(done.stdout)
    assert report["context"]["files"] == 1 and report["options"]["exclude"] == ["tests/"]
    env_run = subprocess.run(
        [sys.executable, "-m", "rlm_tui", "context", str(repo), "--json"],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT), RLM_TUI_EXCLUDE="tests/"),
    )
    assert json.loads(env_run.stdout)["context"]["files"] == 2, env_run.stderr
    # A broken settings file is one line and exit 2, as for `run`.
    config.write_text("exclude = [\n")
    done = run_cli("context", str(repo), "--config", str(config))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
