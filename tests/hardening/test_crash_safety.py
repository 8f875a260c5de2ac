"""`rlm-tui run` killed at any moment leaves a transcript that reads, folds and exports;
SIGINT and SIGTERM end a run as halted, with its workers gone.

The runs are real subprocesses against the local test server, scripted over several
iterations with batched and single sub-calls, slowed by small chunk delays on the server so
that a run lasts a couple of seconds. Each subprocess spends ~2.5 s loading litellm before
its transcript exists (a minute of CPU for twenty), so the twenty SIGKILL runs are forks of
one process that has loaded them (warm_cli.py), running the same `rlm_tui.cli.main`, four at
a time; the moments, from 0.2 s after the start to the run's end, come from a seeded
generator. SIGINT and SIGTERM go to real `python -m rlm_tui run` processes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from rlm_tui.sandbox import Sandbox
from rlm_tui.transcript import EXPORT_FORMATS, export_transcript, read_transcript
from tests.integration.openai_server import OpenAIServer, Reply
from tests.integration.test_engine import repl

SEED = 7
KILLS = 20
KILLS_AT_ONCE = 4
ROOT_TURNS = 4  # iterations with sub-calls before the one that answers
ROOT_CHUNKS, ROOT_DELAY = 8, 0.03
SUB_CHUNKS, SUB_DELAY = 5, 0.04
# The least a run can take after its header is written: the server's own waits.
RUN_SECONDS = (ROOT_TURNS * ((ROOT_CHUNKS - 1) * ROOT_DELAY + 2 * (SUB_CHUNKS - 1) * SUB_DELAY)
               + 3 * ROOT_DELAY)
STARTUP_TIMEOUT_S = 60.0
WATCHER_DELAY_S = 2.0


def root_code(turn: int) -> str:
    return (f"r{turn} = llm_query_batched([f'part {turn}.{{i}} of ' + context[n]\n"
            f"    for i, n in enumerate(sorted(context))])\n"
            f"s{turn} = llm_query('one more question, turn {turn}')\n"
            f"print(len(r{turn}), s{turn})")


def slow_provider(body: dict) -> Reply:
    """Stateless, so concurrent runs can share the server: the root's turn is the number of
    its earlier replies in the request."""
    messages = body["messages"]
    if any(m["role"] == "system" for m in messages):
        turn = sum(m["role"] == "assistant" for m in messages)
        code = root_code(turn) if turn < ROOT_TURNS else "FINAL('all parts read')"
        return Reply(text=repl(code), chunks=ROOT_CHUNKS, chunk_delay=ROOT_DELAY)
    return Reply(text="a short answer about that part", chunks=SUB_CHUNKS,
                 chunk_delay=SUB_DELAY)


def make_repo(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return 'hello'\n")
    (root / "src" / "util.py").write_text("def helper(x):\n    return x * 2\n")
    (root / "README.md").write_text("# app\nSays hello.\n")
    return root


def run_env(tmp: Path) -> dict[str, str]:
    """No user config, no RLM_TUI_* from the host, temp files kept inside the test's dir."""
    (tmp / "tmp").mkdir(exist_ok=True)
    (tmp / "config").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLM_TUI_")}
    # Control sockets in a short runtime dir of its own: under pytest's long temporary path
    # a socket's would pass the 103 bytes a Unix socket's path may take (a warning line).
    runtime = tempfile.mkdtemp(prefix="rt-", dir="/tmp")
    env.update(XDG_CONFIG_HOME=str(tmp / "config"), TMPDIR=str(tmp / "tmp"),
               XDG_RUNTIME_DIR=runtime)
    return env


