"""A session's control socket: pause, resume, step, halt and notes from another process.

    server = ControlServer(session)       # anything with pause/resume/step/halt/add_note/state
    path = await server.start()           # listens at a new socket in socket_dir()
    await server.close()                  # stops listening and removes the socket

The server runs on the session's event loop; a command does what the session's own method
does (the same RunControl, the same Run.add_note), so the transcript records it as it records
the app's keys. A client that sends nonsense gets a one-line error; one that leaves, dies or
hangs changes nothing for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path
from typing import Any, Protocol

from rlm_tui.errors import RlmTuiError
from rlm_tui.remote.protocol import (
    MAX_LINE,
    VERSION,
    ControlError,
    encode,
    one_line,
    parse_command,
    peer_problem,
    peer_uid,
)
from rlm_tui.remote.socket_dir import SOCKET_MODE, SocketPathError, new_socket_path

MAX_CLIENTS = 8
IDLE_TIMEOUT_S = 120.0  # a connection that sends nothing this long is closed
HALT_REASON = "halted over the control socket (rlm-tui watch)"


class Steerable(Protocol):
    """What the server steers (the API's Session)."""

    @property
    def state(self) -> str: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def step(self) -> None: ...
    def halt(self, reason: str = ...) -> None: ...
    def add_note(self, text: str) -> None: ...


class ControlServer:
    """One session's control socket. `session_id`: named in the greeting (a callable: the
    run's id once it has one). `own_uid`: the only uid let in (the process's own)."""

    def __init__(self, target: Steerable, *, session_id: Any = "",
                 own_uid: int | None = None) -> None:
        self.target = target
        self._session_id = session_id
        # No geteuid (Windows): start() refuses before any uid is compared.
        self.own_uid = getattr(os, "geteuid", lambda: -1)() if own_uid is None else own_uid
        self.path: Path | None = None
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self, path: Path | None = None) -> Path:
        """Listen at `path` (default: a new socket in socket_dir()), mode 0600.
        SocketPathError (one line) when it cannot."""
        path = new_socket_path() if path is None else path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # Bound before its mode is set: the directory (0700) keeps others out meanwhile.
            sock.bind(os.fspath(path))
            os.chmod(path, SOCKET_MODE)
            self._inode = os.stat(path).st_ino
            sock.listen(MAX_CLIENTS)
            sock.setblocking(False)
            self._server = await asyncio.start_unix_server(self._serve, sock=sock,
                                                           limit=MAX_LINE + 1)
        except OSError as exc:
            sock.close()
            self._remove(path)
            raise SocketPathError(f"cannot listen at {path}: {exc.strerror or exc}") from None
        self.path = path
        return path

    async def close(self) -> None:
        """Stop listening, end the connections, remove the socket. Idempotent."""
        server, self._server = self._server, None
        for writer in list(self._clients):
            writer.close()
        if server is not None:
            server.close()
            with contextlib.suppress(asyncio.TimeoutError, OSError):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        if self.path is not None:
            self._remove(self.path)

    def _remove(self, path: Path) -> None:
        """Unlink the socket, if it is still the one made here (never another file put in
        its place)."""
        with contextlib.suppress(OSError):
            if self._inode is None or os.lstat(path).st_ino == self._inode:
                os.unlink(path)

    # -- one connection ------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            problem = peer_problem(peer_uid(writer.get_extra_info("socket")), self.own_uid)
            if problem is None and len(self._clients) >= MAX_CLIENTS:
                problem = f"busy: {MAX_CLIENTS} clients are connected already"
            if problem is not None:
                await _send(writer, {"ok": False, "error": problem})
                return
            self._clients.add(writer)
            await _send(writer, self._greeting())
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT_S)
                except asyncio.TimeoutError:
                    return
                except ValueError:  # longer than the stream's limit: no resync, goodbye
                    await _send(writer, {"ok": False,
                                         "error": f"a line longer than {MAX_LINE} bytes"})
                    await _hang_up(reader, writer)
                    return
                if not line:
                    return
                await _send(writer, self.answer(line))
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            return  # the client left, died or stopped reading: nothing for the run
        finally:
            self._clients.discard(writer)
            writer.close()

    def _greeting(self) -> dict[str, Any]:
        session_id = self._session_id() if callable(self._session_id) else self._session_id
        return {"rlm_tui_control": VERSION, "session_id": str(session_id or ""),
                "pid": os.getpid(), "state": self._state()}

    def _state(self) -> str:
        try:
            return str(self.target.state)
        except Exception:  # noqa: BLE001 - a state that cannot be read is no reason to fail
            return "unknown"

    def answer(self, line: bytes) -> dict[str, Any]:
        """The reply to one line: the command done, or a one-line error."""
        try:
            cmd, args = parse_command(line)
            if cmd == "pause":
                self.target.pause()
            elif cmd == "resume":
                self.target.resume()
            elif cmd == "step":
                self.target.step()
            elif cmd == "halt":
                self.target.halt(HALT_REASON)
            elif cmd == "note":
                self.target.add_note(args["text"])
        except (ControlError, RlmTuiError) as exc:
            return {"ok": False, "error": one_line(str(exc))}
        except Exception as exc:  # noqa: BLE001 - a bug: said in one line, the run goes on
            return {"ok": False, "error": one_line(f"{type(exc).__name__}: {exc}")}
        return {"ok": True, "state": self._state()}


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    """One line to a client; one that does not read it within the idle timeout is left."""
    writer.write(encode(message))
    await asyncio.wait_for(writer.drain(), IDLE_TIMEOUT_S)


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """End a connection whose client is still sending: closed with its bytes unread, the
    socket would be reset and the error just sent could be lost, so the rest is read (up
    to a limit, for a second at most) and dropped first."""
    with contextlib.suppress(OSError, RuntimeError):
        writer.write_eof()
    with contextlib.suppress(asyncio.TimeoutError, ConnectionError, OSError):
        async with asyncio.timeout(1.0):
            dropped = 0
            while dropped < 64 * MAX_LINE and (chunk := await reader.read(MAX_LINE)):
                dropped += len(chunk)
