"""The context as model-written code sees it: a read-only view of a pack, mapped with mmap.

This module runs inside the sandbox worker, so:
- it imports only the standard library (the worker must start in well under 150 ms);
- its caller is hostile. Model code runs under RestrictedPython, which refuses every attribute
  name starting with `_`. All state therefore lives in `_`-named slots, and every public
  method or property returns plain data (str, int, list, dict, tuple): nothing public leads to
  the mmap, a file, the pack's path on disk, a module or a function's globals. Errors carry
  only a message.
- it records what the code read (coverage). `take_coverage(view)` is a module function, not a
  method, so model code can neither call it nor reset what was recorded.

A single file or stdin pack opens as a plain `str`: reads of a str cannot be intercepted, so
for that kind the host records coverage only from the sub-call prompts (coverage.py).

Pack layout (written by pack.py): `context.blob` holds every file's UTF-8 text (in path order,
but for the batches of a load split over two processes), each followed by one "\\n" that
belongs to no file, so that every file starts on a line of its own for a regex run over the
blob; `context.index.json` holds, per file in path order, columns of path, byte offset, byte
size, characters, lines, language and flags: every read goes through the offsets.
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import mmap
import operator
import os
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence

BLOB_NAME = "context.blob"
INDEX_NAME = "context.index.json"
PACK_FORMAT = "rlm-tui-context-pack"
PACK_VERSION = 1
FILE_SEPARATOR = b"\n"

GREP_MAX_MATCHES = 1000
GREP_LINE_CHARS = 400  # longer lines (minified code) are cut to a window around the match

_NEWLINE = re.compile(b"\n")
_GLOB_CHARS = frozenset("*?[")


def merge_line_ranges(ranges: Iterable[Sequence[int]]) -> list[list[int]]:
    """Sort 1-based inclusive `[first, last]` line ranges and merge overlapping or adjacent
    ones: `[[5, 9], [1, 3], [4, 4]]` -> `[[1, 9]]`."""
    merged: list[list[int]] = []
    for first, last in sorted((int(a), int(b)) for a, b in ranges):
        if last < first:
            continue
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return merged


def _human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError  # unreachable


class ContextView(Mapping[str, str]):
    """A read-only mapping from file path (relative, posix) to its text, in path order.

    Beyond the mapping API (`context[path]`, `len`, `in`, iteration, `keys`, `values`,
    `items`, `get`, where `keys`/`values`/`items` return lists):
    - `context.files`: the paths, as a new list.
    - `context.text`: every file with a `==> path <==` header line before it, as one str.
    - `context.read(path, start_line=1, end_line=None)`: those lines (1-based, inclusive;
      negative numbers count from the end, -1 being the last line), as text.
    - `context.grep(pattern, paths=None, max_matches=1000, ignore_case=False)`: a list of
      `{"path", "line", "text"}` for each line where the regex matches, in path order.
    - `context.glob(pattern)`: the paths matching a glob (`*` also matches `/`; `dir/` means
      everything under dir).
    - `context.info(path)`: a dict of bytes, chars, lines, language and flags of one file.
    - `context.sizes()`: a dict from path to its length in characters.
    """

    __slots__ = (
        "_mm",
        "_paths",
        "_positions",
        "_offsets",
        "_sizes",
        "_chars",
        "_lines",
        "_languages",
        "_flags",
        "_line_starts",
        "_text",
        "_read",
        "_prefix",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("a context view is opened with open_view(pack_dir)")

    # --- mapping -------------------------------------------------------------------------

    def __getitem__(self, path: str) -> str:
        index = self._find(path)
        self._record_whole(index)
        return self._decode(index)

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and path in self._positions

    def keys(self) -> list[str]:  # type: ignore[override]
        """The paths, in path order, as a new list."""
        return list(self._paths)

    def values(self) -> list[str]:  # type: ignore[override]
        """Every file's text, in path order, as a new list."""
        return [self[path] for path in self._paths]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """`(path, text)` for every file, in path order, as a new list."""
        return [(path, self[path]) for path in self._paths]

    def get(self, path: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """The text of `path`, or `default` when there is no such file."""
        if not isinstance(path, str) or self._position(path) is None:
            return default
        return self[path]

    # --- more ways in ----------------------------------------------------------------------

    @property
    def files(self) -> list[str]:
        """The paths, in path order, as a new list."""
        return list(self._paths)

    @property
    def text(self) -> str:
        """Every file, in path order, each after a header line `==> path <==`."""
        if self._text is None:
            # Joined as bytes straight from the map and decoded once: several times faster
            # than joining per-file strs, which may each be of a different str kind.
            parts: list[bytes | memoryview] = []
            mapped = memoryview(self._mm)
            try:
                for index, path in enumerate(self._paths):
                    offset, size = self._offsets[index], self._sizes[index]
                    parts.append(f"==> {path} <==\n".encode("utf-8"))
                    parts.append(mapped[offset : offset + size])
                    if size and self._mm[offset + size - 1] != 0x0A:
                        parts.append(b"\n")
                joined = b"".join(parts)
            finally:
                parts.clear()
                mapped.release()  # a live export would keep the map from closing
            self._text = joined.decode("utf-8")
        for index in range(len(self._paths)):
            self._record_whole(index)
        return self._text

    def read(self, path: str, start_line: int = 1, end_line: int | None = None) -> str:
        """The text of lines `start_line` to `end_line` of `path` (1-based, inclusive, each
        with its newline; negative numbers count from the end; out-of-range numbers are
        clamped; an empty str when the range holds no line)."""
        index = self._find(path)
        count = self._lines[index]
        first = _line_number(start_line, count, "start_line")
        last = count if end_line is None else _line_number(end_line, count, "end_line")
        first, last = max(first, 1), min(last, count)
        if first > last:
            return ""
        starts = self._starts(index)
        begin = starts[first - 1]
        end = starts[last] if last < count else self._sizes[index]
        offset = self._offsets[index]
        self._record(index, first, last)
        return self._mm[offset + begin : offset + end].decode("utf-8")

    def grep(
        self,
        pattern: str,
        paths: str | Sequence[str] | None = None,
        max_matches: int = GREP_MAX_MATCHES,
        ignore_case: bool = False,
    ) -> list[dict[str, object]]:
        """Each line matching the regex `pattern` (Python `re` syntax, `^`/`$` at line ends),
        as `{"path": str, "line": int (1-based), "text": str}`, in path then line order, at
        most `max_matches` of them. `paths` limits the search: one path or glob, or a list of
        them. A line over 400 characters is cut to a window around the match, with "…"."""
        if not isinstance(pattern, str):
            raise TypeError("grep(pattern): pattern must be a str (a Python regex)")
        limit = operator.index(max_matches)
        flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
        try:
            regex = re.compile(pattern, flags)
        except re.error as exc:
            raise ValueError(f"grep: bad regex {pattern!r}: {exc}") from None
        # An ASCII pattern over an ASCII file matches exactly as over its str, so such files
        # are searched in the mapped bytes, without a copy or a decode.
        byte_regex = None
        if pattern.isascii() and "\\A" not in pattern:  # \A would mean the blob's start
            try:
                byte_regex = re.compile(pattern.encode("ascii"), flags)
            except re.error:
                pass  # e.g. \u escapes exist only in str patterns
        matches: list[dict[str, object]] = []
        for index in self._select(paths):
            if len(matches) >= limit:
                break
            if not self._lines[index]:
                continue  # an empty file has no line to match
            if byte_regex is not None and self._chars[index] == self._sizes[index]:
                self._grep_bytes(index, byte_regex, matches, limit)
            else:
                self._grep_text(index, regex, matches, limit)
        return matches

    def glob(self, pattern: str) -> list[str]:
        """The paths matching the glob `pattern`, in path order (`*` also matches `/`; a
        pattern ending in `/` matches everything under that directory)."""
        return [self._paths[index] for index in self._select_glob(pattern)]

    def info(self, path: str) -> dict[str, object]:
        """Size and kind of one file: path, bytes, chars, lines, language, flags."""
        index = self._find(path)
        return {
            "path": self._paths[index],
            "bytes": self._sizes[index],
            "chars": self._chars[index],
            "lines": self._lines[index],
            "language": self._languages[index],
            "flags": list(self._flags[index]),
        }

    def sizes(self) -> dict[str, int]:
        """Every path with its length in characters, in path order."""
        return dict(zip(self._paths, self._chars))

    def __repr__(self) -> str:
        return (
            f"<context: {len(self._paths):,} files, {sum(self._chars):,} chars "
            f"({_human_size(sum(self._sizes))}); use context.files, context[path], "
            "context.read(path, start_line, end_line), context.grep(pattern), context.text>"
        )

    __str__ = __repr__

    def __reduce_ex__(self, protocol: object) -> object:
        raise TypeError("the context view cannot be copied or pickled; dict(context) can")

    # --- internals -------------------------------------------------------------------------

    def _position(self, path: str) -> int | None:
        index = self._positions.get(path)
        if index is None:
            cleaned = path.strip()
            while cleaned.startswith("./"):
                cleaned = cleaned[2:]
            index = self._positions.get(cleaned.lstrip("/"))
        return index

    def _find(self, path: object) -> int:
        if not isinstance(path, str):
            raise TypeError(
                f"context keys are file paths (str), not {type(path).__name__}; "
                "e.g. context[context.files[0]]"
            )
        index = self._position(path)
        if index is None:
            raise KeyError(self._missing(path))
        return index

    def _missing(self, path: str) -> str:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        suggestions = [p for p in self._paths if p == name or p.endswith("/" + name)][:5]
        if not suggestions and name:
            import difflib  # only on this error path: it costs import time

            by_name: dict[str, str] = {}
            for p in self._paths:
                by_name.setdefault(p.rsplit("/", 1)[-1], p)
            close = difflib.get_close_matches(name, list(by_name), n=3, cutoff=0.6)
            suggestions = [by_name[c] for c in close]
        hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
        return (
            f"no file {path!r} in the context{hint} "
            f"(context.files lists all {len(self._paths):,} paths)"
        )

    def _decode(self, index: int) -> str:
        offset = self._offsets[index]
        return self._mm[offset : offset + self._sizes[index]].decode("utf-8")

    def _starts(self, index: int) -> array[int]:
        """Byte offsets (within the file) where each line starts; built once per file."""
        starts = self._line_starts.get(index)
        if starts is None:
            offset, size = self._offsets[index], self._sizes[index]
            data = self._mm[offset : offset + size]
            starts = array("q", [0])
            starts.extend(match.end() for match in _NEWLINE.finditer(data))
            if len(starts) > 1 and starts[-1] == size:
                starts.pop()  # text ending in "\n" has no line after it
            self._line_starts[index] = starts
        return starts

    def _record(self, index: int, first: int, last: int) -> None:
        if last >= first:
            self._read.setdefault(index, []).append((first, last))

    def _record_whole(self, index: int) -> None:
        self._record(index, 1, self._lines[index])

    def _select_glob(self, pattern: str) -> list[int]:
        if pattern in self._positions:
            return [self._positions[pattern]]
        if pattern.endswith("/"):
            prefix = pattern.removeprefix("./")
            return [i for i, p in enumerate(self._paths) if p.startswith(prefix)]
        regex = re.compile(fnmatch.translate(pattern))
        return [i for i, p in enumerate(self._paths) if regex.match(p)]

    def _select(self, paths: str | Sequence[str] | None) -> Iterable[int]:
        if paths is None:
            return range(len(self._paths))
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, (list, tuple, set, frozenset)):
            raise TypeError("grep(paths=...): a path, a glob, or a list of them")
        chosen: set[int] = set()
        for item in paths:
            if not isinstance(item, str):
                raise TypeError("grep(paths=...): a path, a glob, or a list of them")
            index = self._position(item)
            if index is not None:
                chosen.add(index)
            elif _GLOB_CHARS.intersection(item) or item.endswith("/"):
                chosen.update(self._select_glob(item))
            else:
                raise KeyError(self._missing(item))
        return sorted(chosen)

    def _grep_bytes(
        self, index: int, regex: re.Pattern[bytes], out: list[dict[str, object]], limit: int
    ) -> None:
        mm = self._mm
        offset = self._offsets[index]
        end = offset + self._sizes[index]
        position = offset
        while position <= end and len(out) < limit:
            match = regex.search(mm, position, end)
            if match is None:
                break
            start = match.start()
            if start == end and mm[end - 1 : end] == b"\n":
                break  # an empty match after the final newline is not a line
            newline = mm.rfind(b"\n", offset, start)
            line_start = offset if newline == -1 else newline + 1
            line_end = mm.find(b"\n", start, end)
            if line_end == -1:
                line_end = end
            line = bisect.bisect_right(self._starts(index), start - offset)
            text = mm[line_start:line_end].decode("utf-8")
            out.append(_match(self._paths[index], line, text, start - line_start))
            self._record(index, line, line)
            position = line_end + 1

    def _grep_text(
        self, index: int, regex: re.Pattern[str], out: list[dict[str, object]], limit: int
    ) -> None:
        text = self._decode(index)
        position, line, counted = 0, 1, 0
        while position <= len(text) and len(out) < limit:
            match = regex.search(text, position)
            if match is None:
                break
            start = match.start()
            if start == len(text) and text.endswith("\n"):
                break  # an empty match after the final newline is not a line
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", start)
            if line_end == -1:
                line_end = len(text)
            line += text.count("\n", counted, line_start)
            counted = line_start
            found = text[line_start:line_end]
            out.append(_match(self._paths[index], line, found, start - line_start))
            self._record(index, line, line)
            position = line_end + 1


