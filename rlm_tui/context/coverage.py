"""Coverage: which parts of the context the run looked at, per file, by lines.

Two sources feed it:
- the worker's deltas (`view.take_coverage`): lines the code read through the view;
- the sub-call prompts (`record_prompt`): lines of context text found inside a prompt that
  the code sent to a sub-model. Found by anchors: each prompt line of at least
  `min_line_chars` characters (after stripping) is looked up in a hash index of the context's
  lines, and from each hit the run of equal lines is followed both ways; a run is counted
  when it holds at least `min_run_chars` characters. Comparison ignores leading and trailing
  whitespace, so re-indented or CRLF text still matches; a partial first or last line of a
  slice counts when it is a suffix or prefix of the context line. Lines shorter than the
  threshold are found only inside such a run.

The index is built lazily on the first prompt, in one pass over the files' texts, and takes about 16
bytes per indexed line (arrays, not a dict: about 30 MB for 100 MB of code).

A single text (file or stdin) context works the same way, as a pack of one file; its reads
through code are invisible (it is a plain str in the worker), so only prompts feed it.
"""

from __future__ import annotations

import mmap
import threading
from array import array
from collections.abc import Mapping
from typing import Any

from rlm_tui.context.pack import ContextPack
from rlm_tui.context.view import merge_line_ranges
from rlm_tui.context.windows import line_windows

MIN_LINE_CHARS = 20
MIN_RUN_CHARS = 40
MAX_CANDIDATES = 16  # a line repeated in more places than this is too common to place

_HASH_MASK = 0xFFFFFFFF


