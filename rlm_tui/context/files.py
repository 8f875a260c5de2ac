"""One listed file on disk: whether it is binary (by its name, or its first bytes), where to
read it from and why not (symlinks, special files, secret files), and its content, read so
that nothing swapped in since the listing blocks or escapes the load."""

from __future__ import annotations

import errno
import os
import stat

from rlm_tui.context.secrets import is_secret_file
from rlm_tui.context.skips import SkippedFile, SkipReason

BINARY_SNIFF_BYTES = 8000  # as git does: a NUL byte in the first 8,000 bytes means binary
BINARY_BY_NAME = "by name"  # the detail of a file skipped as binary without being opened


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


class NotRegularFile(Exception):
    """The path turned into something other than a regular file between stat and open."""


class BinaryFile(Exception):
    """The file's first 8,000 bytes hold a NUL: it is binary, and the rest is not read."""


# The path is already resolved: O_NOFOLLOW refuses a symlink swapped in since.
_OPEN_FLAGS = (
    os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW | getattr(os, "O_NOCTTY", 0)
)


def read_regular_file(path: str, limit: int, sniff: bool = True) -> bytes | None:
    """The whole content of the regular file at the resolved `path` (no symlink in its last
    part), or None if it holds over `limit` bytes.

    Opened non-blocking and checked with fstat, so that a FIFO swapped in after the listing
    is refused rather than blocking the load. With `sniff`, raises BinaryFile after reading only
    the first 8,000 bytes of a binary file."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path)
        size = info.st_size
        if size > limit:
            return None
        head = b""
        if sniff and size > BINARY_SNIFF_BYTES:
            head = os.read(fd, BINARY_SNIFF_BYTES)
            if is_binary(head):
                raise BinaryFile(path)
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


def kind_of_special(mode: int) -> str:
    """What a file that is not regular is, by its `mode`, as messages name it."""
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "not a regular file"


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def locate(
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
        return SkippedFile(relative, SkipReason.SPECIAL_FILE, kind_of_special(info.st_mode))
    return path, info.st_size
