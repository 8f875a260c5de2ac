"""Sending a command to a session's control socket (what `rlm-tui watch`'s keys do).

    reply = await send_command(path, "pause")            # {"ok": True, "state": "paused"}
    await send_command(path, "note", text="check the tests")
    await send_command(path, "toggle_pause")             # pause, or resume a paused run

One connection per command: a watcher holds nothing open that the run would notice. Every
failure is a one-line ControlError (or SocketPathError for a socket that is not the user's
own, checked before anything is sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

from rlm_tui.remote.protocol import (
    MAX_LINE,
    ControlError,
    encode,
    one_line,
    parse_reply,
    peer_problem,
    peer_uid,
)
from rlm_tui.remote.socket_dir import check_socket

TIMEOUT_S = 3.0


async def send_command(path: str | os.PathLike[str], cmd: str, *, timeout: float = TIMEOUT_S,
                       **args: Any) -> dict[str, Any]:
    """Send `cmd` ("pause", "resume", "step", "halt", "note" with text=, "state", or
    "toggle_pause": pause, or resume when the run is paused) and return the run's reply."""
    path = Path(path)
    check_socket(path)
    try:
        return await asyncio.wait_for(_exchange(path, cmd, args), timeout)
    except asyncio.TimeoutError:
        raise ControlError(f"the run did not answer within {timeout:g} s") from None


async def _exchange(path: Path, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
    try:
        reader, writer = await asyncio.open_unix_connection(os.fspath(path), limit=MAX_LINE + 1)
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError("the run's control socket is gone: the session has ended") from None
    except OSError as exc:
        raise ControlError(f"cannot connect to {path}: {exc.strerror or exc}") from None
    try:
        # The other end must be the user's own process too (the file's owner said so; this
        # is the process that holds it).
        problem = peer_problem(peer_uid(writer.get_extra_info("socket")), os.geteuid())
        if problem is not None:
            raise ControlError(problem)
        greeting = parse_reply(await _line(reader))
        if greeting.get("ok") is False:
            raise ControlError(one_line(greeting.get("error") or "refused"))
        if cmd == "toggle_pause":
            cmd = "resume" if greeting.get("state") == "paused" else "pause"
        writer.write(encode({"cmd": cmd, **args}))
        await writer.drain()
        reply = parse_reply(await _line(reader))
    except (ConnectionError, asyncio.IncompleteReadError):
        raise ControlError("the run closed the connection: the session has ended") from None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await writer.wait_closed()
    if not reply.get("ok"):
        raise ControlError(one_line(reply.get("error") or "the run refused the command"))
    return {**reply, "cmd": cmd}


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readline()
    except ValueError:
        raise ControlError("the run's reply is too long") from None
