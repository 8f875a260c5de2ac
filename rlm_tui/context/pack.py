"""The context pack on disk: one UTF-8 blob of every file's text plus an index, written once,
file by file, and then only read (the sandbox worker maps it with view.py).

Files in a pack directory:
- `context.blob`: each file's text, each followed by one "\\n" that belongs to no file (see
  view.py for why). Texts lie in path order, except where two processes loaded the pack
  (parallel.py): each appended its batches of texts, in path order within a batch, as they
  were ready. The index says where each text is. Bytes that no entry covers (texts of a
  helper's that the total cap refused) are overwritten with newlines when the pack is
  finished;
- `context.index.json`: what the worker needs, as columns (fast to parse for 100k files);
  for a pack of several sources (sources.py), also a table of them (name, kind, type, the
  prefix their paths start with, and their entries' range);
- `context.manifest.json`: what only the host needs: the source, the listing mode, the
  skipped files with reasons, the ignored counts, the load options, and each source's origin
  (its absolute path, "<stdin>" or "data") and shape.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple

from rlm_tui.context.languages import language_of
from rlm_tui.context.skips import SkippedFile, SkipReason
from rlm_tui.context.source_table import PackSource
from rlm_tui.context.view import (
    BLOB_NAME,
    FILE_SEPARATOR,
    INDEX_NAME,
    PACK_FORMAT,
    PACK_VERSION,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no helper process shares a blob
    fcntl = None  # type: ignore[assignment]

MANIFEST_NAME = "context.manifest.json"

PackKind = Literal["files", "text"]
# How the pack's files were found: git ls-files, a directory walk, one file, stdin, data
# given as a value (a source of a pack of several), or several sources.
PackMode = Literal["git", "walk", "file", "stdin", "data", "sources"]

FLAG_NON_UTF8 = "non-utf8"  # decoded with U+FFFD replacing the invalid bytes
FLAG_SECRETS_MASKED = "secrets-masked"  # secret-looking values replaced by [REDACTED:...]


def count_lines(data: bytes) -> int:
    """Lines in `data`: newlines, plus one for a last line without a newline."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


class PackEntry(NamedTuple):
    """One file in a pack: where its UTF-8 text lies in the blob, and its measures. (A named
    tuple: a large pack makes one per file, three times faster than a frozen dataclass.)"""

    path: str
    offset: int
    size: int  # bytes of UTF-8 text
    chars: int
    lines: int
    language: str
    flags: tuple[str, ...] = ()
    secrets_masked: int = 0


@dataclass(frozen=True)
class ContextPack:
    """A written pack: its directory, its files, and what was left out of it."""

    directory: Path
    kind: PackKind
    mode: PackMode
    source: str  # the path loaded, or "<stdin>"
    entries: tuple[PackEntry, ...]
    skipped: tuple[SkippedFile, ...] = ()
    ignored: Mapping[str, int] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[PackSource, ...] = ()  # a pack of several sources (else one path)

    @property
    def blob_path(self) -> Path:
        return self.directory / BLOB_NAME

    @property
    def index_path(self) -> Path:
        return self.directory / INDEX_NAME

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)

    @property
    def total_chars(self) -> int:
        return sum(entry.chars for entry in self.entries)

    @property
    def total_lines(self) -> int:
        return sum(entry.lines for entry in self.entries)

    def entry(self, path: str) -> PackEntry:
        """The entry for `path`; KeyError if the pack has no such file."""
        for entry in self.entries:
            if entry.path == path:
                return entry
        raise KeyError(path)

    def read_text(self, path: str) -> str:
        """The text of one file, read from the blob (host side; the worker uses view.py)."""
        entry = self.entry(path)
        with open(self.blob_path, "rb") as blob:
            blob.seek(entry.offset)
            return blob.read(entry.size).decode("utf-8")

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> ContextPack:
        """Read a pack written earlier (its index and manifest; not the blob)."""
        directory = Path(directory)
        index = json.loads((directory / INDEX_NAME).read_text(encoding="utf-8"))
        if index.get("format") != PACK_FORMAT or index.get("version") != PACK_VERSION:
            raise ValueError(f"{directory} does not hold an rlm-tui context pack of version 1")
        manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
        files = index["files"]
        entries = tuple(
            PackEntry(path, offset, size, chars, lines, language, tuple(flags), masked)
            for path, offset, size, chars, lines, language, flags, masked in zip(
                files["paths"],
                files["offsets"],
                files["sizes"],
                files["chars"],
                files["lines"],
                files["languages"],
                files["flags"],
                files["secrets_masked"],
            )
        )
        return cls(
            directory=directory,
            kind=index["kind"],
            mode=manifest["mode"],
            source=manifest["source"],
            entries=entries,
            skipped=tuple(
                SkippedFile(s["path"], SkipReason(s["reason"]), s.get("detail", ""))
                for s in manifest["skipped"]
            ),
            ignored=dict(manifest["ignored"]),
            options=dict(manifest.get("options", {})),
            sources=tuple(
                PackSource(s["name"], s["kind"], s["type"], s["origin"], s["mode"], s["first"],
                           s["count"], s.get("shape", ""), bool(s.get("as_data")))
                for s in manifest.get("sources", ())
            ),
        )


