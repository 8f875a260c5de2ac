"""Backoff and Retry-After parsing."""

from datetime import datetime, timezone

import pytest

from rlm_tui.lm import RetryPolicy, parse_retry_after
from rlm_tui.lm.retry import retry_after_from_headers

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("value", "seconds"), [
    ("5", 5.0), ("0", 0.0), ("1.5", 1.5), (" 7 ", 7.0), ("-3", 0.0),
])
def test_retry_after_in_seconds(value, seconds):
    assert parse_retry_after(value) == seconds


def test_retry_after_as_an_http_date_counts_from_now():
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=NOW) == 30.0


def test_retry_after_as_a_date_in_the_past_means_now():
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "Thu, 99 Foo 2026"])
def test_unreadable_retry_after_is_none(value):
    assert parse_retry_after(value) is None


def test_retry_after_ms_takes_precedence_and_headers_are_case_insensitive():
    assert retry_after_from_headers({"Retry-After-Ms": "250", "Retry-After": "9"}) == 0.25
    assert retry_after_from_headers({"RETRY-AFTER": "9"}) == 9.0
    assert retry_after_from_headers({}) is None
    assert retry_after_from_headers(None) is None


def test_backoff_doubles_up_to_the_cap_without_jitter():
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.0)

    assert [policy.delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_only_ever_shortens_the_wait_and_by_at_most_its_fraction():
    longest = RetryPolicy(base_delay=2.0, jitter=0.5, random=lambda: 0.0)
    shortest = RetryPolicy(base_delay=2.0, jitter=0.5, random=lambda: 1.0)

    assert longest.delay(0) == 2.0
    assert shortest.delay(0) == 1.0


def test_retry_after_is_used_as_given_up_to_its_cap():
    policy = RetryPolicy(base_delay=1.0, retry_after_cap=60.0)

    assert policy.delay(0, retry_after=12.0) == 12.0
    assert policy.delay(3, retry_after=0.0) == 0.0
    assert policy.delay(0, retry_after=3600.0) == 60.0
