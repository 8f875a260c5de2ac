"""Bad input to every command: one line on stderr, exit 2 or 3, no traceback, no hang, and no
transcript from a run that failed before it started.

Each row is a real `python -m rlm_tui` subprocess with no user config (XDG_CONFIG_HOME and
XDG_DATA_HOME point at empty directories) and no RLM_TUI_* from the host. The rows run three
at a time in a module fixture (most take half a second, the few that load litellm ~3 s);
each test then checks one row's outcome.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rlm_tui.transcript import read_transcript



@dataclass(frozen=True)
class Case:
    """One bad input. `{d}` in argv is the fixture directory, `{port}` a closed port."""

    argv: tuple[str, ...]
    code: int
    message: str  # a fragment of the one stderr line
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    stdin: bytes = b""
    starts_run: bool = False  # fails only once the run is under way: a transcript is kept
    timeout: float = 60.0


DEMO = ("--model", "demo")
GOOD = "{d}/repo"


def run(*args: str) -> tuple[str, ...]:
    """A `run` command line, writing its transcript (if any) where the test looks for it."""
    return ("run", *args, "--transcript", "{out}")


CASES: dict[str, Case | pytest.param] = {
    # run: the path
    "run-missing-path": Case(run("{d}/no/such", "-q", "q", *DEMO), 2, "no such file"),
    "run-fifo": Case(run("{d}/fifo", "-q", "q", *DEMO), 2, "FIFO"),
    "run-empty-dir": Case(run("{d}/empty", "-q", "q", *DEMO), 2, "empty directory"),
    "run-only-binaries": Case(run("{d}/binaries", "-q", "q", *DEMO), 2, "no text file"),
    "run-only-a-fifo-inside": Case(run("{d}/fifodir", "-q", "q", *DEMO), 2, "no text file"),
    "run-empty-stdin": Case(run("-", "-q", "q", *DEMO), 2, "stdin is empty"),
    "run-binary-stdin": Case(run("-", "-q", "q", *DEMO), 2, "binary",
                             stdin=bytes(range(256)) * 8),
    # run: the query
    "run-empty-query": Case(run(GOOD, "-q", "", *DEMO), 2, "query is empty"),
    "run-blank-query": Case(run(GOOD, "-q", "   \t ", *DEMO), 2, "query is empty"),
    "run-missing-query": Case(run(GOOD, *DEMO), 2, "--query"),
    # run: flags
    "run-negative-iterations": Case(run(GOOD, "-q", "q", *DEMO, "--max-iterations", "-3"), 2,
                                    "--max-iterations"),
    "run-zero-iterations": Case(run(GOOD, "-q", "q", *DEMO, "--max-iterations", "0"), 2,
                                "--max-iterations"),
    "run-non-numeric-iterations": Case(
        run(GOOD, "-q", "q", *DEMO, "--max-iterations", "lots"), 2, "--max-iterations"),
    "run-zero-depth": Case(run(GOOD, "-q", "q", *DEMO, "--max-depth", "0"), 2, "--max-depth"),
    "run-negative-cost": Case(run(GOOD, "-q", "q", *DEMO, "--max-cost", "-1"), 2, "--max-cost"),
    "run-zero-time": Case(run(GOOD, "-q", "q", *DEMO, "--max-time", "0"), 2, "--max-time"),
    "run-zero-concurrency": Case(run(GOOD, "-q", "q", *DEMO, "--max-concurrency", "0"), 2,
                                 "--max-concurrency"),
    "run-non-numeric-tokens": Case(run(GOOD, "-q", "q", *DEMO, "--max-tokens", "many"), 2,
                                   "--max-tokens"),
    "run-bad-size": Case(run(GOOD, "-q", "q", *DEMO, "--max-file-size", "huge"), 2,
                         "--max-file-size"),
    "run-unknown-flag": Case(run(GOOD, "-q", "q", *DEMO, "--frobnicate"), 2, "--frobnicate"),
    "run-bad-include-glob": Case(run(GOOD, "-q", "q", *DEMO, "--include", "[z-a]"), 2, "--include"),
    "run-transcript-is-a-dir": Case(
        ("run", GOOD, "-q", "q", *DEMO, "--transcript", "{d}/empty"), 2,
        "cannot write the transcript"),
    # run: models and servers
    "run-no-model": Case(run(GOOD, "-q", "q"), 2, "no model"),
    "run-unknown-model": Case(run(GOOD, "-q", "q", "--model", "nosuchprovider/x"), 3,
                              "unknown model"),
    "run-missing-api-key": Case(run(GOOD, "-q", "q", "--model", "openai/gpt-4o-mini"), 3,
                                "no API key", unset=("OPENAI_API_KEY",)),
    "run-empty-api-key": Case(run(GOOD, "-q", "q", "--model", "openai/gpt-4o-mini"), 3,
                              "no API key", env={"OPENAI_API_KEY": ""}),
    "run-api-base-not-a-url": Case(
        run(GOOD, "-q", "q", "--model", "openai/x", "--api-base", "127.0.0.1:8000"), 2,
        "--api-base"),
    "run-sub-api-base-not-a-url": Case(
        run(GOOD, "-q", "q", *DEMO, "--sub-api-base", "127.0.0.1"), 2, "--sub-api-base"),
    "run-unreachable-api-base": Case(
        run(GOOD, "-q", "q", "--model", "openai/x", "--api-base", "http://127.0.0.1:{port}/v1"),
        3, "cannot reach", env={"RLM_TUI_MAX_RETRIES": "0"}, starts_run=True),
    # the config file and the environment
    "config-wrong-type": Case(run(GOOD, "-q", "q", *DEMO, "--config", "{d}/wrong-type.toml"),
                              2, "max_iterations"),
    "config-unknown-key": Case(run(GOOD, "-q", "q", *DEMO, "--config", "{d}/unknown.toml"), 2,
                               "unknown setting"),
    "config-invalid-toml": Case(run(GOOD, "-q", "q", *DEMO, "--config", "{d}/invalid.toml"),
                                2, "not valid TOML"),
    "config-binary": Case(run(GOOD, "-q", "q", *DEMO, "--config", "{d}/binary.toml"), 2,
                          "config file"),
    "config-bad-price": Case(run(GOOD, "-q", "q", *DEMO, "--config", "{d}/bad-price.toml"), 2,
                             "prices"),
    "config-missing": Case(run(GOOD, "-q", "q", *DEMO, "--config", "{d}/no-such.toml"), 2,
                           "not found"),
    "config-is-a-dir": Case(run(GOOD, "-q", "q", *DEMO, "--config", "{d}/empty"), 2,
                            "config file"),
    "config-default-location-invalid": Case(run(GOOD, "-q", "q", *DEMO), 2, "not valid TOML",
                                            env={"XDG_CONFIG_HOME": "{d}/bad-config-home"}),
    "env-bad-value": Case(run(GOOD, "-q", "q", *DEMO), 2, "RLM_TUI_MAX_ITERATIONS",
                          env={"RLM_TUI_MAX_ITERATIONS": "lots"}),
    "env-bad-bool": Case(run(GOOD, "-q", "q", *DEMO), 2, "RLM_TUI_INCLUDE_SECRETS",
                         env={"RLM_TUI_INCLUDE_SECRETS": "maybe"}),
    "env-unknown-name": Case(run(GOOD, "-q", "q", *DEMO), 2, "RLM_TUI_NO_SUCH_SETTING",
                             env={"RLM_TUI_NO_SUCH_SETTING": "1"}),
    # export
    "export-missing": Case(("export", "{d}/no-such.jsonl"), 2, "no such file"),
    "export-binary": Case(("export", "{d}/binary.jsonl"), 2, "binary"),
    "export-garbage": Case(("export", "{d}/garbage.jsonl"), 2, "not a transcript"),
    "export-foreign-jsonl": Case(("export", "{d}/foreign.jsonl"), 2,
                                 "not an rlm-tui transcript"),
    "export-json-array": Case(("export", "{d}/array.jsonl"), 2, "not a JSON object"),
    "export-empty": Case(("export", "{d}/empty.jsonl"), 2, "empty"),
    "export-directory": Case(("export", "{d}/empty"), 2, "directory"),
    "export-newer-schema": Case(("export", "{d}/newer.jsonl"), 2, "newer"),
    "export-fifo": Case(("export", "{d}/fifo"), 2, "fifo", timeout=8),
    "export-unknown-format": Case(("export", "{d}/good.jsonl", "--format", "pdf"), 2, "--format"),
    "export-output-is-the-input": Case(
        ("export", "{d}/good.jsonl", "-f", "html", "-o", "{d}/good.jsonl"), 2, "input file"),
    "export-output-unwritable": Case(
        ("export", "{d}/good.jsonl", "-f", "json", "-o", "{d}/no/such/dir/x.json"), 2,
        "no such directory"),
    # A transcript cut short is not an error: exported up to its last whole line, one note.
    "export-truncated": Case(("export", "{d}/truncated.jsonl"), 0, "note: the transcript stops"),
    # context
    "context-missing-path": Case(("context", "{d}/no/such"), 2, "no such file"),
    "context-fifo": Case(("context", "{d}/fifo"), 2, "FIFO"),
    "context-empty-dir": Case(("context", "{d}/empty"), 2, "empty directory"),
    "context-only-binaries": Case(("context", "{d}/binaries"), 2, "no text file"),
    "context-empty-stdin": Case(("context", "-"), 2, "stdin is empty"),
    "context-bad-size": Case(("context", GOOD, "--max-file-size", "big"), 2, "--max-file-size"),
    # replay (when the command exists)
    "replay-missing": Case(("replay", "{d}/no-such.jsonl"), 2, "no such file"),
    "replay-binary": Case(("replay", "{d}/binary.jsonl"), 2, "binary"),
    "replay-garbage": Case(("replay", "{d}/garbage.jsonl"), 2, "not a transcript"),
    "replay-empty": Case(("replay", "{d}/empty.jsonl"), 2, "empty"),
    "replay-directory": Case(("replay", "{d}/empty"), 2, "directory"),
    "replay-fifo": Case(("replay", "{d}/fifo"), 2, "fifo", timeout=8),
    "replay-newer-schema": Case(("replay", "{d}/newer.jsonl"), 2, "newer"),
}


def _unpack(case: Case | object) -> tuple[Case, tuple]:
    return (case, ()) if isinstance(case, Case) else (case.values[0], case.marks)


def _params() -> list:
    return [pytest.param(name, marks=_unpack(case)[1], id=name) for name, case in CASES.items()]


GOOD_TRANSCRIPT = (
    '{"type": "header", "format": "rlm-tui-transcript", "schema": 1, "query": "q"}\n'
    '{"seq": 1, "ts": 1.0, "session_id": "s", "node_id": "s", "type": "session_started", '
    '"query": "q", "root_model": "demo", "sub_model": "demo", "max_iterations": 3}\n'
    '{"seq": 2, "ts": 2.0, "session_id": "s", "node_id": "s", "type": "session_finished", '
    '"status": "answered", "answer": "42"}\n'
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad-input")
    (d / "repo").mkdir()
    (d / "repo" / "app.py").write_text("def main():\n    return 42\n")
    (d / "empty").mkdir()
    (d / "binaries").mkdir()
    (d / "binaries" / "blob.bin").write_bytes(bytes(range(256)) * 16)
    (d / "binaries" / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    os.mkfifo(d / "fifo")
    (d / "fifodir").mkdir()
    os.mkfifo(d / "fifodir" / "pipe")
    (d / "wrong-type.toml").write_text('max_iterations = "many"\n')
    (d / "unknown.toml").write_text("frobnicate = 1\n")
    (d / "invalid.toml").write_text("max_iterations = \n[[\n")
    (d / "binary.toml").write_bytes(b"\x89\xff\x00\x01" * 100)
    (d / "bad-price.toml").write_text('[prices."openai/x"]\ninput = "cheap"\noutput = 1\n')
    (d / "bad-config-home" / "rlm-tui").mkdir(parents=True)
    (d / "bad-config-home" / "rlm-tui" / "config.toml").write_text("model = [\n")
    (d / "binary.jsonl").write_bytes(b"\x00\x9f\x92\x96" * 500)
    (d / "garbage.jsonl").write_text("hello world\nthis is not JSON\n")
    (d / "foreign.jsonl").write_text('{"name": "x", "value": 1}\n{"name": "y"}\n')
    (d / "array.jsonl").write_text("[1, 2, 3]\n")
    (d / "empty.jsonl").write_text("")
    (d / "newer.jsonl").write_text(
        '{"type": "header", "format": "rlm-tui-transcript", "schema": 99}\n')
    (d / "good.jsonl").write_text(GOOD_TRANSCRIPT)
    (d / "truncated.jsonl").write_text(GOOD_TRANSCRIPT[: GOOD_TRANSCRIPT.rindex("\n", 0, -1)
                                                       + 30])
    (d / "config").mkdir()
    return d


@pytest.fixture(scope="module")
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def commands() -> set[str]:
    """The commands this rlm-tui has, from its --help."""
    done = subprocess.run([sys.executable, "-m", "rlm_tui", "--help"], capture_output=True,
                          text=True, timeout=60)
    words = set()
    for line in done.stdout.splitlines():
        parts = line.split()
        if line.startswith("    ") and parts and parts[0].isalpha():
            words.add(parts[0])
    assert {"run", "export", "context"} <= words, done.stdout
    return words


@dataclass
class Outcome:
    argv: list[str]
    done: subprocess.CompletedProcess | None  # None: it hung and was killed
    data_home: Path
    transcript: Path


def invoke(case: Case, d: Path, port: int, where: Path) -> Outcome:
    where.mkdir()
    data_home = where / "data"
    data_home.mkdir()
    transcript = where / "t.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLM_TUI_")}
    env.update(XDG_CONFIG_HOME=str(d / "config"), XDG_DATA_HOME=str(data_home),
               TMPDIR=str(where))
    for name in case.unset:
        env.pop(name, None)
    env.update({k: v.format(d=d) for k, v in case.env.items()})
    argv = [a.format(d=d, port=port, out=transcript) for a in case.argv]
    try:
        done = subprocess.run([sys.executable, "-m", "rlm_tui", *argv], input=case.stdin,
                              capture_output=True, env=env, timeout=case.timeout, cwd=d)
    except subprocess.TimeoutExpired:  # subprocess.run killed it
        done = None
    return Outcome(argv, done, data_home, transcript)


@pytest.fixture(scope="module")
def outcomes(inputs, closed_port, commands, tmp_path_factory) -> dict[str, Outcome]:
    runs = tmp_path_factory.mktemp("runs")
    todo = {name: _unpack(case)[0] for name, case in CASES.items()}
    todo = {name: case for name, case in todo.items() if case.argv[0] in commands}
    with ThreadPoolExecutor(3) as pool:
        futures = {name: pool.submit(invoke, case, inputs, closed_port, runs / name)
                   for name, case in todo.items()}
        return {name: future.result() for name, future in futures.items()}


def check(name: str, outcome: Outcome) -> None:
    case = _unpack(CASES[name])[0]
    done = outcome.done
    if done is None:
        pytest.fail(f"hung for {case.timeout:g} s: rlm-tui {' '.join(outcome.argv)}")
    stderr = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr
    assert done.returncode == case.code, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlm-tui: "), stderr
    assert case.message.lower() in stderr.lower(), stderr
    if case.code:
        assert done.stdout == b""
    if case.starts_run:  # the run began: its transcript is whole and says how it ended
        read = read_transcript(outcome.transcript)
        assert read.stop is None and read.fold().status == "failed"
    else:
        assert not outcome.transcript.exists(), \
            "a transcript was written for a run that never began"
    assert list(outcome.data_home.rglob("*")) == []  # nothing in the default transcript place


@pytest.mark.parametrize("name", _params())
def test_bad_input_gives_one_line_and_exit_2_or_3(name, outcomes):
    command = _unpack(CASES[name])[0].argv[0]
    if name not in outcomes:
        pytest.skip(f"`rlm-tui {command}` does not exist yet (not in rlm-tui --help)")
    check(name, outcomes[name])


def test_the_table_covers_every_command_and_enough_cases():
    commands = {_unpack(case)[0].argv[0] for case in CASES.values()}
    assert commands == {"run", "export", "context", "replay"}
    assert len(CASES) >= 25