_Row = tuple[str, int, int, int, int, str, tuple[str, ...], int]  # PackEntry's fields
# The index's columns: PackEntry's fields, in order.
_INDEX_COLUMNS = ("paths", "offsets", "sizes", "chars", "lines", "languages", "flags",
                  "secrets_masked")


class PackWriter:
    """Writes a pack into `directory` one file at a time, so that memory holds one file's
    text at most (or a batch of about a megabyte). Files must be added in path order. Use as
    a context manager: on an error the partial pack is removed.

    A part writer (`PackWriter.part`) appends to the blob of a pack that another process
    is writing (parallel.py): each writes its batches whole, under a lock on the blob, and
    learns where they landed."""

    def __init__(
        self, directory: str | os.PathLike[str], kind: PackKind = "files", *, _part: bool = False
    ) -> None:
        self.directory = Path(directory)
        if not _part:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self._entries: list[PackEntry] = []
        self._text_bytes = 0
        self._is_part = _part
        self._blob: _BlobFile | None = _BlobFile(self.blob_path, self._place, create=not _part)

    @classmethod
    def part(cls, directory: str | os.PathLike[str]) -> PackWriter:
        """A writer of some files of the pack being written in `directory` (by a writer in
        another process, which created its blob): its texts go into that blob, its entries
        come back from `finish_part`, and it writes no index or manifest."""
        return cls(directory, _part=True)

    @property
    def blob_path(self) -> Path:
        return self.directory / BLOB_NAME

    def __enter__(self) -> PackWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()

    @property
    def total_bytes(self) -> int:
        """Bytes of text added so far."""
        return self._text_bytes

    @property
    def entry_count(self) -> int:
        """Files added so far."""
        return len(self._entries) + (self._blob.waiting if self._blob is not None else 0)

    def add(
        self,
        path: str,
        text: bytes,
        *,
        chars: int,
        flags: Sequence[str] = (),
        secrets_masked: int = 0,
    ) -> None:
        """Append one file's UTF-8 `text` (with its length in characters) to the blob."""
        blob = self._blob
        if blob is None:
            raise RuntimeError("the pack is already finished")
        last = blob.last_path or (self._entries[-1].path if self._entries else None)
        if last is not None and path <= last:
            raise ValueError(f"files must be added in path order: {path!r}")
        if self.kind == "text" and (self._entries or blob.waiting):
            raise ValueError("a text pack holds exactly one entry")
        language = language_of(path) if self.kind == "files" else "Text"
        blob.write(text, (path, chars, count_lines(text), language, tuple(flags), secrets_masked))
        self._text_bytes += len(text)

    def _place(self, start: int, batch: list[tuple[int, int, tuple[Any, ...]]]) -> None:
        # A batch was written at `start`: its texts' offsets are known now.
        self._entries.extend(
            PackEntry(path, start + at, size, chars, lines, language, flags, masked)
            for at, size, (path, chars, lines, language, flags, masked) in batch
        )

    def adopt(self, rows: Sequence[_Row]) -> None:
        """Take in the entries of a part (`finish_part`'s rows) whose texts are in this
        pack's blob already: files that come after those added so far."""
        if self._blob is None:
            raise RuntimeError("the pack is already finished")
        if not rows:
            return
        self._blob.flush()  # the files added so far come first
        if self._entries and rows[0][0] <= self._entries[-1].path:
            raise ValueError(f"files must be added in path order: {rows[0][0]!r}")
        self._entries.extend(map(PackEntry._make, rows))
        self._text_bytes += sum(row[2] for row in rows)

    def append_pack(self, pack: ContextPack, prefix: str) -> None:
        """Append a whole pack written elsewhere (one source of a pack of several): its blob
        copied after the texts so far, its entries' paths prefixed with `prefix`, which must
        come after every path added so far."""
        blob = self._blob
        if blob is None:
            raise RuntimeError("the pack is already finished")
        blob.flush()
        last = self._entries[-1].path if self._entries else None
        if last is not None and pack.entries and prefix + pack.entries[0].path <= last:
            raise ValueError(f"files must be added in path order: {prefix!r}")
        start = os.lseek(blob.fd, 0, os.SEEK_END)
        with open(pack.blob_path, "rb") as source:
            size = os.fstat(source.fileno()).st_size
            copied = 0
            while copied < size:  # in the kernel where it can: no copy through Python
                sent = os.sendfile(blob.fd, source.fileno(), copied, size - copied)
                if sent == 0:
                    raise OSError(f"{pack.blob_path} ended while it was being copied")
                copied += sent
        self._entries.extend(entry._replace(path=prefix + entry.path,
                                            offset=start + entry.offset)
                             for entry in pack.entries)
        self._text_bytes += pack.total_bytes

    def share(self) -> bool:
        """Let part writers in other processes write into this pack's blob from now on
        (each batch is then written under a lock); False, with nothing changed, where the
        blob's file system cannot lock (an NFS mount without a lock service, say)."""
        if self._blob is None:
            raise RuntimeError("the pack is already finished")
        return self._blob.share()

    def finish_part(self) -> list[_Row]:
        """Write a part's last texts into the blob and return its entries as rows of
        PackEntry fields, for `adopt` by the pack's writer."""
        blob, self._blob = self._blob, None
        if blob is None:
            raise RuntimeError("the pack is already finished")
        blob.close()
        return [tuple(entry) for entry in self._entries]  # type: ignore[misc]

    def finish(
        self,
        *,
        mode: PackMode,
        source: str,
        skipped: Sequence[SkippedFile] = (),
        ignored: Mapping[str, int] | None = None,
        options: Mapping[str, Any] | None = None,
        sources: Sequence[PackSource] = (),
    ) -> ContextPack:
        """Close the blob, write the index and the manifest, and return the pack."""
        if self._is_part:
            raise RuntimeError("a part has no index: finish_part")
        blob, self._blob = self._blob, None
        if blob is None:
            raise RuntimeError("the pack is already finished")
        try:
            blob.blank_all_but(self._entries)
        finally:
            blob.close()
        entries = self._entries
        index = {
            "format": PACK_FORMAT,
            "version": PACK_VERSION,
            "kind": self.kind,
            "files": dict(zip(_INDEX_COLUMNS, zip(*entries) if entries else [()] * 8)),
        }
        manifest: dict[str, Any] = {
            "source": source,
            "mode": mode,
            "skipped": [s.to_dict() for s in skipped],
            "ignored": dict(ignored or {}),
            "options": dict(options or {}),
        }
        if sources:
            index["sources"] = [s.to_index() for s in sources]
            manifest["sources"] = [s.to_dict() for s in sources]
        _write_json(self.directory / INDEX_NAME, index)
        _write_json(self.directory / MANIFEST_NAME, manifest)
        return ContextPack(
            directory=self.directory,
            kind=self.kind,
            mode=mode,
            source=source,
            entries=tuple(entries),
            skipped=tuple(skipped),
            ignored=dict(ignored or {}),
            options=dict(options or {}),
            sources=tuple(sources),
        )

    def abort(self) -> None:
        """Close and remove whatever was written (a part leaves the blob to its pack)."""
        if self._blob is not None:
            self._blob.close(write=False)
            self._blob = None
        if self._is_part:
            return
        for name in (BLOB_NAME, INDEX_NAME, MANIFEST_NAME):
            (self.directory / name).unlink(missing_ok=True)


