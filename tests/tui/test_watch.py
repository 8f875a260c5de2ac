"""`rlm-tui watch`: a run that another process is running, followed in the app as its
transcript grows, and steered over the run's control socket with the live app's keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlm_tui import events as ev
from rlm_tui.remote.server import HALT_REASON, ControlServer
from rlm_tui.transcript import TranscriptWriter
from rlm_tui.transcript.follow import TranscriptFollower
from rlm_tui.tui.watch_app import WatchApp
from rlm_tui.tui.widgets.cell_log import CellLog
from tests.integration.openai_server import Reply
from tests.integration.test_engine import Scripted, repl
from tests.tui.conftest import wait_for
from tests.tui.event_script import ANSWER, REPLY_1, REPLY_2, EventScript
from tests.tui.snapshot_scenes import SIZE
from tests.tui.test_steering import type_into_prompt

NOTE = "check the tests before answering"
QUERY = "Count the files, slowly"


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    return run


def slow_script(count: int = 60) -> Scripted:
    """Root replies of a few streamed chunks each, ~0.3 s a reply: a run long enough to
    be watched, paused, noted and halted."""
    return Scripted([Reply(text=repl(f"x = {i}\nprint(x)"), chunks=6, chunk_delay=0.05)
                     for i in range(count)])


def start_run(server, repo: Path, transcript: Path, runtime: Path,
              *extra: str) -> subprocess.Popen:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": os.devnull,
           "OPENAI_API_KEY": "sk-test"}
    env = {k: v for k, v in env.items() if not k.startswith("RLM_TUI_")}
    return subprocess.Popen(
        [sys.executable, "-m", "rlm_tui", "run", str(repo), "-q", QUERY, "--model",
         "openai/root", "--api-base", server.base_url, "--config", os.devnull,
         "--transcript", str(transcript), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended first: {proc.stderr.read()}")
        assert time.monotonic() < deadline, "no transcript"
        time.sleep(0.05)


def recorded(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


async def test_a_headless_run_is_followed_paused_noted_and_halted_from_the_app(
        openai_server, sample, tmp_path, runtime):
    openai_server.responder = slow_script()
    transcript = tmp_path / "watched.jsonl"
    proc = start_run(openai_server, Path(sample), transcript, runtime)
    try:
        wait_for_file(transcript, proc)
        header = json.loads(transcript.read_text().splitlines()[0])
        socket = Path(header["control_socket"])
        assert socket.parent == runtime / "rlm-tui" and socket.exists()
        # A watcher that leaves changes nothing for the run: it goes on.
        first = WatchApp(TranscriptFollower.open(transcript))
        async with first.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: first.summary.iteration >= 1, 30, "an iteration")
        left_at = len(transcript.read_bytes())
        deadline = time.monotonic() + 30
        while len(transcript.read_bytes()) <= left_at + 2000:
            assert proc.poll() is None and time.monotonic() < deadline, "the run stopped"
            time.sleep(0.1)
        app = WatchApp(TranscriptFollower.open(transcript))
        async with app.run_test(size=SIZE) as pilot:
            # The panes follow the run as it goes: iterations and cells keep arriving.
            await wait_for(pilot, lambda: app.summary.iteration >= 2, 30, "two iterations")
            cells = len(app.query_one(CellLog).cells)
            await wait_for(pilot, lambda: len(app.query_one(CellLog).cells) > cells, 30,
                           "a cell more")
            assert app.session.status_bar.replay.watch == "live"
            await pilot.press("space")
            await wait_for(pilot, lambda: app.summary.state == "paused", 30, "paused")
            assert "Pause sent: the run is paused." in [n.message for n in app._notifications]
            paused_at = app.summary.iteration
            await pilot.press("i")
            await type_into_prompt(pilot, NOTE)
            await wait_for(pilot, lambda: any(isinstance(e, ev.NoteAdded)
                                              for e in app.cursor.events), 30, "the note")
            await pilot.pause(0.8)
            assert app.summary.iteration == paused_at  # paused: no iteration started since
            await pilot.press("x")
            await wait_for(pilot, lambda: app.ended is not None, 30, "the run's end")
            assert app.summary.state == "halted"
            assert app.session.status_bar.replay.watch == "ended"
            await pilot.press("space")  # the run has ended: the key says so in one line
            await pilot.pause()
            said = [n.message for n in app._notifications]
            assert any("The run has ended (the session has closed)" in m for m in said)
            assert any("there is nothing to steer" in m for m in said)
        assert proc.wait(30) == 1  # stopped without an answer
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events = recorded(transcript)
    states = [(e["state"], e.get("reason")) for e in events if e["type"] == "state_changed"]
    assert ("paused", None) in states
    assert states[-1] == ("halted", HALT_REASON)
    assert [e["text"] for e in events if e["type"] == "note_added"] == [NOTE]
    assert not socket.exists()  # removed when the session closed
    assert "rlm-tui: warning" not in proc.stderr.read()


def test_a_run_whose_socket_dir_cannot_be_made_still_runs_with_a_warning(
        openai_server, sample, tmp_path):
    openai_server.responder = Scripted([repl("FINAL('done')")])
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    (runtime / "rlm-tui").write_text("a file where the socket dir should be")
    transcript = tmp_path / "t.jsonl"
    proc = start_run(openai_server, Path(sample), transcript, runtime)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out == "done\n"
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert warnings == [f"rlm-tui: warning: no control socket, so rlm-tui watch cannot "
                        f"steer this run: {runtime / 'rlm-tui'} is not a directory"]
    assert "control_socket" not in json.loads(transcript.read_text().splitlines()[0])


def test_a_run_with_loose_permissions_on_its_socket_dir_runs_unsteerable(
        openai_server, sample, tmp_path):
    openai_server.responder = Scripted([repl("FINAL('done')")])
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    (runtime / "rlm-tui").mkdir()
    os.chmod(runtime / "rlm-tui", 0o777)
    proc = start_run(openai_server, Path(sample), tmp_path / "t.jsonl", runtime)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "has mode 0777, not 0700" in err and err.count("warning") == 1
    assert list((runtime / "rlm-tui").iterdir()) == []  # nothing made in it


# -- a transcript written here, line by line ---------------------------------------------------

def _writer(path: Path, socket: str | None) -> TranscriptWriter:
    return TranscriptWriter(path, query="How does the sandbox stop a runaway cell?",
                            settings={"model": "openai/root-model", "max_cost": 0.5},
                            context={"source": "sample", "kind": "files", "name": "sample",
                                     "files": 5, "chars": 1200}, control_socket=socket)


async def test_a_line_cut_mid_write_waits_for_its_end(tmp_path):
    path = tmp_path / "live.jsonl"
    writer = _writer(path, None)
    script = EventScript()
    script.start("How does the sandbox stop a runaway cell?")
    script.iteration(1, REPLY_1)
    for event in script.take():
        writer(event)
    app = WatchApp(TranscriptFollower.open(path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.summary.iteration == 1, 10, "iteration 1")
        shown = app.cursor.position
        script.iteration(2, REPLY_2)
        line = next(e for e in script.take() if isinstance(e, ev.IterationStarted))
        text = line.model_dump_json().encode()
        with open(path, "ab") as file:
            file.write(text[:25])  # the writer is cut off in the middle of the line
            file.flush()
            await pilot.pause(0.3)
            assert app.cursor.position == shown and app.ended is None
            assert app.follower.stop is None and app.follower.pending == text[:25]
            file.write(text[25:] + b"\n")
            file.flush()
        await wait_for(pilot, lambda: app.summary.iteration == 2, 10, "iteration 2")
        assert app.follower.stop is None and app.ended is None
    writer.close()


async def test_a_run_without_a_socket_is_watched_and_its_keys_say_so(tmp_path):
    path = tmp_path / "live.jsonl"
    writer = _writer(path, None)
    script = EventScript()
    script.start("How does the sandbox stop a runaway cell?")
    for event in script.take():
        writer(event)
    app = WatchApp(TranscriptFollower.open(path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        for key in ("space", "n", "x", "i"):
            await pilot.press(key)
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert said.count("This run has no control socket (control_socket = false, or it "
                          "could not be made): it can be watched, not steered.") == 4
    writer.close()


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    (b"hello\n", "not a transcript"),
    (b'{"type": "metadata", "root_model": "x"}\n', "is an rlms log"),
])
def test_bad_files_are_one_line_before_the_app_opens(tmp_path, content, message):
    path = tmp_path / "t.jsonl"
    if content is not None:
        path.write_bytes(content)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "rlm_tui", "watch", str(path)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr
    latest = subprocess.run([sys.executable, "-m", "rlm_tui", "watch", "--latest"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert latest.returncode == 2 and "no transcript under" in latest.stderr


def test_latest_is_the_newest_transcript_under_the_user_data_dir(tmp_path, monkeypatch):
    from rlm_tui.transcript.writer import latest_transcript

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    sessions = tmp_path / "data" / "rlm-tui" / "sessions"
    older, newer = sessions / "a.jsonl", sessions / "b.jsonl"
    _writer(older, None).close()
    _writer(newer, None).close()
    os.utime(older, (time.time() - 60, time.time() - 60))
    results = tmp_path / "data" / "rlm-tui" / "evals" / "e1" / "results.jsonl"
    results.parent.mkdir(parents=True)
    results.write_text('{"id": "t1"}\n')  # newer still, but no transcript
    assert latest_transcript() == newer


# -- the screen --------------------------------------------------------------------------------

def test_the_watch_screen(snap_compare, tmp_path, runtime):
    """A run two iterations in, live, with a socket listening (a real one, steering
    nothing): the WATCH badge, the state, and the steering keys in the footer."""
    import asyncio

    path = tmp_path / "session.jsonl"

    class Idle:
        state = "running"

        def pause(self) -> None: ...
        def resume(self) -> None: ...
        def step(self) -> None: ...
        def halt(self, reason: str = "") -> None: ...
        def add_note(self, text: str) -> None: ...

    loop = asyncio.new_event_loop()
    server = ControlServer(Idle())
    socket = loop.run_until_complete(server.start())
    writer = _writer(path, str(socket))
    script = EventScript()
    script.start("How does the sandbox stop a runaway cell?")
    i1 = script.iteration(1, REPLY_1)
    script.cell(i1, 1, "print(len(context), list(context)[:5])",
                stdout="5 ['README.md', 'app.py', 'sandbox/host.py', ...]\n")
    script.iteration(2, REPLY_2, tokens=(1500, 120))
    for event in script.take():
        writer(event)
    app = WatchApp(TranscriptFollower.open(path), clock=lambda: script.ts)
    assert ANSWER  # the session has not answered yet

    async def run_before(pilot) -> None:
        await wait_for(pilot, lambda: app.summary.iteration == 2, 10, "iteration 2")
        await pilot.pause(0.1)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        writer.close()
        loop.run_until_complete(server.close())
        loop.close()
