"""How the app draws small things that are not numbers (numbers: rlm_tui/units.py)."""

from __future__ import annotations

BAR_CELLS = 5


def bar(fraction: float, cells: int = BAR_CELLS) -> str:
    """A small bar: '▰▰▱▱▱' for 40%; any non-zero fraction shows at least one cell."""
    fraction = min(1.0, max(0.0, fraction))
    full = round(fraction * cells)
    if fraction > 0 and full == 0:
        full = 1
    return "▰" * full + "▱" * (cells - full)


def shorten(text: str, width: int) -> str:
    """One line of at most `width` characters, with an ellipsis when cut."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"
