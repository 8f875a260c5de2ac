"""Huge single texts are handled a window at a time, with the same results as whole."""

from __future__ import annotations

from rlm_tui.context.prepared_text import prepare_text
from rlm_tui.context.windows import WINDOW_BYTES, line_windows


def test_windows_end_after_newlines_and_cover_everything():
    data = b"aaaa\nbb\ncccccc\nd"
    windows = list(line_windows(data, 0, len(data), size=3))
    assert windows == [(0, 5), (5, 15), (15, 16)]  # at least 3 bytes, then to a newline
    assert b"".join(data[a:b] for a, b in windows) == data
    assert list(line_windows(data, 5, 8, size=100)) == [(5, 8)]
    assert list(line_windows(b"", 0, 0)) == []


def test_a_text_larger_than_a_window_is_counted_cleaned_and_masked_as_a_whole():
    line = "naïve café line with ünïcödé text in it, long enough\n".encode()
    bad = b"caf\xe9 latin-1 byte\n"
    key = b"secret = 'Zx81kPq02LmQ7'\n"
    data = line * (WINDOW_BYTES // len(line)) + bad + key + line * 1000
    prepared = prepare_text(data)
    text = prepared.text.decode("utf-8")
    assert prepared.flags == ("non-utf8", "secrets-masked")
    assert prepared.chars == len(text)
    assert "caf\ufffd latin-1 byte\n" in text
    assert "secret = '[REDACTED:secret]'\n" in text
    assert text.count("naïve café") == WINDOW_BYTES // len(line) + 1000
