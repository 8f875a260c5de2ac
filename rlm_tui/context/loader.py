"""Loading a context: a directory, a single file or stdin becomes a pack (see pack.py).

A directory is listed (listing.py), then read file by file in path order: each file is
judged (symlinks, special files, caps, binary), decoded (invalid UTF-8 is replaced and
flagged), scanned for secrets (secrets.py) and appended to the pack, so that memory holds one
file at a time (or a batch of small files, about 256 KB, waiting for their secret scan).
Every file left out is recorded with a reason (skips.py). A large directory is loaded by two
processes at once, with the same result (parallel.py). A single file or stdin is a pack with
one entry; there only the total cap applies, and a file that cannot be used is an error
rather than a skip.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from rlm_tui.context import parallel
from rlm_tui.config import DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_TOTAL_SIZE
from rlm_tui.context.listing import FileListing, list_files
from rlm_tui.context.pack import (
    FLAG_NON_UTF8,
    FLAG_SECRETS_MASKED,
    ContextPack,
    PackMode,
    PackWriter,
)
from rlm_tui.context.readahead import ReadAhead
from rlm_tui.context.secrets import (
    is_secret_file,
    mask_secrets,
    mask_secrets_many,
    prefilter_database,
    prefilter_runs,
)
from rlm_tui.context.skips import SkippedFile, SkipReason
from rlm_tui.context.windows import line_windows
from rlm_tui.errors import InputError

if TYPE_CHECKING:
    from rlm_tui.config import Settings

BINARY_SNIFF_BYTES = 8000  # as git does: a NUL byte in the first 8,000 bytes means binary
BINARY_BY_NAME = "by name"  # the detail of a file skipped as binary without being opened
STDIN = "-"
STDIN_NAME = "<stdin>"


@dataclass(frozen=True)
class LoadOptions:
    """How to load a context. Globs use gitignore syntax against root-relative paths."""

    include: tuple[str, ...] = ()  # when given, only files matching one of them are kept
    exclude: tuple[str, ...] = ()
    include_secrets: bool = False  # load secret files and leave secret-looking values as is
    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # bytes; larger files are skipped
    max_total_size: int = DEFAULT_MAX_TOTAL_SIZE  # bytes of text in the whole pack

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadOptions:
        """The options that `settings` (config.Settings) give."""
        return cls(
            include=tuple(settings.include),
            exclude=tuple(settings.exclude),
            include_secrets=settings.include_secrets,
            max_file_size=settings.max_file_size,
            max_total_size=settings.max_total_size,
        )


@dataclass(frozen=True, slots=True)
class PreparedText:
    """A file's text as it goes into a pack: valid UTF-8, secrets masked unless asked not."""

    text: bytes
    chars: int
    flags: tuple[str, ...]
    secrets_masked: int


def count_chars(data: bytes) -> int | None:
    """Characters in UTF-8 `data`, or None if it is not valid UTF-8. Decodes a window at a time,
    as a str of non-ASCII text can take four bytes per character."""
    if data.isascii():  # the common case needs no decode at all
        return len(data)
    view = memoryview(data)
    try:
        return sum(len(str(view[a:b], "utf-8")) for a, b in line_windows(data, 0, len(data)))
    except UnicodeDecodeError:
        return None
    finally:
        view.release()


def _replace_invalid_utf8(data: bytes) -> bytes:
    # Window by window is exact: a newline never belongs to a multi-byte sequence.
    return b"".join(
        data[a:b].decode("utf-8", "replace").encode("utf-8")
        for a, b in line_windows(data, 0, len(data))
    )


def prepare_text(data: bytes, include_secrets: bool = False) -> PreparedText:
    """Decode `data` as UTF-8 (replacing invalid bytes, flagged "non-utf8") and mask secrets
    in it (flagged "secrets-masked", with the count), unless `include_secrets`."""
    decoded = _decode(data)
    if include_secrets:
        return decoded
    return _with_masks(decoded, *mask_secrets(decoded.text))