def start_run(server: OpenAIServer, repo: Path, transcript: Path, env: dict[str, str],
              query: str = "What does the app do?") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rlm_tui", "run", str(repo), "-q", query, "--model",
         "openai/root", "--sub-model", "openai/sub", "--api-base", server.base_url,
         "--transcript", str(transcript)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for(transcript: Path, marker: str, proc: subprocess.Popen) -> None:
    """Until the transcript holds `marker` (or anything, for ""); fails if the run ends."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        text = transcript.read_text() if transcript.exists() else ""
        if text and marker in text:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {marker or 'its header'!r}: "
                        f"{proc.communicate()[1]}")
        assert time.monotonic() < deadline, f"no {marker or 'header'!r} in the transcript"
        time.sleep(0.01)


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


def alive(pids: list[int]) -> list[int]:
    """Those still running; a zombie is gone (PID 1 here does not reap orphans)."""
    out = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):  # gone (ESRCH while it is reaped)
            continue
        if "State:\tZ" not in status:
            out.append(pid)
    return out


# --- SIGKILL at twenty moments --------------------------------------------------------------


class WarmLauncher:
    """Starts `rlm-tui` command lines by forking warm_cli.py's preloaded process."""

    def __init__(self, env: dict[str, str]) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hardening.warm_cli"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parents[2])
        self._lock = threading.Lock()
        assert json.loads(self._proc.stdout.readline()) == {"ready": True}

    def start(self, argv: list[str], env: dict[str, str], out: Path, err: Path) -> int:
        request = {"argv": argv, "env": env, "stdout": str(out), "stderr": str(err)}
        with self._lock:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            return json.loads(self._proc.stdout.readline())["pid"]

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait(10)


@dataclass
class KilledRun:
    offset: float  # seconds after the command started
    transcript: Path
    stderr: Path
    header_seen: bool  # the transcript existed before the kill
    workers: list[int]  # the host's children just before the kill
    workers_left: list[int]  # those still alive a while after


def kill_offsets() -> list[float]:
    rng = random.Random(SEED)
    return sorted(round(rng.uniform(0.2, RUN_SECONDS), 3) for _ in range(KILLS))