class _BlobFile:
    """The blob being written: each file's text followed by FILE_SEPARATOR, gathered into
    batches of about a megabyte, each written whole by one writev, which the kernel copies
    straight from the texts (a buffered file would copy each text once more first). Each
    batch goes at the blob's end, under a lock (flock) once part writers in other processes
    may write to it too; `placed(start, batch)` then learns where: each text's place in the
    batch, its size, and what `write` was given with it."""

    FLUSH_BYTES = 1 << 20
    # Two buffers (text, separator) per file, under the usual IOV_MAX of 1,024 per writev.
    _MAX_BUFFERS = 1000

    def __init__(self, path: Path, placed: _Placed, create: bool = True) -> None:
        flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
        if create:
            flags |= os.O_CREAT | os.O_TRUNC
        self.fd = os.open(path, flags, 0o644)
        self._closed = False
        self._shared = not create and fcntl is not None  # a part writer's: another's blob
        self._placed = placed
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._batch: list[tuple[int, int, tuple[Any, ...]]] = []
        self.last_path: str | None = None  # of the last text waiting to be written

    @property
    def waiting(self) -> int:
        """Texts not yet written."""
        return len(self._batch)

    def write(self, text: bytes, about: tuple[Any, ...]) -> None:
        pending = self._pending
        self._batch.append((self._pending_bytes, len(text), about))
        self.last_path = about[0]
        pending.append(text)
        pending.append(FILE_SEPARATOR)
        self._pending_bytes += len(text) + len(FILE_SEPARATOR)
        if self._pending_bytes >= self.FLUSH_BYTES or len(pending) >= self._MAX_BUFFERS:
            self.flush()

    def flush(self) -> None:
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        batch, self._batch, self.last_path = self._batch, [], None
        if not pending:
            return
        shared = self._shared
        if shared:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            start = os.lseek(self.fd, 0, os.SEEK_END)
            _write_all(self.fd, pending)
        finally:
            if shared:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        self._placed(start, batch)

    def share(self) -> bool:
        if fcntl is None:
            return False
        try:  # where locks are refused, find out now, not in the middle of the load
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        except OSError:
            return False
        self._shared = True
        return True

    def blank_all_but(self, entries: Sequence[PackEntry]) -> None:
        """Overwrite with newlines whatever lies in the blob outside `entries`' texts and
        their separators: texts of a helper's part that the total cap refused, or of a chunk
        its helper died in. Model code sees nothing the index does not list, and each file
        still starts on a line of its own."""
        self.flush()
        end = os.lseek(self.fd, 0, os.SEEK_END)
        if end == sum(entry.size for entry in entries) + len(FILE_SEPARATOR) * len(entries):
            return  # every byte is an entry's text or separator (texts never overlap)
        position = 0
        for start, size in sorted((entry.offset, entry.size) for entry in entries):
            if start > position:
                _blank(self.fd, position, start)
            position = max(position, start + size + len(FILE_SEPARATOR))
        if position < end:
            _blank(self.fd, position, end)

    def close(self, write: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if write:
                self.flush()
        finally:
            os.close(self.fd)


def _blank(fd: int, start: int, end: int) -> None:
    while start < end:
        step = min(end - start, 1 << 20)
        start += os.pwrite(fd, b"\n" * step, start)


_Placed = Callable[[int, list[tuple[int, int, tuple[Any, ...]]]], None]


def _write_all(fd: int, buffers: list[bytes]) -> None:
    """Write `buffers`, in order, to `fd`: gathered where the system can, and again after a
    short write (a signal, a full disk) for what is left."""
    if not hasattr(os, "writev"):  # not on POSIX
        buffers = [b"".join(buffers)]
    first = 0
    while first < len(buffers):
        rest = buffers[first:] if first else buffers
        written = os.writev(fd, rest) if len(rest) > 1 else os.write(fd, rest[0])
        while first < len(buffers) and written >= len(buffers[first]):
            written -= len(buffers[first])
            first += 1
        if written:
            buffers[first] = buffers[first][written:]


def _write_json(path: Path, data: object) -> None:
    # Written whole and renamed, so that a reader never sees half an index.
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), "utf-8")
    os.replace(partial, path)
