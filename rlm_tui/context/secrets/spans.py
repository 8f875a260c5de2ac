"""Where a secret lies in a text (a span), and texts masked together: joined into one, so that
each rule scans them in one pass, then told apart by where each begins."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

Span = tuple[int, int, str]  # start, end, kind of secret

# Texts masked together are joined by this: its newline ends a text's last line as the end
# of the text would, and NUL, in none of the rules' character classes, stops a match there.
JOINT = b"\n\0"


def text_of(starts: Sequence[int], position: int) -> int:
    """The index of the text, among those beginning at `starts`, that holds `position`."""
    return bisect_right(starts, position) - 1


def end_of(data: bytes, starts: Sequence[int], index: int) -> int:
    """Where text `index` of `data` ends (before the joint that follows it)."""
    return starts[index + 1] - len(JOINT) if index + 1 < len(starts) else len(data)