def _decode(data: bytes) -> PreparedText:
    """`data` as valid UTF-8 (invalid bytes replaced, flagged "non-utf8"), not yet masked."""
    chars = count_chars(data)
    if chars is not None:
        return PreparedText(data, chars, (), 0)
    data = _replace_invalid_utf8(data)
    chars = count_chars(data)
    assert chars is not None  # valid UTF-8 by now
    return PreparedText(data, chars, (FLAG_NON_UTF8,), 0)


def _with_masks(decoded: PreparedText, masked: bytes, counts: dict[str, int]) -> PreparedText:
    if not counts:
        return decoded
    chars = count_chars(masked)
    assert chars is not None  # masks fall on character boundaries
    flags = (*decoded.flags, FLAG_SECRETS_MASKED)
    return PreparedText(masked, chars, flags, sum(counts.values()))


def is_binary(data: bytes) -> bool:
    """Whether `data` looks binary: a NUL byte among its first 8,000 bytes."""
    return data.find(b"\0", 0, BINARY_SNIFF_BYTES) != -1


# Formats whose header holds a NUL byte in its first bytes, always: compiled Python (flags),
# PNG (the IHDR length), JPEG (the APP0/APP1 length), fonts (version, counts or a reserved
# field), icons, Java classes, MP4/AVIF (the ftyp size), WAV (the fmt size), zip archives
# (the version needed), gzip (the flags, or the end of the stored name), SQLite (the magic
# string's end), PE executables (the DOS header). A file so named is binary by the rule
# above without being opened: a tree of __pycache__ directories costs no open at all.
_BINARY_SUFFIXES = frozenset(
    ".pyc .pyo .png .jpg .jpeg .woff .woff2 .ttf .otf .ico .class .mp4 .avif .wav .zip"
    " .whl .jar .gz .tgz .sqlite .sqlite3 .exe .dll".split()
)


def is_binary_name(relative: str) -> bool:
    """Whether the file at `relative` is named as a format that the content rule
    (`is_binary`) always finds binary."""
    name = relative.rpartition("/")[2]
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in _BINARY_SUFFIXES


class _NotRegularFile(Exception):
    """The path turned into something other than a regular file between stat and open."""


class _Binary(Exception):
    """The file's first 8,000 bytes hold a NUL: it is binary, and the rest is not read."""


# The path is already resolved: O_NOFOLLOW refuses a symlink swapped in since.
_OPEN_FLAGS = (
    os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW | getattr(os, "O_NOCTTY", 0)
)


