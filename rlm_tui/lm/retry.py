"""When to try a failed call again: exponential backoff with jitter, and `Retry-After`."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before each retry.

    Without a `Retry-After`, retry `n` (0-based) waits `min(max_delay, base_delay * 2**n)`,
    less up to `jitter` of it at random so that concurrent calls spread out. A server's
    `Retry-After` is honoured as given, up to `retry_after_cap` seconds. Tests pass tiny
    delays; `random` can be fixed for deterministic waits.
    """

    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.5
    retry_after_cap: float = 60.0
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def delay(self, retry_index: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry_index` (0 for the first retry)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_cap))
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** max(0, retry_index)))
        return max(0.0, ceiling * (1.0 - self.jitter * self.random()))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delay-seconds or an HTTP date.

    Returns None when the value is missing or unreadable; a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is unreadable
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def retry_after_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """The wait a response's headers ask for: `retry-after-ms` (OpenAI) or `Retry-After`."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    return parse_retry_after(lowered.get("retry-after"))
