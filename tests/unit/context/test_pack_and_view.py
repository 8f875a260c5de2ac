"""The pack round trip and the worker's view: mapping API, order, read, grep, text, errors."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlm_tui.context.pack import ContextPack, PackWriter
from rlm_tui.context.view import ContextView, close_view, open_view, take_coverage

from .conftest import REPO_ROOT, write

FILES = {
    "b/second.py": "def second():\n    return 2\n",
    "a.txt": "alpha\nbeta\ngamma\n",
    "b/first.py": "import os\n\nvalue = os.sep  # héllo\n",
    "no-newline.md": "one\ntwo",
    "empty.txt": "",
    "crlf.ini": "[core]\r\nname = x\r\n",
    "uni/ça.txt": "naïve café — 日本語\nsecond line\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write(tmp_path, FILES)
    return tmp_path


@pytest.fixture
def view(repo: Path, load) -> ContextView:
    pack = load(repo)
    opened = open_view(str(pack.directory))
    assert isinstance(opened, ContextView)
    yield opened
    close_view(opened)


def test_every_files_text_round_trips_through_the_pack(repo: Path, load):
    pack = load(repo)
    assert [e.path for e in pack.entries] == sorted(FILES)
    for path, text in FILES.items():
        assert pack.read_text(path) == text
        entry = pack.entry(path)
        assert entry.chars == len(text)
        assert entry.size == len(text.encode("utf-8"))
        assert entry.lines == len(text.splitlines())
    reopened = ContextPack.open(pack.directory)
    assert reopened.entries == pack.entries
    assert reopened.mode == pack.mode and reopened.source == pack.source


def test_the_view_is_a_read_only_mapping_in_path_order(view: ContextView):
    assert list(view) == sorted(FILES)
    assert len(view) == len(FILES)
    assert view.files == sorted(FILES) and view.keys() == sorted(FILES)
    assert view.files is not view.files  # a fresh list each time
    assert "a.txt" in view and "nope" not in view and 3 not in view
    assert dict(view.items()) == FILES
    assert view.values() == [FILES[p] for p in sorted(FILES)]
    assert view["uni/ça.txt"] == FILES["uni/ça.txt"]
    assert view.get("missing.txt", "default") == "default"
    assert view.get("./a.txt") == FILES["a.txt"]  # a leading ./ is forgiven
    with pytest.raises(TypeError):
        view["a.txt"] = "changed"  # type: ignore[index]
    with pytest.raises(AttributeError):
        view.files = []  # type: ignore[misc]


def test_unknown_paths_raise_key_error_with_close_matches(view: ContextView):
    with pytest.raises(KeyError, match=r"did you mean 'b/first.py'\?"):
        view["first.py"]
    with pytest.raises(KeyError, match=r"did you mean 'b/second.py'\?"):
        view["b/secnd.py"]
    with pytest.raises(KeyError, match="context.files lists all 7 paths"):
        view.read("zzz", 1, 2)
    with pytest.raises(TypeError, match="file paths"):
        view[0]  # type: ignore[index]


def test_read_returns_the_asked_lines(view: ContextView):
    assert view.read("a.txt") == "alpha\nbeta\ngamma\n"
    assert view.read("a.txt", 2) == "beta\ngamma\n"
    assert view.read("a.txt", 2, 2) == "beta\n"
    assert view.read("a.txt", -1) == "gamma\n"
    assert view.read("a.txt", 0, 99) == "alpha\nbeta\ngamma\n"  # clamped
    assert view.read("a.txt", 3, 1) == ""
    assert view.read("no-newline.md", 2, 2) == "two"
    assert view.read("uni/ça.txt", 2) == "second line\n"
    assert view.read("empty.txt") == ""
    with pytest.raises(TypeError, match="start_line must be an int"):
        view.read("a.txt", "1")  # type: ignore[arg-type]


def test_grep_returns_path_line_and_text_per_matching_line(view: ContextView):
    assert view.grep(r"^def \w+") == [{"path": "b/second.py", "line": 1, "text": "def second():"}]
    assert view.grep("(ph|et)a$", paths="a.txt") == [
        {"path": "a.txt", "line": 1, "text": "alpha"},
        {"path": "a.txt", "line": 2, "text": "beta"},
    ]
    assert view.grep("ALPHA", ignore_case=True) == [{"path": "a.txt", "line": 1, "text": "alpha"}]
    # Non-ASCII text and patterns take the str path and agree with it.
    assert view.grep("café") == [
        {"path": "uni/ça.txt", "line": 1, "text": "naïve café — 日本語"}
    ]
    assert view.grep(r"h\w+o") == [
        {"path": "b/first.py", "line": 3, "text": "value = os.sep  # héllo"}
    ]
    assert view.grep("name", paths="*.ini") == [{"path": "crlf.ini", "line": 2, "text": "name = x"}]
    assert view.grep(r"^(beta|\s+return)|naïve", paths=["a.txt", "b/"]) == [
        {"path": "a.txt", "line": 2, "text": "beta"},
        {"path": "b/second.py", "line": 2, "text": "    return 2"},
    ]
    assert len(view.grep(".", max_matches=2)) == 2
    assert view.grep("two") == [{"path": "no-newline.md", "line": 2, "text": "two"}]
    assert view.grep("alpha", paths="nothing/*.py") == []  # a glob may match nothing
    with pytest.raises(KeyError, match="did you mean 'a.txt'"):
        view.grep("alpha", paths="a.tx")  # a plain path must exist
    with pytest.raises(ValueError, match="bad regex"):
        view.grep("(")


def test_grep_cuts_very_long_lines_around_the_match(tmp_path: Path, load):
    write(tmp_path, {"min.js": "x" * 5000 + "NEEDLE" + "y" * 5000 + "\n"})
    view = open_view(str(load(tmp_path).directory))
    [match] = view.grep("NEEDLE")
    assert "NEEDLE" in match["text"] and len(match["text"]) <= 402
    assert match["text"].startswith("…") and match["text"].endswith("…")


def test_text_holds_every_file_after_a_header_line(view: ContextView):
    text = view.text
    assert text.startswith("==> a.txt <==\nalpha\n")
    assert "==> no-newline.md <==\none\ntwo\n==> uni/ça.txt <==\n" in text
    assert text is view.text  # built once


def test_info_sizes_glob_and_repr(view: ContextView):
    assert view.info("uni/ça.txt") == {
        "path": "uni/ça.txt",
        "bytes": len(FILES["uni/ça.txt"].encode()),
        "chars": len(FILES["uni/ça.txt"]),
        "lines": 2,
        "language": "Text",
        "flags": [],
    }
    assert view.sizes()["a.txt"] == 17
    assert view.glob("b/*.py") == ["b/first.py", "b/second.py"]
    assert view.glob("*.txt") == ["a.txt", "empty.txt", "uni/ça.txt"]
    assert repr(view).startswith("<context: 7 files, ")
    assert "context.grep(pattern)" in str(view)


def test_a_single_file_pack_opens_as_a_plain_str(tmp_path: Path, load):
    write(tmp_path, {"notes.txt": "just text\n"})
    pack = load(tmp_path / "notes.txt")
    assert open_view(str(pack.directory)) == "just text\n"
    assert take_coverage("just text\n") == {"read": {}}


def test_a_pack_is_written_in_path_order_only(tmp_path: Path):
    with PackWriter(tmp_path / "p") as writer:
        writer.add("b", b"x", chars=1)
        with pytest.raises(ValueError, match="path order"):
            writer.add("a", b"y", chars=1)


def test_a_failed_write_leaves_no_pack(tmp_path: Path):
    with pytest.raises(RuntimeError):
        with PackWriter(tmp_path / "p") as writer:
            writer.add("a", b"x", chars=1)
            raise RuntimeError("boom")
    assert list((tmp_path / "p").iterdir()) == []


_PART_WRITER = """
import os, sys, time
from rlm_tui.context import pack
pack._BlobFile.FLUSH_BYTES = 4096  # many small batches, to interleave with the other's
writer = pack.PackWriter.part(sys.argv[1])
with writer:
    while not os.path.exists(sys.argv[2]):  # both start writing at once
        time.sleep(0.001)
    for i in range(3000):
        writer.add(f"z/{i:05}", (b"%05d:" % i) * (i % 700), chars=6 * (i % 700))
    rows = writer.finish_part()