def _match(path: str, line: int, text: str, column: int) -> dict[str, object]:
    text = text.removesuffix("\r")
    if len(text) > GREP_LINE_CHARS:
        begin = max(0, min(column - GREP_LINE_CHARS // 3, len(text) - GREP_LINE_CHARS))
        end = begin + GREP_LINE_CHARS
        text = ("…" if begin else "") + text[begin:end] + ("…" if end < len(text) else "")
    return {"path": path, "line": line, "text": text}


def _line_number(value: object, count: int, name: str) -> int:
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"read(): {name} must be an int") from None
    return count + 1 + number if number < 0 else number


def open_view(pack_dir: str) -> ContextView | str:
    """Open the pack in `pack_dir` read-only: a directory pack as a `ContextView` over the
    mapped blob (no copy, shared by every process that maps it), a single text as its `str`.
    Costs one small JSON read and no per-file work; raises ValueError for a non-pack."""
    return open_pack(pack_dir)[0]


def open_pack(pack_dir: str) -> tuple[ContextView | str, list[dict[str, object]]]:
    """`open_view`, and the pack's sources table (empty for a pack of one path): a dict per
    source, in the order given, of name, kind (directory, file, stdin or data), type (of its
    value: ContextView, str, list, dict, ...), prefix (its paths' start in the whole view:
    "name/"), and first and count (its entries' place in the index)."""
    with open(os.path.join(pack_dir, INDEX_NAME), "rb") as stream:
        index = json.load(stream)
    if index.get("format") != PACK_FORMAT or index.get("version") != PACK_VERSION:
        raise ValueError(f"{pack_dir} does not hold an rlm-tui context pack of version 1")
    files = index["files"]
    with open(os.path.join(pack_dir, BLOB_NAME), "rb") as blob:
        if index["kind"] == "text":
            return blob.read(files["sizes"][0]).decode("utf-8"), []
        size = os.fstat(blob.fileno()).st_size
        mapped = mmap.mmap(blob.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    view = object.__new__(ContextView)
    paths = tuple(files["paths"])
    view._mm = mapped
    view._paths = paths
    view._positions = {path: i for i, path in enumerate(paths)}
    view._offsets = files["offsets"]
    view._sizes = files["sizes"]
    view._chars = files["chars"]
    view._lines = files["lines"]
    view._languages = files["languages"]
    view._flags = files["flags"]
    view._line_starts = {}
    view._text = None
    view._read = {}
    view._prefix = ""
    return view, list(index.get("sources") or [])


def source_value(whole: ContextView, source: Mapping[str, object]) -> ContextView | str:
    """One source of a pack of several, from the whole pack's view: a directory as a view of
    its own files (paths relative to it, sharing the map; its reads are recorded under the
    whole pack's paths), any other source as the text of its one entry (for data: JSON)."""
    first, count = int(source["first"]), int(source["count"])  # type: ignore[call-overload]
    if source.get("kind") != "directory":
        return whole._decode(first)
    prefix = str(source["prefix"])
    end = first + count
    view = object.__new__(ContextView)
    paths = tuple(path[len(prefix):] for path in whole._paths[first:end])
    view._mm = whole._mm
    view._paths = paths
    view._positions = {path: i for i, path in enumerate(paths)}
    view._offsets = whole._offsets[first:end]
    view._sizes = whole._sizes[first:end]
    view._chars = whole._chars[first:end]
    view._lines = whole._lines[first:end]
    view._languages = whole._languages[first:end]
    view._flags = whole._flags[first:end]
    view._line_starts = {}
    view._text = None
    view._read = {}
    view._prefix = prefix
    return view


def take_coverage(view: ContextView | str) -> dict[str, dict[str, list[list[int]]]]:
    """What the code read through `view` since the last call, then forget it:
    `{"read": {path: [[first_line, last_line], ...]}}`, ranges 1-based, inclusive, merged.
    Always empty for a str context (its reads cannot be seen)."""
    if not isinstance(view, ContextView):
        return {"read": {}}
    read, view._read = view._read, {}
    paths, prefix = view._paths, view._prefix
    return {"read": {prefix + paths[i]: merge_line_ranges(read[i]) for i in sorted(read)}}


def close_view(view: ContextView | str) -> None:
    """Unmap the blob; the view is unusable afterwards."""
    if isinstance(view, ContextView) and isinstance(view._mm, mmap.mmap):
        view._mm.close()