def _read_regular_file(path: str, limit: int, sniff: bool = True) -> bytes | None:
    """The whole content of the regular file at the resolved `path` (no symlink in its last
    part), or None if it holds over `limit` bytes.

    Opened non-blocking and checked with fstat, so that a FIFO swapped in after the listing
    is refused rather than blocking the load. With `sniff`, raises _Binary after reading only
    the first 8,000 bytes of a binary file."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _NotRegularFile(path)
        size = info.st_size
        if size > limit:
            return None
        head = b""
        if sniff and size > BINARY_SNIFF_BYTES:
            head = os.read(fd, BINARY_SNIFF_BYTES)
            if is_binary(head):
                raise _Binary(path)
        rest = os.read(fd, size + 1 - len(head))
        total = len(head) + len(rest)
        if total == size:  # all that fstat gave, and not a byte more: the end, no other read
            return head + rest if head else rest
        # The size changed since fstat: read on to the end, or past the limit.
        parts = [head, rest]
        while rest and total <= limit:
            rest = os.read(fd, 1 << 16)
            parts.append(rest)
            total += len(rest)
        if total > limit:
            return None  # it grew while we read
        return b"".join(parts)
    finally:
        os.close(fd)


def _kind_of_special(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "not a regular file"


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _locate(
    root: str, relative: str, include_secrets: bool
) -> tuple[str, int] | SkippedFile | None:
    """Where to read the listed file `relative` from and its size, or why it is skipped
    (None: it vanished, as a tracked file deleted from the work tree does)."""
    path = os.path.join(root, relative)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return SkippedFile(relative, SkipReason.UNREADABLE, exc.strerror or str(exc))
    if stat.S_ISLNK(info.st_mode):
        try:
            link = os.readlink(path)
            info = os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return SkippedFile(relative, SkipReason.SYMLINK_LOOP)
            if exc.errno == errno.ENOENT:
                return SkippedFile(relative, SkipReason.BROKEN_SYMLINK, f"-> {link}")
            return SkippedFile(relative, SkipReason.UNREADABLE, exc.strerror or str(exc))
        real = os.path.realpath(path)
        if not _within(real, root):
            return SkippedFile(relative, SkipReason.SYMLINK_OUTSIDE_ROOT, f"-> {link}")
        if stat.S_ISDIR(info.st_mode):
            # A link to a directory that holds the link itself would be walked forever.
            if _within(os.path.realpath(os.path.dirname(path)), real):
                return SkippedFile(relative, SkipReason.SYMLINK_LOOP, f"-> {link}")
            return SkippedFile(relative, SkipReason.SYMLINK_TO_DIRECTORY, f"-> {link}")
        if not include_secrets and is_secret_file(os.path.relpath(real, root)):
            return SkippedFile(relative, SkipReason.SECRET_FILE, f"-> {link}")
        path = real
    elif stat.S_ISDIR(info.st_mode):
        return SkippedFile(relative, SkipReason.SUBMODULE)
    if not stat.S_ISREG(info.st_mode):
        return SkippedFile(relative, SkipReason.SPECIAL_FILE, _kind_of_special(info.st_mode))
    return path, info.st_size


def _describe_nothing_loaded(skipped: Iterable[SkippedFile], ignored: Counter[str]) -> str:
    reasons = Counter(str(s.reason) for s in skipped)
    parts = [f"{n:,} {reason}" for reason, n in reasons.most_common()]
    if ignored:
        parts.append(f"{sum(ignored.values()):,} ignored")
    return ", ".join(parts)


# Masking can lengthen a text: each value masked, 6 bytes at least, becomes
# "[REDACTED:<kind>]", 25 bytes at most; so a masked text is under 5 times as long.
_MASK_GROWTH = 5
# Texts are masked in batches of about this many bytes: one scan of each rule over a batch
# costs far less than one per small file, and a batch is small next to the pack.
MASK_BATCH_BYTES = 256 * 1024
_Masked = tuple[bytes, dict[str, int]]  # a text masked, and how many of each kind


class _DirectoryLoad:
    """The files of one listed directory going into a pack, in path order.

    Far from the total cap, where no cap check can fail, two shortcuts apply: a file the walk
    saw as regular is opened without a stat first, and texts wait to be masked in batches.
    Near it, every file goes the careful way, one at a time, as the cap must see exact sizes.
    """

    def __init__(
        self,
        listing: FileListing,
        writer: PackWriter,
        options: LoadOptions,
        ahead: ReadAhead | None = None,
    ) -> None:
        self.listing = listing
        self.root = str(listing.root)
        self.writer = writer
        self.options = options
        self.skipped = list(listing.skipped)
        self.full = False  # the cap was reached: later files are not tried
        self._waiting: list[tuple[str, PreparedText]] = []  # decoded, to be masked
        self._waiting_bytes = 0
        # A full batch is masked in a thread while the next is read: Hyperscan's scan, most
        # of the masking, lets go of the GIL. The batch in the thread, and its bytes:
        self._masker = _background_masker(options)
        self._masking: tuple[Future[list[_Masked]], list[tuple[str, PreparedText]]] | None = None
        self._masking_bytes = 0
        # The files in the order they are taken: the listing's, unless told otherwise.
        self._ahead = ahead or read_ahead(self.root, listing.files, listing.regular, options)

    def add_files(self, relatives: Iterable[str]) -> None:
        """Load these listed files, which come after those loaded so far."""
        for relative in relatives:
            self._add(relative)

    def adopt(self, part: parallel.Part) -> bool:
        """Append `part`, the next listed files as the helper loaded them (without a total
        cap), and its skips; False, with nothing done, if a cap check could fail on its files
        (the caller then loads them itself)."""
        self._flush()
        fits = self.writer.total_bytes + part.text_bytes + self.options.max_file_size
        if self.full or fits > self.options.max_total_size:
            return False
        self.writer.adopt(part.rows)
        self.skipped.extend(part.skipped)
        return True

    def finish(self) -> list[SkippedFile]:
        """Write the texts still waiting; the files skipped, in path order."""
        self._flush()
        if self._masker is not None:
            self._masker.shutdown()
        return self.skipped

    def _skip(self, relative: str, reason: SkipReason, detail: str = "") -> None:
        self.skipped.append(SkippedFile(relative, reason, detail))

    def _far_from_cap(self, more: int) -> bool:
        """Whether `more` bytes of text surely fit in the pack after those written and those
        waiting to be masked, however the masks change their length."""
        waiting = _MASK_GROWTH * (self._waiting_bytes + self._masking_bytes)
        return self.writer.total_bytes + waiting + more <= self.options.max_total_size

    def _add(self, relative: str) -> None:
        self._ahead.advance()
        options = self.options
        if not options.include_secrets and is_secret_file(relative):
            self._skip(relative, SkipReason.SECRET_FILE)
            return
        if self.full:
            self._skip(relative, SkipReason.OVER_TOTAL_CAP)
            return
        regular = relative in self.listing.regular
        if regular and is_binary_name(relative):
            self._skip(relative, SkipReason.BINARY, BINARY_BY_NAME)
            return
        if not relative.isascii():
            try:
                relative.encode("utf-8")
            except UnicodeEncodeError:
                shown = relative.encode("utf-8", "replace").decode("utf-8")
                self._skip(shown, SkipReason.UNREADABLE, "name is not UTF-8")
                return
        quick = self._far_from_cap(options.max_file_size)
        if not quick:
            self._flush()
        data = None
        if quick and regular:
            try:
                data = _read_regular_file(f"{self.root}/{relative}", options.max_file_size)
            except _Binary:
                self._skip(relative, SkipReason.BINARY)
                return
            except (_NotRegularFile, OSError):
                pass  # the careful way below finds out what it is, and why
        if data is None:
            data = self._read_carefully(relative)
            if data is None:
                return
        if is_binary(data):
            self._skip(relative, SkipReason.BINARY)
            return
        decoded = _decode(data)
        if options.include_secrets:
            self._commit(relative, decoded)
        elif self._far_from_cap(_MASK_GROWTH * len(decoded.text)):
            self._waiting.append((relative, decoded))
            self._waiting_bytes += len(decoded.text)
            if self._waiting_bytes >= MASK_BATCH_BYTES:
                self._hand_off()
        else:
            self._flush()
            self._commit(relative, _with_masks(decoded, *mask_secrets(decoded.text)))

    def _read_carefully(self, relative: str) -> bytes | None:
        """The file's content after a stat of its path, or None with the file skipped (or
        not, if it vanished)."""
        options = self.options
        located = _locate(self.root, relative, options.include_secrets)
        if located is None:
            return None
        if isinstance(located, SkippedFile):
            self.skipped.append(located)
            return None
        path, size = located
        if size > options.max_file_size:
            self._skip(relative, SkipReason.TOO_LARGE, f"{size:,} bytes")
            return None
        if self.writer.total_bytes + size > options.max_total_size:
            self.full = True
            self._skip(relative, SkipReason.OVER_TOTAL_CAP)
            return None
        try:
            data = _read_regular_file(path, options.max_file_size)
        except _NotRegularFile:
            self._skip(relative, SkipReason.SPECIAL_FILE, "not a regular file")
            return None
        except _Binary:
            self._skip(relative, SkipReason.BINARY)
            return None
        except OSError as exc:
            self._skip(relative, SkipReason.UNREADABLE, exc.strerror or str(exc))
            return None
        if data is None:
            self._skip(relative, SkipReason.TOO_LARGE, "grew while read")
        return data

    def _flush(self) -> None:
        """Mask the waiting texts together and write them (after the batch in the thread)."""
        self._settle()
        if not self._waiting:
            return
        waiting, self._waiting, self._waiting_bytes = self._waiting, [], 0
        self._write_masked(waiting, mask_secrets_many([decoded.text for _, decoded in waiting]))

    def _hand_off(self) -> None:
        """Mask the waiting texts in the thread, if there is one, once it has written the batch
        before them; else now."""
        if self._masker is None:
            self._flush()
            return
        self._settle()
        waiting, self._waiting = self._waiting, []
        self._masking_bytes, self._waiting_bytes = self._waiting_bytes, 0
        texts = [decoded.text for _, decoded in waiting]
        self._masking = (self._masker.submit(mask_secrets_many, texts), waiting)

    def _settle(self) -> None:
        """Write the batch masked in the thread, once it is."""
        if self._masking is None:
            return
        (future, waiting), self._masking = self._masking, None
        self._masking_bytes = 0
        self._write_masked(waiting, future.result())

    def _write_masked(self, waiting: list[tuple[str, PreparedText]], masks: list[_Masked]) -> None:
        for (relative, decoded), (masked, counts) in zip(waiting, masks):
            self._commit(relative, _with_masks(decoded, masked, counts))

    def _commit(self, relative: str, prepared: PreparedText) -> None:
        if self.writer.total_bytes + len(prepared.text) > self.options.max_total_size:
            self.full = True
            self._skip(relative, SkipReason.OVER_TOTAL_CAP)
            return
        self.writer.add(
            relative,
            prepared.text,
            chars=prepared.chars,
            flags=prepared.flags,
            secrets_masked=prepared.secrets_masked,
        )


def _background_masker(options: LoadOptions) -> ThreadPoolExecutor | None:
    """A thread to mask batches in, where that helps: where Hyperscan does most of the work
    (with `re` alone, masking holds the GIL, and a thread would only wait for this one), and
    a core is spare for it now, beside this thread and a helper (which runs by then)."""
    if options.include_secrets or parallel.spare_cores() < 1:
        return None
    if not prefilter_runs():
        return None
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="rlm-tui-mask")


def read_ahead(
    root: str, order: Sequence[str], regular: set[str], options: LoadOptions
) -> ReadAhead:
    """A ReadAhead over `order`, files under `root`, that opens only files the load would
    (`regular`: those the listing saw as regular files; others are checked)."""

    def may_open(relative: str) -> bool:
        if not options.include_secrets and is_secret_file(relative):
            return False
        if relative in regular:
            return not is_binary_name(relative)
        try:
            return stat.S_ISREG(os.lstat(f"{root}/{relative}").st_mode)
        except OSError:
            return False

    return ReadAhead(root, order, may_open)


def load_files(
    listing: FileListing,
    writer: PackWriter,
    options: LoadOptions,
    ahead: ReadAhead | None = None,
) -> list[SkippedFile]:
    """Load the files of `listing` into `writer`, in one process; the files skipped.
    `ahead` reads ahead in the order files are taken, if that is not the listing's."""
    load = _DirectoryLoad(listing, writer, options, ahead)
    load.add_files(listing.files)
    return load.finish()