print(repr(rows))
"""


def test_a_part_writer_in_another_process_shares_the_blob(tmp_path: Path, monkeypatch):
    # Both write many batches at once, each whole at the blob's end under a lock: every text
    # is where its entry says, however the batches fell.
    from rlm_tui.context import pack as pack_module

    monkeypatch.setattr(pack_module._BlobFile, "FLUSH_BYTES", 4096)
    directory = tmp_path / "p"
    go = tmp_path / "go"
    with PackWriter(directory) as writer:
        assert writer.share()
        other = subprocess.Popen(
            [sys.executable, "-c", _PART_WRITER, str(directory), str(go)],
            stdout=subprocess.PIPE, cwd=REPO_ROOT, text=True,
        )
        time.sleep(0.3)  # for the other to start and wait (were it late, still correct)
        go.touch()
        for i in range(3000):
            writer.add(f"a/{i:05}", (b"a%04d" % i) * (i % 700), chars=5 * (i % 700))
        rows, _ = other.communicate(timeout=60)
        assert other.returncode == 0
        writer.adopt(ast.literal_eval(rows))
        pack = writer.finish(mode="walk", source=str(tmp_path))
    assert writer.entry_count == 6000
    view = open_view(str(directory))
    assert view["a/00699"] == "a0699" * 699
    assert view["z/02099"] == "02099:" * (2099 % 700)
    for entry in pack.entries:
        stem = int(entry.path[2:])
        unit = b"a%04d" % stem if entry.path[0] == "a" else b"%05d:" % stem
        assert pack.read_text(entry.path).encode() == unit * (stem % 700)
    blob = pack.blob_path.read_bytes()
    assert len(blob) == sum(e.size + 1 for e in pack.entries)  # no text twice, no gap
    close_view(view)


def test_opening_a_view_is_fast_in_a_fresh_process(view: ContextView, repo: Path, load):
    pack = load(repo)
    code = (
        "import time; t = time.perf_counter();"
        "from rlm_tui.context.view import open_view;"
        f"v = open_view({str(pack.directory)!r}); print(time.perf_counter() - t);"
        "import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pathspec', 'pydantic', 'textual', 'litellm')))"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    total = time.perf_counter() - started
    seconds, heavy = done.stdout.splitlines()
    assert float(seconds) < 0.15
    assert heavy == "[]"  # the worker imports only the standard library for its context
    assert total < 5


def test_the_index_is_columns_not_rows(view: ContextView, repo: Path, load):
    pack = load(repo)
    index = json.loads(pack.index_path.read_text())
    assert set(index["files"]) >= {"paths", "offsets", "sizes", "chars", "lines"}
    assert index["kind"] == "files"


def test_a_full_disk_while_finishing_says_so_and_leaves_no_pack(tmp_path: Path, monkeypatch):
    import errno
    import os

    def full(fd, buffers):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as raised:
        with PackWriter(tmp_path / "p") as writer:
            writer.add("a", b"x", chars=1)
            monkeypatch.setattr(os, "writev", full)
            monkeypatch.setattr(os, "write", lambda fd, data: full(fd, [data]))
            writer.finish(mode="walk", source="a")
    assert raised.value.errno == errno.ENOSPC  # not a second close's EBADF
    assert list((tmp_path / "p").iterdir()) == []
