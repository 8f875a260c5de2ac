"""Line-aligned windows over a large text, so that work on a huge single file (a 200 MB log
from stdin) holds a few MB at a time rather than whole copies of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

WINDOW_BYTES = 4 << 20


class _Findable(Protocol):
    def find(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...


def line_windows(
    data: _Findable, start: int, end: int, size: int = WINDOW_BYTES
) -> Iterator[tuple[int, int]]:
    """Split `data[start:end]` (bytes or an mmap) into consecutive `(start, end)` spans of at
    least `size` bytes (but the last), each ending just after a newline or at `end`. Newlines
    are character and line boundaries in UTF-8: each window decodes, and holds whole lines, on
    its own."""
    while start < end:
        stop = start + size
        if stop >= end:
            yield start, end
            return
        newline = data.find(b"\n", stop, end)
        stop = end if newline == -1 else newline + 1
        yield start, stop
        start = stop