def _load_listing(
    listing: FileListing,
    writer: PackWriter,
    options: LoadOptions,
    helper: parallel.Helper | None,
) -> list[SkippedFile]:
    """`load_files`, with the helper (if any) taking chunks from the back of a large
    listing."""
    if helper is None or len(listing.files) < parallel.MIN_FILES:
        return load_files(listing, writer, options)
    size = parallel.CHUNK_FILES
    chunks = [listing.files[i : i + size] for i in range(0, len(listing.files), size)]
    prefilter = None if options.include_secrets else prefilter_database()
    plan = parallel.LoadPlan(str(listing.root), chunks, listing.regular, options, prefilter)
    if not writer.share() or not helper.give(plan):
        return load_files(listing, writer, options)
    load = _DirectoryLoad(listing, writer, options)
    ours = len(chunks)
    for index, chunk in enumerate(chunks):
        if not helper.claim(index):
            ours = index  # the helper has this one and every one after it
            break
        load.add_files(chunk)
    for index in range(ours, len(chunks)):
        if load.full:  # the cap is reached: the helper's parts would be refused anyway
            helper.close()
        part = None if load.full else helper.part(index)
        if part is None or not load.adopt(part):
            load.add_files(chunks[index])
    return load.finish()


def _load_directory(
    root: Path, source: str, writer: PackWriter, options: LoadOptions
) -> ContextPack:
    # A helper starts now, while the directory is listed, in case the listing is large. Also
    # when texts are not scanned for secrets: since it writes into the blob itself, it speeds
    # that load too (site-packages, warm: 0.39 s -> 0.31 s).
    helper = parallel.Helper.start(writer.directory)
    if not options.include_secrets:
        prefilter_runs()  # its patterns compile in a thread while the directory is listed
    try:
        listing = list_files(root, options.include, options.exclude)
        skipped = _load_listing(listing, writer, options, helper)
    finally:
        if helper is not None:
            helper.close()
    if writer.entry_count == 0:
        if not listing.files and not listing.ignored and not skipped:
            raise InputError(f"{source} is an empty directory")
        summary = _describe_nothing_loaded(skipped, listing.ignored)
        raise InputError(f"{source}: no text file left to load ({summary})")
    return writer.finish(
        mode=listing.mode,
        source=source,
        skipped=skipped,
        ignored=dict(listing.ignored),
        options=options.to_dict(),
    )


