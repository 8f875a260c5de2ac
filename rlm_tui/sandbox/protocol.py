"""Messages between the host and its worker: a 4-byte length, then one JSON object.

JSON both ways, never pickle: the host reads what a hostile worker may have written, so it
only ever decodes plain data, and refuses frames over `MAX_FRAME` bytes.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

HEADER = struct.Struct("!I")
MAX_FRAME = 256 * 1024 * 1024


class ProtocolError(Exception):
    """The other side broke the protocol or went away."""


def encode(message: dict[str, Any]) -> bytes:
    # "replace" keeps lone surrogates that model code may print from breaking the frame.
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "replace"
    )
    return HEADER.pack(len(data)) + data


def decode(data: bytes) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except (ValueError, RecursionError, MemoryError) as exc:  # a hostile worker's frame
        raise ProtocolError(f"malformed message: {type(exc).__name__}") from None
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise ProtocolError("malformed message: not an object with an op")
    return message


def write_message(fd: int, message: dict[str, Any]) -> None:
    """Blocking write of one message (the worker's side)."""
    view = memoryview(encode(message))
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exactly(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise ProtocolError("the other side closed the pipe")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> dict[str, Any]:
    """Blocking read of one message (the worker's side)."""
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size))
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes is over the limit")
    return decode(_read_exactly(fd, size))
