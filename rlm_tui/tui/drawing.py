"""How the app writes sizes, token estimates, durations and fractions: short and aligned."""

from __future__ import annotations

from rlm_tui.progress import format_tokens

# A token is about four characters of English or code: the estimate shown beside files.
CHARS_PER_TOKEN = 4
BAR_CELLS = 5


def count_of(count: int, noun: str) -> str:
    """'1 file', '2,040 files'."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def format_bytes(n: int | float) -> str:
    """'812 B', '12.4 KB', '4.1 MB', '1.2 GB' (powers of 1024, as `ls -h` counts)."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - the loop always returns


def estimate_tokens(chars: int) -> str:
    """'~3.1k': the token estimate for `chars` characters."""
    return "~" + format_tokens(max(0, chars) // CHARS_PER_TOKEN)


def format_duration(seconds: float) -> str:
    """'0.8s', '12s', '3m05s', '1h02m'."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_clock(seconds: float) -> str:
    """Elapsed time as a clock: '00:42', '12:05', '1:02:03'."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_percent(fraction: float) -> str:
    """'40%', '<1%' for a small non-zero fraction, '100%'."""
    if 0 < fraction < 0.005:
        return "<1%"
    return f"{fraction * 100:.0f}%"


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
