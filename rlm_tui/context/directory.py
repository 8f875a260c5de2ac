"""The files of one listed directory going into a pack, one by one in the order given: each
judged (symlinks, special files, caps, binary), decoded, masked in batches and appended, with
every file left out recorded with a reason. The same code runs in the load's own process
(loader.py) and in its helper process (parallel.py).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rlm_tui.context import cores
from rlm_tui.context.files import (
    BINARY_BY_NAME,
    BinaryFile,
    NotRegularFile,
    is_binary,
    is_binary_name,
    locate,
    read_regular_file,
)
from rlm_tui.context.listing import FileListing
from rlm_tui.context.pack import PackWriter
from rlm_tui.context.prepared_text import PreparedText, decode, with_masks
from rlm_tui.context.readahead import ReadAhead
from rlm_tui.context.secrets import is_secret_file, mask_secrets, mask_secrets_many, prefilter_runs
from rlm_tui.context.skips import SkippedFile, SkipReason


@dataclass(frozen=True)
class FileOptions:
    """What loading each file obeys: LoadOptions less the filters, which choose the files.
    Its own type, as the helper process gets it pickled: loader.py (LoadOptions) imports the
    settings' module, and with it pydantic, about 140 ms the helper does not spend."""

    include_secrets: bool  # load secret files and leave secret-looking values as is
    max_file_size: int  # bytes; larger files are skipped
    max_total_size: int  # bytes of text in the whole pack


# Masking can lengthen a text: each value masked, 6 bytes at least, becomes
# "[REDACTED:<kind>]", 25 bytes at most; so a masked text is under 5 times as long.
_MASK_GROWTH = 5
# Texts are masked in batches of about this many bytes: one scan of each rule over a batch
# costs far less than one per small file, and a batch is small next to the pack.
MASK_BATCH_BYTES = 256 * 1024
_Masked = tuple[bytes, dict[str, int]]  # a text masked, and how many of each kind


class DirectoryLoad:
    """The files of one listed directory going into a pack, in path order.

    Far from the total cap, where no cap check can fail, two shortcuts apply: a file the walk
    saw as regular is opened without a stat first, and texts wait to be masked in batches.
    Near it, every file goes the careful way, one at a time, as the cap must see exact sizes.
    """

    def __init__(
        self,
        listing: FileListing,
        writer: PackWriter,
        options: FileOptions,
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

    def adopt(
        self, rows: list[tuple[Any, ...]], skipped: list[SkippedFile], text_bytes: int
    ) -> bool:
        """Append the next listed files as another process loaded them (without a total cap):
        their entries `rows` (see PackWriter.adopt), holding `text_bytes` of text, and their
        skips; False, with nothing done, if a cap check could fail on those files (the caller
        then loads them itself)."""
        self._flush()
        fits = self.writer.total_bytes + text_bytes + self.options.max_file_size
        if self.full or fits > self.options.max_total_size:
            return False
        self.writer.adopt(rows)
        self.skipped.extend(skipped)
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
                data = read_regular_file(f"{self.root}/{relative}", options.max_file_size)
            except BinaryFile:
                self._skip(relative, SkipReason.BINARY)
                return
            except (NotRegularFile, OSError):
                pass  # the careful way below finds out what it is, and why
        if data is None:
            data = self._read_carefully(relative)
            if data is None:
                return
        if is_binary(data):
            self._skip(relative, SkipReason.BINARY)
            return
        decoded = decode(data)
        if options.include_secrets:
            self._commit(relative, decoded)
        elif self._far_from_cap(_MASK_GROWTH * len(decoded.text)):
            self._waiting.append((relative, decoded))
            self._waiting_bytes += len(decoded.text)
            if self._waiting_bytes >= MASK_BATCH_BYTES:
                self._hand_off()
        else:
            self._flush()
            self._commit(relative, with_masks(decoded, *mask_secrets(decoded.text)))

    def _read_carefully(self, relative: str) -> bytes | None:
        """The file's content after a stat of its path, or None with the file skipped (or
        not, if it vanished)."""
        options = self.options
        located = locate(self.root, relative, options.include_secrets)
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
            data = read_regular_file(path, options.max_file_size)
        except NotRegularFile:
            self._skip(relative, SkipReason.SPECIAL_FILE, "not a regular file")
            return None
        except BinaryFile:
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
            self._commit(relative, with_masks(decoded, masked, counts))

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


def _background_masker(options: FileOptions) -> ThreadPoolExecutor | None:
    """A thread to mask batches in, where that helps: where Hyperscan does most of the work
    (with `re` alone, masking holds the GIL, and a thread would only wait for this one), and
    a core is spare for it now, beside this thread and a helper (which runs by then)."""
    if options.include_secrets or cores.spare_cores() < 1:
        return None
    if not prefilter_runs():
        return None
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="rlm-tui-mask")


def read_ahead(
    root: str, order: Sequence[str], regular: set[str], options: FileOptions
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
    options: FileOptions,
    ahead: ReadAhead | None = None,
) -> list[SkippedFile]:
    """Load the files of `listing` into `writer`, in one process; the files skipped.
    `ahead` reads ahead in the order files are taken, if that is not the listing's."""
    load = DirectoryLoad(listing, writer, options, ahead)
    load.add_files(listing.files)
    return load.finish()