class _LineIndex:
    """Hashes of the context's long lines, chained in arrays by bucket."""

    def __init__(self, blob: mmap.mmap | bytes, pack: ContextPack, min_line_chars: int) -> None:
        estimate = max(1024, pack.total_bytes // 32)
        buckets = 1 << (estimate - 1).bit_length()
        self.mask = buckets - 1
        self.heads = array("i", [-1]) * buckets
        self.hashes = array("I")
        self.files = array("I")
        self.lines = array("I")
        self.next = array("i")
        heads, hashes, files, lines, chain = (
            self.heads,
            self.hashes,
            self.files,
            self.lines,
            self.next,
        )
        mask = self.mask
        for file_index, entry in enumerate(pack.entries):
            number = 0
            # A window at a time, so that a huge single text is never split whole into lines.
            for start, end in line_windows(blob, entry.offset, entry.offset + entry.size):
                window = blob[start:end].split(b"\n")
                if window[-1] == b"":
                    window.pop()  # the window ended with a newline, not with a line
                for line in window:
                    number += 1
                    stripped = line.strip()
                    if len(stripped) < min_line_chars:
                        continue
                    value = hash(stripped) & _HASH_MASK
                    bucket = value & mask
                    chain.append(heads[bucket])
                    heads[bucket] = len(hashes)
                    hashes.append(value)
                    files.append(file_index)
                    lines.append(number)

    def candidates(self, stripped: bytes) -> list[tuple[int, int]]:
        """(file index, line number) of context lines that may equal `stripped`."""
        value = hash(stripped) & _HASH_MASK
        found: list[tuple[int, int]] = []
        slot = self.heads[value & self.mask]
        while slot != -1 and len(found) < MAX_CANDIDATES:
            if self.hashes[slot] == value:
                found.append((self.files[slot], self.lines[slot]))
            slot = self.next[slot]
        found.reverse()  # chains run newest first; prefer the earliest file
        return found


class Coverage:
    """What of a pack was read by code and sent to sub-models, as merged line ranges per file.

    Fractions are by lines; totals are also given in bytes of text.
    """

    def __init__(
        self,
        pack: ContextPack,
        *,
        min_line_chars: int = MIN_LINE_CHARS,
        min_run_chars: int = MIN_RUN_CHARS,
    ) -> None:
        self.pack = pack
        self.min_line_chars = min_line_chars
        self.min_run_chars = min_run_chars
        self._positions = {entry.path: i for i, entry in enumerate(pack.entries)}
        self._read: dict[int, list[list[int]]] = {}
        self._sent: dict[int, list[list[int]]] = {}
        self._blob: mmap.mmap | bytes | None = None
        self._index: _LineIndex | None = None
        self._index_lock = threading.Lock()
        self._starts: dict[int, array[int]] = {}

    def build_index(self) -> None:
        """Build the line index that `record_prompt` needs now rather than on the first
        prompt (about 1 s per 100 MB): safe to call from a worker thread."""
        self._line_index()

    # --- feeding -----------------------------------------------------------------------------

    def add_worker_delta(self, delta: Mapping[str, Any]) -> None:
        """Add a `view.take_coverage` delta: `{"read": {path: [[first, last], ...]}}`.
        Unknown paths and malformed ranges are ignored (the worker runs hostile code)."""
        read = delta.get("read") if isinstance(delta, Mapping) else None
        if not isinstance(read, Mapping):
            return
        for path, ranges in read.items():
            index = self._positions.get(path) if isinstance(path, str) else None
            if index is None or not isinstance(ranges, (list, tuple)):
                continue
            count = self.pack.entries[index].lines
            clean = [
                [max(1, r[0]), min(count, r[1])]
                for r in ranges
                if isinstance(r, (list, tuple))
                and len(r) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) for n in r)
            ]
            self._add(self._read, index, clean)

    def record_prompt(self, text: str) -> int:
        """Mark the context lines found in a sub-call prompt as sent; return how many lines
        of this prompt were matched to context lines."""
        if not text or not self.pack.entries:
            return 0
        index = self._line_index()
        prompt = [line.strip() for line in text.encode("utf-8", "replace").split(b"\n")]
        matched = 0
        position = 0
        floor = 0  # prompt lines before this are already placed
        while position < len(prompt):
            anchor = prompt[position]
            if len(anchor) < self.min_line_chars:
                position += 1
                continue
            best: tuple[int, int, int, int, int] | None = None
            for file_index, line in index.candidates(anchor):
                run = self._follow(prompt, position, floor, file_index, line)
                if run is not None and (best is None or run[4] > best[4]):
                    best = run
            if best is None or best[4] < self.min_run_chars:
                position += 1
                continue
            first_prompt, last_prompt, file_index, first_line, _ = best
            last_line = first_line + last_prompt - first_prompt
            self._add(self._sent, file_index, [[first_line, last_line]])
            matched += last_prompt - first_prompt + 1
            position = floor = last_prompt + 1
        return matched

    # --- reading ------------------------------------------------------------------------------

    def read_ranges(self, path: str) -> list[list[int]]:
        """Lines of `path` read by code, as merged 1-based inclusive ranges."""
        return [list(r) for r in self._read.get(self._positions[path], [])]

    def sent_ranges(self, path: str) -> list[list[int]]:
        """Lines of `path` found in sub-call prompts, as merged 1-based inclusive ranges."""
        return [list(r) for r in self._sent.get(self._positions[path], [])]

    def to_dict(self, include_files: bool = True) -> dict[str, Any]:
        """JSON-serialisable coverage: totals, and (unless not `include_files`) per file that
        was touched: its lines and bytes, read and sent ranges, read and sent fractions (by
        lines), bytes read and sent. A pack of several sources also has `sources`: the same
        totals per source, by name."""
        entries = self.pack.entries
        totals = _empty_totals(entries)
        result = self._figures(0, len(entries), totals, include_files)
        sources = self.pack.sources
        if sources:
            result["sources"] = {}
            for source in sources:
                part = entries[source.first : source.first + source.count]
                result["sources"][source.name] = self._figures(
                    source.first, source.first + source.count, _empty_totals(part),
                    False)["totals"]
        return result

    def _figures(self, first: int, end: int, totals: dict[str, Any],
                 include_files: bool) -> dict[str, Any]:
        files: dict[str, Any] = {}
        touched = [i for i in sorted(set(self._read) | set(self._sent)) if first <= i < end]
        for index in touched:
            entry = self.pack.entries[index]
            read, sent = self._read.get(index, []), self._sent.get(index, [])
            covered = merge_line_ranges(read + sent)
            lines_read, lines_sent = _count(read), _count(sent)
            bytes_read, bytes_sent = self._bytes_in(index, read), self._bytes_in(index, sent)
            if include_files:
                files[entry.path] = {
                    "lines": entry.lines,
                    "bytes": entry.size,
                    "read": [list(r) for r in read],
                    "sent": [list(r) for r in sent],
                    "read_fraction": _fraction(lines_read, entry.lines),
                    "sent_fraction": _fraction(lines_sent, entry.lines),
                    "bytes_read": bytes_read,
                    "bytes_sent": bytes_sent,
                }
            totals["files_read"] += bool(read)
            totals["files_sent"] += bool(sent)
            totals["lines_read"] += lines_read
            totals["lines_sent"] += lines_sent
            totals["lines_covered"] += _count(covered)
            totals["bytes_read"] += bytes_read
            totals["bytes_sent"] += bytes_sent
            totals["bytes_covered"] += self._bytes_in(index, covered)
        for kind in ("read", "sent", "covered"):
            totals[f"{kind}_fraction"] = _fraction(totals[f"lines_{kind}"], totals["lines"])
        return {"unit": "lines", "totals": totals, "files": files}

    def close(self) -> None:
        """Release the mapped blob (the coverage so far stays readable)."""
        if isinstance(self._blob, mmap.mmap):
            self._blob.close()
        self._blob = None
        self._index = None

    # --- internals ----------------------------------------------------------------------------

    def _add(self, store: dict[int, list[list[int]]], index: int, ranges: list[list[int]]) -> None:
        ranges = [r for r in ranges if r[0] <= r[1]]
        if ranges:
            store[index] = merge_line_ranges(store.get(index, []) + ranges)

    def _mapped(self) -> mmap.mmap | bytes:
        if self._blob is None:
            with open(self.pack.blob_path, "rb") as blob:
                size = blob.seek(0, 2)
                self._blob = mmap.mmap(blob.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        return self._blob

    def _line_index(self) -> _LineIndex:
        with self._index_lock:
            if self._index is None:
                self._index = _LineIndex(self._mapped(), self.pack, self.min_line_chars)
            return self._index

    def _line_starts(self, index: int) -> array[int]:
        starts = self._starts.get(index)
        if starts is None:
            entry = self.pack.entries[index]
            data = self._mapped()[entry.offset : entry.offset + entry.size]
            starts = array("q", [0])
            position = data.find(b"\n")
            while position != -1:
                starts.append(position + 1)
                position = data.find(b"\n", position + 1)
            self._starts[index] = starts  # one more than lines: the end of the last line
            if starts[-1] != entry.size:
                starts.append(entry.size + 1)
        return starts

    def _line(self, index: int, number: int) -> bytes:
        starts = self._line_starts(index)
        entry = self.pack.entries[index]
        begin, end = starts[number - 1], starts[number] - 1
        return self._mapped()[entry.offset + begin : entry.offset + end].strip()

    def _bytes_in(self, index: int, ranges: list[list[int]]) -> int:
        if not ranges:
            return 0
        entry = self.pack.entries[index]
        if ranges == [[1, entry.lines]]:
            return entry.size  # the whole file: no line table needed
        starts = self._line_starts(index)
        size = self.pack.entries[index].size
        return sum(min(starts[last], size) - starts[first - 1] for first, last in ranges)

    def _follow(
        self, prompt: list[bytes], position: int, floor: int, index: int, line: int
    ) -> tuple[int, int, int, int, int] | None:
        """The run of prompt lines around `position` equal to the context lines around `line`
        of file `index`: (first prompt line, last prompt line, file, first context line,
        characters matched), or None if the anchor itself differs (a hash collision)."""
        if self._line(index, line) != prompt[position]:
            return None
        count = self.pack.entries[index].lines
        chars = len(prompt[position])
        last = position
        while last + 1 < len(prompt) and line + (last + 1 - position) <= count:
            here = self._line(index, line + last + 1 - position)
            nxt = prompt[last + 1]
            if here == nxt:
                last, chars = last + 1, chars + len(nxt)
            else:
                if nxt and here.startswith(nxt):  # the slice ended inside this line
                    last, chars = last + 1, chars + len(nxt)
                break
        first = position
        while first - 1 >= floor and line - (position - first + 1) >= 1:
            here = self._line(index, line - (position - first + 1))
            previous = prompt[first - 1]
            if here == previous:
                first, chars = first - 1, chars + len(previous)
            else:
                if previous and here.endswith(previous):  # the slice began inside this line
                    first, chars = first - 1, chars + len(previous)
                break
        return first, last, index, line - (position - first), chars


def _empty_totals(entries: Any) -> dict[str, Any]:
    totals = {"files": len(entries), "lines": sum(e.lines for e in entries)}
    totals.update(bytes=sum(e.size for e in entries), files_read=0, files_sent=0)
    totals.update(lines_read=0, lines_sent=0, bytes_read=0, bytes_sent=0)
    totals.update(lines_covered=0, bytes_covered=0)
    return totals


def _count(ranges: list[list[int]]) -> int:
    return sum(last - first + 1 for first, last in ranges)


def _fraction(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0
