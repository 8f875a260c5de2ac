"""How rlm-tui writes numbers, everywhere: tokens, cost, sizes, durations, counts. The app and
the progress line use the short forms ('12.3k', '0.8s'), exports the long ones ('12,345 in /
678 out', '0.80 s'); an unknown cost is said the same way in each."""

from __future__ import annotations

from rlm_tui.events import Usage

# A token is about four characters of English or code: the estimate shown beside files.
CHARS_PER_TOKEN = 4


def format_tokens(n: int, *, estimated: bool = False) -> str:
    """'812', '12.3k', '1.2M'; '~12.3k' when (some of) the count is estimated."""
    mark = "~" if estimated else ""
    if n >= 1_000_000:
        return f"{mark}{n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"{mark}{n / 1_000:.1f}k"
    return f"{mark}{n}"


def format_token_counts(usage: Usage) -> str:
    """'12,345 in / 678 out', '12,345 in (10,240 cached) / 678 out' when the provider read
    some from its prompt cache, '~12,345 in / ~678 out (estimated)' when a server reported
    none for some call (see lm/completion.py for the rule)."""
    cache = []
    if usage.cached_tokens:
        cache.append(f"{usage.cached_tokens:,} cached")
    if usage.cache_write_tokens:
        cache.append(f"{usage.cache_write_tokens:,} written to cache")
    cached = f" ({', '.join(cache)})" if cache else ""
    if usage.reported:
        return f"{usage.prompt_tokens:,} in{cached} / {usage.completion_tokens:,} out"
    return f"~{usage.prompt_tokens:,} in{cached} / ~{usage.completion_tokens:,} out (estimated)"


def format_cached_share(usage: Usage) -> str:
    """'85% cached': the part of the prompt tokens read from the provider's cache; '' when
    none was (short, for the status bar and the Calls pane)."""
    if not usage.cached_tokens or not usage.prompt_tokens:
        return ""
    return f"{min(100, round(100 * usage.cached_share))}% cached"


def estimate_tokens(chars: int) -> str:
    """'~3.1k': the token estimate for `chars` characters."""
    return "~" + format_tokens(max(0, chars) // CHARS_PER_TOKEN)


def format_cost(usage: Usage, *, known: bool = True) -> str:
    """'$0.0123'; 'cost unknown' when no call had a price (or `known` is False: a model of
    the run has none, before any priced call); '$0.0123 + 2 unpriced' when some had none
    (their cost is unknown, not zero)."""
    if not usage.cost_known or not known:
        return "cost unknown"
    text = f"${usage.cost_usd or 0.0:,.4f}"
    if usage.unpriced_calls:
        text += f" + {usage.unpriced_calls:,} unpriced"
    return text


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


def format_duration(seconds: float) -> str:
    """Short: '0.8s', '12s', '3m05s', '1h02m'."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_seconds(value: float | None) -> str:
    """Long, for documents: '0.80 s', '42.5 s', '3 min 05 s'; '—' when unknown."""
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{minutes} min {rest:02d} s"


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


def count_of(count: int, noun: str) -> str:
    """'1 file', '2,040 files'."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
