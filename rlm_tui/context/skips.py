"""Why a file was left out of a context, recorded per file so that the user can see it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SkipReason(StrEnum):
    """Why a file that passed the ignore rules and filters was not loaded."""

    BINARY = "binary"  # a NUL byte in the first 8,000 bytes, or named as a format with one
    TOO_LARGE = "too large"  # over the per-file cap
    OVER_TOTAL_CAP = "over total cap"  # the pack was full; files are taken in path order
    SECRET_FILE = "secret file"  # named like a file that holds secrets (see secrets/names.py)
    SYMLINK_OUTSIDE_ROOT = "symlink outside root"
    SYMLINK_LOOP = "symlink loop"  # a cycle, or a link to a directory that holds it
    BROKEN_SYMLINK = "broken symlink"
    SYMLINK_TO_DIRECTORY = "symlink to directory"  # not followed: its files are under the root
    SUBMODULE = "submodule"  # a git submodule or a nested repository
    SPECIAL_FILE = "special file"  # FIFO, socket or device: never opened
    UNREADABLE = "unreadable"  # permission denied or another read error


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file left out of the context: its path relative to the root, why, and any detail."""

    path: str
    reason: SkipReason
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": str(self.reason), "detail": self.detail}
