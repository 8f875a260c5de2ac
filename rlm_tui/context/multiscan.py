"""One pass over a text for many patterns at once, with Hyperscan (the Vectorscan build that
the `hyperscan` wheel links in): where each pattern matches, found at about 1.3 GB/s on one
core for all patterns together, where Python's `re` needs a pass per pattern at about 2 GB/s
each.

Used as a prefilter: the patterns are necessary conditions of exact `re` rules, which then
run only where a pattern matched. `ends()` returns None where Hyperscan is missing (no wheel
for the platform) or cannot run (the CPU lacks what it needs, or a pattern does not compile);
callers then scan with `re` alone, with the same results, only slower.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

try:
    import hyperscan
except ImportError:  # pragma: no cover - a platform without a hyperscan wheel
    hyperscan = None


class MultiScanner:
    """`patterns` (Hyperscan syntax, bytes, no UTF-8 mode), each with whether it ignores ASCII
    case; compiled on first use."""

    def __init__(self, patterns: Sequence[tuple[bytes, bool]]) -> None:
        self._patterns = tuple(patterns)
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
        fingerprint = self._fingerprint()
        if self._failed or not data.startswith(fingerprint):
            return False
        try:
            database = hyperscan.loadb(data[len(fingerprint) :], hyperscan.HS_MODE_BLOCK)
        except (hyperscan.error, TypeError, ValueError):
            return False
        with self._lock:
            if self._database is None:
                self._database = database
        return True

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
        return self._database


__all__ = ["MultiScanner"]
