"""The control socket's protocol: one JSON object a line, each way.

    server -> client, on connect:  {"rlm_tui_control": 1, "session_id": "...", "pid": 123,
                                    "state": "running"}
    client -> server:              {"cmd": "pause"} | {"cmd": "resume"} | {"cmd": "step"}
                                   | {"cmd": "halt"} | {"cmd": "note", "text": "..."}
                                   | {"cmd": "state"}
    server -> client, per command: {"ok": true, "state": "paused"}
                                   | {"ok": false, "error": "one line"}

Everything a client sends is untrusted: a line is at most MAX_LINE bytes, a note at most
MAX_NOTE_CHARS characters, and anything else is answered with a one-line error.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from rlm_tui.errors import RlmTuiError

VERSION = 1
MAX_LINE = 16 * 1024
MAX_NOTE_CHARS = 4000
COMMANDS = ("pause", "resume", "step", "halt", "note", "state")


class ControlError(RlmTuiError):
    """A command that did not reach the run, or that the run refused: one line."""


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=True).encode("ascii") + b"\n"


def one_line(text: str, limit: int = 300) -> str:
    """An error message as the other side may show it: one line, printable, capped."""
    text = " ".join(str(text).split())
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def parse_command(line: bytes) -> tuple[str, dict[str, Any]]:
    """(command, arguments) from a client's line; ControlError (one line) for anything that
    is not a known command with arguments of the right type."""
    if len(line) > MAX_LINE:
        raise ControlError(f"a line longer than {MAX_LINE} bytes")
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        raise ControlError("not a JSON line") from None
    if not isinstance(message, dict):
        raise ControlError("not a JSON object")
    cmd = message.get("cmd")
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        shown = one_line(repr(cmd), 40)
        raise ControlError(f"unknown command {shown}: one of {', '.join(COMMANDS)}")
    if cmd != "note":
        return cmd, {}
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ControlError("note: give its text as a non-empty string")
    if len(text) > MAX_NOTE_CHARS:
        raise ControlError(f"note: longer than {MAX_NOTE_CHARS} characters")
    return cmd, {"text": text}


def parse_reply(line: bytes) -> dict[str, Any]:
    """The server's line as a dict; ControlError for anything else."""
    if not line:
        raise ControlError("the run closed the connection")
    if len(line) > MAX_LINE:
        raise ControlError("the run's reply is too long")
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        raise ControlError("the run's reply is not JSON") from None
    if not isinstance(message, dict):
        raise ControlError("the run's reply is not a JSON object")
    return message


def peer_uid(sock: socket.socket | None) -> int | None:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED), or None where
    the platform does not say (there the 0700 directory alone keeps others out)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if sock is None or option is None:
        return None
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def peer_problem(uid: int | None, own_uid: int) -> str | None:
    """Why a peer is refused (another user's process), or None."""
    if uid is not None and uid != own_uid:
        return f"refused: the peer is uid {uid}, not {own_uid} (only the same user steers a run)"
    return None
