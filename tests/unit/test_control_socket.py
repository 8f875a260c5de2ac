"""The control socket (rlm_tui/remote/): its directory and file are the user's own or refused,
a peer of another uid is refused, and whatever a client sends gets a one-line answer."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

import pytest

from rlm_tui.remote.client import send_command
from rlm_tui.remote.protocol import MAX_LINE, MAX_NOTE_CHARS, ControlError, peer_problem
from rlm_tui.remote.server import HALT_REASON, ControlServer
from rlm_tui.remote.socket_dir import SocketPathError, check_socket, socket_dir


class FakeSession:
    """What the server steers, recording what it was told."""

    def __init__(self) -> None:
        self.state = "running"
        self.done: list[tuple[str, str | None]] = []

    def pause(self) -> None:
        self.state = "paused"
        self.done.append(("pause", None))

    def resume(self) -> None:
        self.state = "running"
        self.done.append(("resume", None))

    def step(self) -> None:
        self.state = "stepping"
        self.done.append(("step", None))

    def halt(self, reason: str = "") -> None:
        self.state = "halted"
        self.done.append(("halt", reason))

    def add_note(self, text: str) -> None:
        if text == "boom":
            raise RuntimeError("a bug\nover two lines")
        self.done.append(("note", text))


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_RUNTIME_DIR in the test's directory (0700, as the XDG spec has it)."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    return run


def test_the_socket_dir_is_made_0700_in_the_runtime_dir(runtime):
    made = socket_dir()
    assert made == runtime / "rlm-tui"
    assert made.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o755, 0o750, 0o701])
def test_a_socket_dir_with_loose_permissions_is_refused_not_repaired(runtime, mode):
    (runtime / "rlm-tui").mkdir()
    os.chmod(runtime / "rlm-tui", mode)
    with pytest.raises(SocketPathError, match=f"has mode {mode:04o}, not 0700"):
        socket_dir()
    assert (runtime / "rlm-tui").stat().st_mode & 0o777 == mode


def test_a_socket_dir_of_another_user_is_refused(runtime):
    (runtime / "rlm-tui").mkdir(mode=0o700)
    if os.geteuid() != 0:
        pytest.skip("only root can give a directory to another user")
    os.chown(runtime / "rlm-tui", 12345, 12345)
    with pytest.raises(SocketPathError, match="owned by uid 12345"):
        socket_dir()


def test_a_symlink_for_the_socket_dir_is_refused(runtime, tmp_path):
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (runtime / "rlm-tui").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SocketPathError, match="is a symlink"):
        socket_dir()


async def test_commands_reach_the_session_and_the_socket_is_0600_then_removed(runtime):
    session = FakeSession()
    server = ControlServer(session, session_id="abc123")
    path = await server.start()
    assert path.parent == runtime / "rlm-tui"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (await send_command(path, "pause"))["state"] == "paused"
    assert (await send_command(path, "toggle_pause")) == {"ok": True, "state": "running",
                                                          "cmd": "resume"}
    await send_command(path, "step")
    await send_command(path, "note", text="check the tests")
    await send_command(path, "halt")
    assert session.done == [("pause", None), ("resume", None), ("step", None),
                            ("note", "check the tests"), ("halt", HALT_REASON)]
    await server.close()
    assert not path.exists()
    with pytest.raises(SocketPathError, match="does not exist"):
        await send_command(path, "pause")


async def _raw(path: Path, *lines: bytes) -> list[dict]:
    reader, writer = await asyncio.open_unix_connection(str(path), limit=4 * MAX_LINE)
    replies = [json.loads(await reader.readline())]
    for line in lines:
        try:
            writer.write(line)
            await writer.drain()
        except ConnectionError:  # the server hung up after its error
            break
        answer = await reader.readline()
        if not answer:
            break
        replies.append(json.loads(answer))
    writer.close()
    return replies


async def test_what_a_client_sends_is_untrusted_and_answered_in_one_line(runtime):
    session = FakeSession()
    server = ControlServer(session, session_id="abc123")
    path = await server.start()
    hello, *replies = await _raw(
        path, b"not json\n", b"[1, 2]\n", b'{"cmd": "rm -rf"}\n', b'{"cmd": "note"}\n',
        json.dumps({"cmd": "note", "text": "x" * (MAX_NOTE_CHARS + 1)}).encode() + b"\n",
        b'{"cmd": "note", "text": "boom"}\n', b'{"cmd": "state"}\n')
    assert hello["rlm_tui_control"] == 1 and hello["session_id"] == "abc123"
    assert hello["state"] == "running" and hello["pid"] == os.getpid()
    errors = [r.get("error") for r in replies]
    assert errors[:6] == ["not a JSON line", "not a JSON object",
                          "unknown command 'rm -rf': one of pause, resume, step, halt, note, "
                          "state",
                          "note: give its text as a non-empty string",
                          f"note: longer than {MAX_NOTE_CHARS} characters",
                          "RuntimeError: a bug over two lines"]
    assert replies[6] == {"ok": True, "state": "running"}
    # A line past the cap: one error, then the connection ends (no resync on garbage).
    hello, *replies = await _raw(path, b"x" * (MAX_LINE + 10) + b"\n", b'{"cmd": "pause"}\n')
    assert replies == [{"ok": False, "error": f"a line longer than {MAX_LINE} bytes"}]
    # A client that connects and dies changes nothing; the server still answers the next.
    dead = socket.socket(socket.AF_UNIX)
    dead.connect(str(path))
    dead.send(b'{"cmd": "pau')
    dead.close()
    assert (await send_command(path, "state"))["state"] == "running"
    assert session.done == []
    await server.close()


async def test_a_peer_of_another_uid_is_refused(runtime):
    # Root cannot connect as another user here (the 0700 directory keeps them out before
    # SO_PEERCRED is asked): the server is told its own uid is another one instead, and
    # the real peer's credentials, read from the real connection, do not match it.
    session = FakeSession()
    server = ControlServer(session, own_uid=os.geteuid() + 4242)
    path = await server.start()
    with pytest.raises(ControlError, match=f"refused: the peer is uid {os.geteuid()}, not "
                                           f"{os.geteuid() + 4242}"):
        await send_command(path, "halt")
    assert session.done == []
    await server.close()


def test_peer_problem_names_the_uids():
    assert peer_problem(1000, 1000) is None
    assert peer_problem(None, 1000) is None  # the platform does not say: the directory does
    assert "uid 0, not 1000" in peer_problem(0, 1000)


async def test_a_client_refuses_a_socket_with_loose_permissions_or_another_owner(runtime):
    server = ControlServer(FakeSession())
    path = await server.start()
    os.chmod(path, 0o666)
    with pytest.raises(SocketPathError, match="has mode 0666, not 0600"):
        await send_command(path, "pause")
    os.chmod(path, 0o600)
    if os.geteuid() == 0:
        os.chown(path, 12345, 12345)
        with pytest.raises(SocketPathError, match="owned by uid 12345"):
            await send_command(path, "pause")
    await server.close()


def test_check_socket_refuses_a_regular_file(runtime):
    where = socket_dir() / "fake.sock"
    where.write_text("")
    os.chmod(where, 0o600)
    with pytest.raises(SocketPathError, match="is not a socket"):
        check_socket(where)


def test_sockets_of_killed_sessions_are_swept_and_others_left(runtime):
    import subprocess
    import sys

    directory = socket_dir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()

    def bound(name: str) -> Path:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(directory / name))
        sock.close()
        os.chmod(directory / name, 0o600)
        return directory / name

    stale = bound(f"{dead}-0123abcd.sock")
    alive = bound(f"{os.getpid()}-0123abcd.sock")
    foreign = bound("not-ours.sock")
    from rlm_tui.remote.socket_dir import sweep_stale

    assert sweep_stale(directory) == 1
    assert not stale.exists() and alive.exists() and foreign.exists()
