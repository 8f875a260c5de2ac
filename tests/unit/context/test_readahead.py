"""A load from a cold page cache asks for the files ahead of the one it reads; a warm one
barely notices; the pack is the same either way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlm_tui.context import readahead
from rlm_tui.context.directory import read_ahead
from rlm_tui.context.loader import LoadOptions
from rlm_tui.context.readahead import AHEAD, PROBE_EVERY, ReadAhead

from .conftest import write

pytestmark = pytest.mark.skipif(
    not hasattr(os, "RWF_NOWAIT"), reason="no reads that may not wait here"
)


def make_files(root: Path, count: int) -> list[str]:
    names = [f"f{i:03}.txt" for i in range(count)]
    write(root, {name: f"line {name}\n" * 50 for name in names})
    return names


def drop_from_page_cache(root: Path, names: list[str]) -> None:
    for name in names:
        fd = os.open(root / name, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages are not dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def cold(root: Path, name: str) -> bool:
    fd = os.open(root / name, os.O_RDONLY)
    try:
        os.preadv(fd, [bytearray(1)], 0, os.RWF_NOWAIT)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@pytest.fixture
def asked(monkeypatch) -> list[int]:
    """The file descriptors posix_fadvise(WILLNEED) was called on."""
    calls: list[int] = []
    advise = os.posix_fadvise

    def spy(fd: int, offset: int, length: int, advice: int) -> None:
        if advice == os.POSIX_FADV_WILLNEED:
            calls.append(fd)
        advise(fd, offset, length, advice)

    monkeypatch.setattr(readahead.os, "posix_fadvise", spy)
    return calls


@pytest.fixture
def all_cold(monkeypatch) -> None:
    """Every probe finds its file out of the page cache, as on a slow disk.

    On a fast one a probe's own read can complete before the probe looks, so that a file
    dropped from the cache is found in it (about one probe in a hundred, here): the tests of
    what follows a cold probe do not leave that to the disk."""

    real = os.preadv

    def preadv(fd: int, buffers: list[bytearray], offset: int, flags: int = 0) -> int:
        if flags & os.RWF_NOWAIT:
            raise BlockingIOError
        return real(fd, buffers, offset, flags)

    monkeypatch.setattr(readahead.os, "preadv", preadv)


def test_a_cold_probe_makes_the_reader_ask_for_the_files_ahead(tmp_path: Path, asked, all_cold):
    names = make_files(tmp_path, 200)
    ahead = ReadAhead(str(tmp_path), names, lambda name: True)
    for _ in range(PROBE_EVERY - AHEAD):
        ahead.advance()
    assert asked == []  # nothing probed yet
    ahead.advance()  # probes the file at PROBE_EVERY: cold
    for _ in range(20):
        ahead.advance()  # each asks for the file AHEAD of it
    assert len(asked) == 21


def test_files_dropped_from_the_page_cache_are_found_cold(tmp_path: Path, asked):
    names = make_files(tmp_path, 200)
    for _ in range(3):  # a fast disk may complete a probe's read (see all_cold): a few tries
        asked.clear()
        drop_from_page_cache(tmp_path, names)
        if not cold(tmp_path, names[-1]):  # a probe may start reading the file: not one used
            pytest.skip("this file system keeps the pages")
        ahead = ReadAhead(str(tmp_path), names, lambda name: True)
        for _ in range(PROBE_EVERY - AHEAD + 21):
            ahead.advance()
        if len(asked) >= 15:  # of the 21 files probed
            return
    pytest.fail(f"{len(asked)} of 21 files dropped from the page cache were asked for")


def test_a_warm_cache_is_only_probed(tmp_path: Path, asked):
    names = make_files(tmp_path, 300)
    for name in names:
        (tmp_path / name).read_bytes()
    ahead = ReadAhead(str(tmp_path), names, lambda name: True)
    for _ in names:
        ahead.advance()
    assert asked == []


def test_files_the_load_would_not_open_are_not_opened_ahead(
    tmp_path: Path, monkeypatch, all_cold
):
    names = make_files(tmp_path, 100)
    write(tmp_path, {".env": "KEY=1\n"})
    (tmp_path / "link.txt").symlink_to(tmp_path / names[0])
    opened: list[str] = []
    real_open = os.open
    monkeypatch.setattr(
        readahead.os, "open", lambda path, *args: opened.append(str(path)) or real_open(path, *args)
    )
    # Cold from the first probe on, so that every file after it is asked for.
    order = [*names[: PROBE_EVERY + 5], ".env", "link.txt", *names[PROBE_EVERY + 5 :]]
    ahead = read_ahead(str(tmp_path), order, set(names), LoadOptions().file_options)
    for _ in order:
        ahead.advance()
    assert len(opened) > 10
    assert not any(path.endswith((".env", "link.txt")) for path in opened)


def test_a_cold_load_gives_the_same_pack_as_a_warm_one(tmp_path: Path, load):
    names = make_files(tmp_path / "tree", 300)
    warm = load(tmp_path / "tree")
    drop_from_page_cache(tmp_path / "tree", names)
    again = load(tmp_path / "tree")
    assert again.blob_path.read_bytes() == warm.blob_path.read_bytes()
    assert again.index_path.read_bytes() == warm.index_path.read_bytes()
