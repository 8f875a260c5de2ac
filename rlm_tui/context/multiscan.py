"""One pass over a text for many patterns at once, with Hyperscan (the Vectorscan build that
the `hyperscan` wheel links in): where each pattern matches, found at about 1.3 GB/s on one
core for all patterns together, where Python's `re` needs a pass per pattern at about 2 GB/s
each.

Used as a prefilter: the patterns are necessary conditions of exact `re` rules, which then
run only where a pattern matched. `ends()` returns None where Hyperscan is missing (no wheel
for the platform) or cannot run (the CPU lacks what it needs, or a pattern does not compile);
callers then scan with `re` alone, with the same results, only slower.

Compiling takes about 45 ms of a core, at the start of every load. So the compiled patterns
are kept in a cache directory (when given one), in a file named for the patterns, the
Hyperscan build and the machine, and loaded from there the next time (0.1 ms). A cache file
is used only if it is this user's own regular file, writable by no one else, and loads as
these very patterns; else the patterns are compiled, and the file written anew. Writing one
removes all but the few used last.
"""

from __future__ import annotations

import hashlib
import os
import platform
import stat
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

try:
    import hyperscan
except ImportError:  # pragma: no cover - a platform without a hyperscan wheel
    hyperscan = None


class MultiScanner:
    """`patterns` (Hyperscan syntax, bytes, no UTF-8 mode), each with whether it ignores ASCII
    case; compiled on first use, or loaded from `cache_dir()` (a directory, created if
    needed) where an earlier process left them."""

    def __init__(
        self,
        patterns: Sequence[tuple[bytes, bool]],
        cache_dir: Callable[[], Path] | None = None,
    ) -> None:
        self._patterns = tuple(patterns)
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._database: object | None = None
        self._failed = hyperscan is None
        self._scratch = threading.local()  # Hyperscan's scratch space is one per thread

    @property
    def available(self) -> bool:
        """Whether `ends()` runs here (compiling the patterns now, if not yet)."""
        return self._compiled() is not None

    def compile_in_background(self) -> bool:
        """Start compiling the patterns in a thread (Hyperscan lets go of the GIL meanwhile),
        unless done; False if Hyperscan is not installed here. `ends()` waits for it."""
        if self._failed:
            return False
        if self._database is None and not self._lock.locked():
            threading.Thread(target=self._compiled, name="multiscan-compile", daemon=True).start()
        return True

    def serialized(self) -> bytes | None:
        """The compiled patterns as bytes (compiling them now, if not yet), for `adopt` in
        another process running this code; None if Hyperscan is not available here."""
        database = self._compiled()
        if database is None:
            return None
        return self._fingerprint() + hyperscan.dumpb(database)

    def adopt(self, data: bytes) -> bool:
        """Use patterns compiled by another process (`serialized`), rather than compile them:
        about 50 ms saved. False, with nothing changed, if `data` is not of these patterns or
        does not load here."""
        database = None if self._failed else self._loaded(data)
        if database is None:
            return False
        with self._lock:
            if self._database is None:
                self._database = database
        return True

    def _loaded(self, data: bytes) -> object | None:
        """The database in `data` (`serialized()`'s bytes), or None if it is not of these
        patterns or does not load here."""
        fingerprint = self._fingerprint()
        if not data.startswith(fingerprint):
            return None
        try:
            return hyperscan.loadb(data[len(fingerprint) :], hyperscan.HS_MODE_BLOCK)
        except (hyperscan.error, TypeError, ValueError):
            return None

    def _fingerprint(self) -> bytes:
        # The patterns and the Hyperscan build they were compiled by.
        version = getattr(hyperscan, "__version__", "")
        return hashlib.sha256(repr((self._patterns, version)).encode()).digest()

    def ends(self, data: bytes) -> list[tuple[int, int]] | None:
        """`(pattern index, end offset)` of every match in `data` (a pattern that matches
        several ways ending at one offset is reported once), or None if Hyperscan is not
        available here."""
        database = self._compiled()
        if database is None:
            return None
        scratch = getattr(self._scratch, "space", None)
        if scratch is None:
            scratch = self._scratch.space = hyperscan.Scratch(database)
        found: list[tuple[int, int]] = []
        add = found.append

        def on_match(index: int, _from: int, to: int, _flags: int, _context: object) -> None:
            add((index, to))

        scan = database.scan  # type: ignore[attr-defined]
        scan(data, match_event_handler=on_match, scratch=scratch)
        return found

    def _compiled(self) -> object | None:
        if self._database is not None or self._failed:
            return self._database
        with self._lock:
            if self._database is None and not self._failed:
                cache = self._cache_file()
                self._database = self._read_cache(cache) if cache is not None else None
            if self._database is None and not self._failed:
                try:
                    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
                    database.compile(
                        expressions=[pattern for pattern, _ in self._patterns],
                        ids=list(range(len(self._patterns))),
                        elements=len(self._patterns),
                        flags=[
                            hyperscan.HS_FLAG_CASELESS if caseless else 0
                            for _, caseless in self._patterns
                        ],
                    )
                except hyperscan.error:  # an unsupported CPU, or a pattern it refuses
                    self._failed = True
                else:
                    self._database = database
                    if cache is not None:
                        _write_cache(cache, self._fingerprint() + hyperscan.dumpb(database))
        return self._database

    def _cache_file(self) -> Path | None:
        if self._cache_dir is None:
            return None
        try:
            directory = self._cache_dir()
        except Exception:  # no home directory to find a cache in: compile, as without one
            return None
        # Named for the machine too: a home directory shared by machines of other CPUs.
        key = hashlib.sha256(self._fingerprint() + platform.node().encode()).hexdigest()
        return directory / f"multiscan-{key[:32]}.hsdb"

    def _read_cache(self, path: Path) -> object | None:
        try:
            # Non-blocking: a FIFO put there is refused below rather than waited on.
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(path, flags | getattr(os, "O_NOCTTY", 0))
        except OSError:
            return None
        with open(fd, "rb") as stream:
            info = os.fstat(fd)
            mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
            if not stat.S_ISREG(info.st_mode) or not mine or info.st_mode & 0o022:
                return None  # another user could have put in bytes that Hyperscan trusts
            try:
                data = stream.read(_MAX_CACHE_BYTES + 1)
            except OSError:
                return None
            database = self._loaded(data) if len(data) <= _MAX_CACHE_BYTES else None
            if database is not None:
                try:  # used now: pruning keeps the files used last, not those written last
                    os.utime(fd)
                except OSError:
                    pass
        return database


_MAX_CACHE_BYTES = 64 << 20
# Cache files kept, those used last (a file's time is set when it is loaded): one per set of
# patterns, Hyperscan build and machine name, and a container gets a new name each run.
KEEP_CACHE_FILES = 8
_CACHE_GLOB = "multiscan-*.hsdb"


def _write_cache(path: Path, data: bytes) -> None:
    """Write `data` to `path`, readable by this user alone, whole or not at all, and remove
    the oldest cache files past KEEP_CACHE_FILES; a cache that cannot be written is no error."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as stream:
            stream.write(data)
        os.replace(partial, path)
    except OSError:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass
        return
    _prune(path.parent, keep=path)


def _prune(directory: Path, keep: Path) -> None:
    """Remove this cache's files (not others in the directory) but the newest few, and
    `keep`."""
    try:
        dated = []
        for other in directory.glob(_CACHE_GLOB):
            info = other.lstat()
            if stat.S_ISREG(info.st_mode) and other != keep:
                dated.append((info.st_mtime_ns, other))
        dated.sort(reverse=True)
        for _, old in dated[KEEP_CACHE_FILES - 1 :]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # another process pruning at once, or a directory we cannot list: no matter


__all__ = ["MultiScanner"]