def _single_text(data: bytes | None, shown: str, options: LoadOptions) -> PreparedText:
    if data is None:
        raise InputError(
            f"{shown} is larger than the total cap of {options.max_total_size:,} bytes "
            "(--max-total-size)"
        )
    if not data:
        raise InputError(f"{shown} is empty")
    if is_binary(data):
        raise InputError(f"{shown} holds binary data, not text")
    return prepare_text(data, options.include_secrets)


def _read_stream(stream: BinaryIO, limit: int) -> bytes | None:
    # BytesIO hands its buffer over without a copy: a huge stdin is held once, not twice.
    buffer = io.BytesIO()
    while buffer.tell() <= limit:
        chunk = stream.read(min(1 << 20, limit + 1 - buffer.tell()))
        if not chunk:
            break
        buffer.write(chunk)
    return None if buffer.tell() > limit else buffer.getvalue()


def load_context(
    source: str | os.PathLike[str],
    pack_dir: str | os.PathLike[str],
    options: LoadOptions | None = None,
    *,
    stdin: BinaryIO | None = None,
) -> ContextPack:
    """Load `source` (a directory, a file, or "-" for stdin) into a pack written to `pack_dir`
    (created if needed) and return it.

    Raises InputError, with a one-line message, for a source that cannot be used: missing,
    unreadable, a FIFO or device, an empty directory, a directory with nothing left after
    filtering, or a single file/stdin that is empty, binary, a secret file or over the total
    cap. `stdin` is the stream "-" reads (default: sys.stdin's bytes).
    """
    options = options or LoadOptions()
    shown = os.fspath(source)
    if shown == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        if stream.isatty():
            raise InputError("stdin is a terminal; pipe text into it: cat notes | rlm-tui ... -")
        data = _read_stream(stream, options.max_total_size)
        prepared = _single_text(data, "stdin", options)
        return _write_text_pack(pack_dir, STDIN_NAME, prepared, "stdin", STDIN_NAME, options)
    path = Path(shown).expanduser()
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{shown}: no such file or directory") from None
    except OSError as exc:
        raise InputError(f"{shown}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        with PackWriter(pack_dir, kind="files") as writer:
            return _load_directory(Path(os.path.realpath(path)), shown, writer, options)
    if not stat.S_ISREG(info.st_mode):
        kind = _kind_of_special(info.st_mode)
        raise InputError(f"{shown} is a {kind}, not a regular file or directory")
    name = path.name
    if not options.include_secrets and is_secret_file(name):
        raise InputError(f"{shown} looks like a secrets file; pass --include-secrets to load it")
    try:
        data = _read_regular_file(os.path.realpath(path), options.max_total_size, sniff=False)
    except _NotRegularFile:
        raise InputError(f"{shown} is not a regular file or directory") from None
    except OSError as exc:
        raise InputError(f"{shown}: {exc.strerror or exc}") from None
    prepared = _single_text(data, shown, options)
    return _write_text_pack(pack_dir, name, prepared, "file", shown, options)


def _write_text_pack(
    pack_dir: str | os.PathLike[str],
    name: str,
    prepared: PreparedText,
    mode: PackMode,
    source: str,
    options: LoadOptions,
) -> ContextPack:
    with PackWriter(pack_dir, kind="text") as writer:
        writer.add(
            name,
            prepared.text,
            chars=prepared.chars,
            flags=prepared.flags,
            secrets_masked=prepared.secrets_masked,
        )
        return writer.finish(mode=mode, source=source, options=options.to_dict())