@dataclass
class KillScene:
    tmp: Path
    repo: Path
    env: dict[str, str]
    server: OpenAIServer
    launcher: WarmLauncher

    def wait_gone(self, pid: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while alive([pid]):
            assert time.monotonic() < deadline, f"process {pid} did not end"
            time.sleep(0.02)


@pytest.fixture(scope="module")
def kill_scene(tmp_path_factory) -> KillScene:
    tmp = tmp_path_factory.mktemp("killed")
    env = run_env(tmp)
    with OpenAIServer() as server:
        server.responder = slow_provider
        launcher = WarmLauncher(env)
        try:
            yield KillScene(tmp, make_repo(tmp / "repo"), env, server, launcher)
        finally:
            launcher.close()


@pytest.fixture(scope="module")
def killed_runs(kill_scene) -> list[KilledRun]:
    scene = kill_scene

    def one(index: int, offset: float) -> KilledRun:
        transcript = scene.tmp / f"t{index:02d}.jsonl"
        argv = ["run", str(scene.repo), "-q", "What does the app do?", "--model",
                "openai/root", "--sub-model", "openai/sub", "--api-base",
                scene.server.base_url, "--transcript", str(transcript)]
        started = time.monotonic()
        stderr = scene.tmp / f"err{index:02d}"
        pid = scene.launcher.start(argv, scene.env, scene.tmp / f"out{index:02d}", stderr)
        time.sleep(max(0.0, started + offset - time.monotonic()))
        header_seen = transcript.exists()
        workers = children(pid)
        os.kill(pid, signal.SIGKILL)
        # The host is gone at once; a worker learns of it by PR_SET_PDEATHSIG.
        deadline = time.monotonic() + 10
        while alive([pid, *workers]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert alive([pid]) == [], "SIGKILL did not end the host"
        return KilledRun(offset, transcript, stderr, header_seen, workers, alive(workers))

    with ThreadPoolExecutor(KILLS_AT_ONCE) as pool:
        return list(pool.map(one, range(KILLS), kill_offsets()))


def test_the_kills_are_spread_over_the_run_and_land_before_its_end(killed_runs):
    offsets = [k.offset for k in killed_runs]
    assert len(set(offsets)) == KILLS and offsets == sorted(offsets)
    unfinished = [k for k in killed_runs if k.header_seen
                  and '"session_finished"' not in k.transcript.read_text()]
    # The kills come before the server's own waits are over, so nearly all cut a live run.
    assert len(unfinished) >= KILLS // 2


@pytest.mark.parametrize("index", range(KILLS))
def test_a_killed_run_leaves_a_transcript_that_reads_folds_and_exports(killed_runs, index):
    killed = killed_runs[index]
    assert killed.stderr.read_text() == ""  # nothing went wrong before the kill
    if not killed.transcript.exists():
        assert not killed.header_seen
        return  # killed while loading the context: nothing written, nothing to read
    data = killed.transcript.read_bytes()
    transcript = read_transcript(killed.transcript)
    whole = data[: data.rfind(b"\n") + 1]
    assert transcript.header["query"] == "What does the app do?"
    assert transcript.lines == whole.count(b"\n")  # every whole line was read ...
    assert len(transcript.events) == transcript.lines - 1  # ... as an event
    assert transcript.skipped == {}
    if whole == data:
        assert transcript.stop is None
    else:  # SIGKILL inside a write: the stop names the first line not read
        assert transcript.stop is not None
        assert (transcript.stop.line, transcript.stop.offset) == (transcript.lines + 1,
                                                                    len(whole))
    seqs = [e.seq for e in transcript.events]
    assert seqs == list(range(1, len(seqs) + 1))
    model = transcript.fold()
    finished = any(e.type == "session_finished" for e in transcript.events)
    assert model.status == ("answered" if finished else "running")
    assert model.orphans == 0
    for fmt in EXPORT_FORMATS:
        assert export_transcript(transcript, fmt, model)
    if not finished:
        assert "the transcript ends before the run did" in export_transcript(
            transcript, "markdown", model)


@pytest.mark.parametrize("index", range(KILLS))
def test_a_killed_transcript_cut_inside_a_line_says_where_it_stops(killed_runs, index,
                                                                  tmp_path):
    """SIGKILL mostly lands between writes; a crash can also leave half a line (a full
    disk, a power cut). Cut each killed transcript at a seeded byte inside its events."""
    if not killed_runs[index].transcript.exists():
        pytest.skip("killed before the transcript was created")
    data = killed_runs[index].transcript.read_bytes()
    header_end = data.index(b"\n") + 1
    if len(data) <= header_end + 1:
        pytest.skip("killed before the first event: nothing to cut inside")
    cut = random.Random(SEED * 1000 + index).randrange(header_end + 1, len(data))
    line_start = data.rfind(b"\n", 0, cut) + 1
    cut_copy = tmp_path / "cut.jsonl"
    cut_copy.write_bytes(data[:cut])

    transcript = read_transcript(cut_copy)

    lines_before = data[:line_start].count(b"\n")
    if data[cut : cut + 1] == b"\n":  # the cut fell just before a newline: that line is whole
        assert len(transcript.events) == lines_before
        assert transcript.stop is None
        return
    assert len(transcript.events) == lines_before - 1
    if line_start == cut:  # the cut fell just after a newline: nothing is partial
        assert transcript.stop is None
        return
    assert transcript.stop is not None
    assert (transcript.stop.line, transcript.stop.offset) == (lines_before + 1, line_start)
    assert "cut short" in transcript.stop.reason
    markdown = export_transcript(transcript, "markdown")
    assert f"stops at line {lines_before + 1}" in markdown


def test_no_worker_outlives_a_killed_host(killed_runs):
    with_workers = [k for k in killed_runs if k.workers]
    assert with_workers  # the kills caught runs with a worker up
    assert [k.workers_left for k in killed_runs if k.workers_left] == []


def test_the_next_run_clears_what_killed_runs_left_in_the_temp_dir(kill_scene, killed_runs):
    scene = kill_scene
    before = {p.name for p in (scene.tmp / "tmp").iterdir()}
    assert any(name.startswith("rlm-tui-pack-") for name in before)
    pid = scene.launcher.start(
        ["run", str(scene.repo), "-q", "q", "--model", "demo", "--transcript",
         str(scene.tmp / "after.jsonl")], scene.env, scene.tmp / "out-after",
        scene.tmp / "err-after")
    scene.wait_gone(pid)
    assert '"session_finished"' in (scene.tmp / "after.jsonl").read_text()
    # The sockets the killed runs left in the runtime dir are swept by the next run.
    runtime = Path(scene.env["XDG_RUNTIME_DIR"])
    sockets = sorted(p.name for p in runtime.rglob("*.sock"))
    assert sockets == [], f"stale control sockets left: {sockets[:2]}"
    left = sorted(p.name for p in (scene.tmp / "tmp").iterdir())
    assert left == [], f"{len(left)} left behind, e.g. {left[:2]}"


# --- SIGINT and SIGTERM ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sig", "moment"),
    [pytest.param(sig, moment, id=f"{sig.name}-during-{moment}")
     for moment in ("cell", "sub-calls") for sig in (signal.SIGINT, signal.SIGTERM)],
)
def test_sigint_and_sigterm_halt_the_run_and_leave_no_worker(openai_server, tmp_path, sig,
                                                             moment):
    if moment == "cell":  # the worker is busy running code
        code, marker = "n = 0\nwhile True:\n    n += 1", '"cell_started"'
    else:  # model calls are streaming in flight
        code, marker = "r = llm_query_batched(['a', 'b', 'c'])", '"subcall_started"'

    def provider(body: dict) -> Reply:
        if any(m["role"] == "system" for m in body["messages"]):
            return Reply(text=repl(code))
        return Reply(text="slow " * 100, chunks=100, chunk_delay=0.2)

    openai_server.responder = provider
    transcript = tmp_path / "t.jsonl"
    proc = start_run(openai_server, make_repo(tmp_path / "repo"), transcript,
                     run_env(tmp_path))
    try:
        wait_for(transcript, marker, proc)
        workers = children(proc.pid)
        assert workers  # the worker of the session
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == 1
    assert out == ""
    lines = err.splitlines()
    assert lines == [f"rlm-tui: stopped without an answer: interrupted by {sig.name}"]
    events = [json.loads(line) for line in transcript.read_text().splitlines()[1:]]
    last = events[-2:]
    assert [e["type"] for e in last] == ["session_finished", "state_changed"]
    assert last[0]["status"] == "halted" and last[1]["state"] == "halted"
    assert last[0]["reason"] == f"interrupted by {sig.name}"
    assert alive(workers) == []
    if moment == "sub-calls":  # the streams in flight were closed, not left to run out
        assert openai_server.wait_for_disconnect(5)
    assert read_transcript(transcript).stop is None


async def test_a_killed_worker_is_reaped_by_asyncio_alone(monkeypatch, caplog):
    """The race made deterministic: asyncio's watcher thread for the first worker is held
    back (as on a busy machine) until the worker is a zombie and `_kill` has gone on."""
    real_waitpid, real_killpg = os.waitpid, os.killpg
    held = threading.Event()

    def slow_watcher_waitpid(pid: int, options: int):
        if threading.current_thread().name.startswith("asyncio-waitpid") and not held.is_set():
            held.set()  # only the first worker's watcher is late
            time.sleep(WATCHER_DELAY_S)
        return real_waitpid(pid, options)

    def killpg_until_dead(pgid: int, sig: int) -> None:
        real_killpg(pgid, sig)
        deadline = time.monotonic() + WATCHER_DELAY_S
        while alive([pgid]):  # until a zombie (held for the late watcher) or gone
            assert time.monotonic() < deadline
            time.sleep(0.005)

    monkeypatch.setattr(os, "waitpid", slow_watcher_waitpid)
    sandbox = Sandbox("some context")
    await sandbox.start()
    worker = sandbox._proc
    monkeypatch.setattr(os, "killpg", killpg_until_dead)
    try:
        await sandbox.restart()  # kills the worker, starts a fresh one
    finally:
        monkeypatch.undo()
        await sandbox.close()
    assert not [r for r in caplog.records if "Unknown child process" in r.getMessage()]
    assert worker.returncode == -signal.SIGKILL
