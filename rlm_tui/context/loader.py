"""Loading a context: a directory, a single file or stdin becomes a pack (see pack.py).

A directory is listed (listing.py), then read file by file in path order (directory.py):
each file is judged (symlinks, special files, caps, binary: files.py), decoded (invalid UTF-8
is replaced and flagged), scanned for secrets (secrets/) and appended to the pack, so that
memory holds one file at a time (or a batch of small files, about 256 KB, waiting for their
secret scan). Every file left out is recorded with a reason (skips.py). A large directory is
loaded by two processes at once, with the same result (parallel.py). A single file or stdin
is a pack with one entry; there only the total cap applies, and a file that cannot be used is
an error rather than a skip.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from rlm_tui.config import DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_TOTAL_SIZE
from rlm_tui.context import parallel
from rlm_tui.context.directory import MASK_BATCH_BYTES, DirectoryLoad, FileOptions, load_files
from rlm_tui.context.files import (
    BinaryFile,
    NotRegularFile,
    is_binary,
    is_binary_name,
    kind_of_special,
    read_regular_file,
)
from rlm_tui.context.listing import FileListing, list_files
from rlm_tui.context.pack import ContextPack, PackMode, PackWriter
from rlm_tui.context.prepared_text import PreparedText, count_chars, prepare_text
from rlm_tui.context.secrets import is_secret_file, prefilter_database, prefilter_runs
from rlm_tui.context.skips import SkippedFile
from rlm_tui.errors import InputError

if TYPE_CHECKING:
    from rlm_tui.config import Settings

STDIN = "-"
STDIN_NAME = "<stdin>"

# bench/bench_context.py takes these from here to time the per-file passes alone (with
# MASK_BATCH_BYTES, count_chars and is_binary_name, imported above for it).
_read_regular_file, _Binary = read_regular_file, BinaryFile


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

    @property
    def file_options(self) -> FileOptions:
        """What loading each file obeys: these options less the filters."""
        return FileOptions(self.include_secrets, self.max_file_size, self.max_total_size)


def _describe_nothing_loaded(skipped: Iterable[SkippedFile], ignored: Counter[str]) -> str:
    reasons = Counter(str(s.reason) for s in skipped)
    parts = [f"{n:,} {reason}" for reason, n in reasons.most_common()]
    if ignored:
        parts.append(f"{sum(ignored.values()):,} ignored")
    return ", ".join(parts)


def _load_listing(
    listing: FileListing,
    writer: PackWriter,
    options: LoadOptions,
    helper: parallel.Helper | None,
) -> list[SkippedFile]:
    """`load_files`, with the helper (if any) taking chunks from the back of a large
    listing."""
    files = options.file_options
    if helper is None or len(listing.files) < parallel.MIN_FILES:
        return load_files(listing, writer, files)
    size = parallel.CHUNK_FILES
    chunks = [listing.files[i : i + size] for i in range(0, len(listing.files), size)]
    prefilter = None if options.include_secrets else prefilter_database()
    plan = parallel.LoadPlan(str(listing.root), chunks, listing.regular, files, prefilter)
    if not writer.share() or not helper.give(plan):
        return load_files(listing, writer, files)
    load = DirectoryLoad(listing, writer, files)
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
        if part is None or not load.adopt(part.rows, part.skipped, part.text_bytes):
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
        kind = kind_of_special(info.st_mode)
        raise InputError(f"{shown} is a {kind}, not a regular file or directory")
    name = path.name
    if not options.include_secrets and is_secret_file(name):
        raise InputError(f"{shown} looks like a secrets file; pass --include-secrets to load it")
    try:
        data = read_regular_file(os.path.realpath(path), options.max_total_size, sniff=False)
    except NotRegularFile:
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
