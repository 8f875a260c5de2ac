"""Reading ahead when the page cache is cold.

Files read one after another from a cold cache wait for the disk one at a time. So now and
then the loader probes a file ahead of it with a read that may not wait (RWF_NOWAIT): when the
page cache does not hold that file, the files ahead are asked for (posix_fadvise WILLNEED,
their first 64 KB) so that the disk serves many at once, until probes find files cached
again. With a warm cache this costs one probe per 64 files; without RWF_NOWAIT (not Linux),
nothing is done. Only regular files the loader would read are opened, and of each probed
file one byte is read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence

PROBE_EVERY = 64  # with a warm cache, one file in this many is probed
AHEAD = 32  # files asked for ahead of the one being read
_PREFETCH_BYTES = 64 * 1024  # most text files whole, and a binary's first 8,000 bytes
_CACHED_TO_STOP = 16  # probes in a row that find files cached: the cache is warm again
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW | getattr(os, "O_NOCTTY", 0)


class ReadAhead:
    """Asks for the files of `order` (paths under `root`) ahead of a reader that takes them
    in that order, when the page cache turns out not to hold them. `may_open` says whether a
    path may be opened at all (not a secret file, say)."""

    def __init__(self, root: str, order: Sequence[str], may_open: Callable[[str], bool]) -> None:
        self._root = root
        self._order = order
        self._may_open = may_open
        self._next = 0  # the position in `order` of the file the reader takes next
        self._cold = False
        self._cached_in_a_row = 0
        self._byte = bytearray(1)
        self._enabled = hasattr(os, "RWF_NOWAIT") and hasattr(os, "posix_fadvise")

    def advance(self) -> None:
        """The reader takes the next file of the order."""
        if not self._enabled:
            return
        ahead = self._next + AHEAD
        self._next += 1
        if ahead < len(self._order) and (self._cold or ahead % PROBE_EVERY == 0):
            self._probe(self._order[ahead])

    def _probe(self, relative: str) -> None:
        if not self._may_open(relative):
            return
        try:
            fd = os.open(f"{self._root}/{relative}", _FLAGS)
        except OSError:
            return
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return
            try:
                os.preadv(fd, [self._byte], 0, os.RWF_NOWAIT)
            except BlockingIOError:  # not in the page cache
                self._cold = True
                self._cached_in_a_row = 0
                os.posix_fadvise(fd, 0, _PREFETCH_BYTES, os.POSIX_FADV_WILLNEED)
            else:
                self._cached_in_a_row += 1
                if self._cached_in_a_row >= _CACHED_TO_STOP:
                    self._cold = False
        except OSError:
            pass  # a hint only: the reader will find out what is wrong
        finally:
            os.close(fd)
