"""Every reason a file is left out, recorded with the file; and paths that cannot be loaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlm_tui.context import directory, files, loader
from rlm_tui.errors import InputError

from .conftest import write


def reasons(pack) -> dict[str, str]:
    return {item.path: str(item.reason) for item in pack.skipped}


def test_binary_files_are_skipped_by_a_nul_in_the_first_8000_bytes(tmp_path: Path, load):
    write(
        tmp_path,
        {
            "a.txt": "text\n",
            "image.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "late-nul.txt": b"x" * 9000 + b"\x00",  # past the sniffed prefix: text
            "big.bin": b"\x00" + b"y" * 100_000,  # only its first 8,000 bytes are read
        },
    )
    pack = load(tmp_path)
    assert reasons(pack) == {"big.bin": "binary", "image.png": "binary"}
    assert [e.path for e in pack.entries] == ["a.txt", "late-nul.txt"]


def test_files_named_as_binary_formats_are_skipped_without_being_opened(
    tmp_path: Path, load, monkeypatch
):
    write(
        tmp_path,
        {
            "a.py": "x = 1\n",
            "__pycache__/a.cpython-311.pyc": b"\xa7\r\r\n\x00\x00\x00\x00",
            "logo.PNG": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            # Named by a suffix that is not always binary: the content decides.
            "libc.so": "/* GNU ld script */\nGROUP ( libc.so.6 )\n",
            "notes.txt": "plain\n",
            # A text file misnamed as an image is left out by its name too: the price of
            # never opening the (far more common) real ones.
            "misnamed.png": "not an image\n",
        },
    )
    opened: list[str] = []
    real_open = os.open

    def spy(path, *args, **kwargs):
        opened.append(os.fsdecode(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    pack = load(tmp_path)
    assert reasons(pack) == {
        "__pycache__/a.cpython-311.pyc": "binary",
        "logo.PNG": "binary",
        "misnamed.png": "binary",
    }
    assert {item.detail for item in pack.skipped} == {files.BINARY_BY_NAME}
    assert [e.path for e in pack.entries] == ["a.py", "libc.so", "notes.txt"]
    assert not [p for p in opened if p.endswith((".pyc", ".PNG", ".png"))]


def test_a_single_file_named_as_a_binary_format_is_judged_by_its_content(tmp_path, load):
    write(tmp_path, {"diagram.png": "text after all\n"})
    pack = load(tmp_path / "diagram.png")
    assert pack.entries[0].path == "diagram.png"


def test_files_over_the_per_file_cap_are_skipped(tmp_path: Path, load):
    write(tmp_path, {"small.txt": "s\n", "big.txt": "b" * 2000})
    pack = load(tmp_path, max_file_size=1000)
    assert reasons(pack) == {"big.txt": "too large"}
    assert pack.skipped[0].detail == "2,000 bytes"


def test_files_past_the_total_cap_are_skipped_in_path_order(tmp_path: Path, load):
    write(tmp_path, {"a.txt": "a" * 400, "b.txt": "b" * 400, "c.txt": "c" * 400, "d.txt": "d"})
    pack = load(tmp_path, max_total_size=1000)
    assert [e.path for e in pack.entries] == ["a.txt", "b.txt"]
    # Once the pack is full, later files are not tried, however small.
    assert reasons(pack) == {"c.txt": "over total cap", "d.txt": "over total cap"}
    assert pack.total_bytes <= 1000


def test_symlinks_leaving_the_root_are_skipped(tmp_path: Path, load):
    outside = tmp_path / "outside"
    write(outside, {"secret-notes.txt": "outside the root\n"})
    root = tmp_path / "root"
    write(root, {"a.txt": "a\n", "inside.txt": "inside\n"})
    (root / "out-file").symlink_to(outside / "secret-notes.txt")
    (root / "out-dir").symlink_to(outside)
    (root / "in-link").symlink_to(root / "inside.txt")
    pack = load(root)
    assert reasons(pack) == {"out-dir": "symlink outside root", "out-file": "symlink outside root"}
    # A link to a file inside the root is read, under the link's path.
    assert pack.read_text("in-link") == "inside\n"


def test_symlink_loops_are_skipped(tmp_path: Path, load):
    write(tmp_path, {"a.txt": "a\n", "sub/b.txt": "b\n"})
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    (tmp_path / "sub" / "up").symlink_to(tmp_path)  # a directory that holds the link
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    (tmp_path / "sub-again").symlink_to(tmp_path / "sub")
    pack = load(tmp_path)
    assert reasons(pack) == {
        "dangling": "broken symlink",
        "loop1": "symlink loop",
        "loop2": "symlink loop",
        "sub-again": "symlink to directory",
        "sub/up": "symlink loop",
    }
    assert [e.path for e in pack.entries] == ["a.txt", "sub/b.txt"]


def test_fifos_are_skipped_without_being_opened(tmp_path: Path, load):
    write(tmp_path, {"a.txt": "a\n"})
    os.mkfifo(tmp_path / "pipe")
    pack = load(tmp_path)  # would hang forever if the FIFO were opened for reading
    assert reasons(pack) == {"pipe": "special file"}
    assert pack.skipped[0].detail == "FIFO"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_files_are_skipped_by_permission(tmp_path: Path, load):
    write(tmp_path, {"a.txt": "a\n", "locked.txt": "l\n"})
    (tmp_path / "locked.txt").chmod(0)
    try:
        assert reasons(load(tmp_path)) == {"locked.txt": "unreadable"}
    finally:
        (tmp_path / "locked.txt").chmod(0o644)


def test_unreadable_files_are_skipped_when_reading_fails(tmp_path: Path, load, monkeypatch):
    # Works as root too: the read itself fails, as it would for EACCES or EIO.
    write(tmp_path, {"a.txt": "a\n", "broken.txt": "b\n"})
    real_read = directory.read_regular_file

    def failing_read(path: str, limit: int, sniff: bool = True) -> bytes | None:
        if path.endswith("broken.txt"):
            raise PermissionError(13, "Permission denied")
        return real_read(path, limit, sniff)

    monkeypatch.setattr(directory, "read_regular_file", failing_read)
    pack = load(tmp_path)
    assert reasons(pack) == {"broken.txt": "unreadable"}
    assert pack.skipped[0].detail == "Permission denied"


def test_text_that_is_not_utf8_is_kept_with_replacement_and_flagged(tmp_path: Path, load):
    write(tmp_path, {"latin1.txt": "café\n".encode("latin-1"), "ok.txt": "naïve\n"})
    pack = load(tmp_path)
    latin1, ok = pack.entries
    assert latin1.flags == ("non-utf8",)
    assert pack.read_text("latin1.txt") == "caf\ufffd\n"
    assert ok.flags == ()
    assert pack.read_text("ok.txt") == "naïve\n"
    assert ok.chars == 6 and ok.size == 7


def test_missing_path_is_an_input_error(tmp_path: Path, load):
    with pytest.raises(InputError, match="no such file or directory"):
        load(tmp_path / "nope")


def test_fifo_as_the_source_is_an_input_error(tmp_path: Path, load):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match="is a FIFO"):
        load(tmp_path / "pipe")


def test_empty_directory_is_an_input_error(tmp_path: Path, load):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="is an empty directory"):
        load(tmp_path / "empty")


def test_directory_with_nothing_left_after_filtering_is_an_input_error(tmp_path: Path, load):
    write(tmp_path, {"a.png": b"\x00\x01", ".gitignore": "*.log\n", "b.log": "x\n"})
    with pytest.raises(InputError, match=r"no text file left to load \(1 binary, 2 ignored\)"):
        load(tmp_path, exclude=(".gitignore",))


def test_single_file_is_a_text_pack_with_one_entry(tmp_path: Path, load):
    write(tmp_path, {"notes.md": "# Notes\nline two\n"})
    pack = load(tmp_path / "notes.md")
    assert pack.kind == "text" and pack.mode == "file"
    assert [(e.path, e.lines, e.chars) for e in pack.entries] == [("notes.md", 2, 17)]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"\x00\x01\x02", "holds binary data")],
)
def test_single_file_that_is_empty_or_binary_is_an_input_error(tmp_path, load, content, message):
    (tmp_path / "f").write_bytes(content)
    with pytest.raises(InputError, match=message):
        load(tmp_path / "f")


def test_single_file_over_the_total_cap_is_an_input_error(tmp_path: Path, load):
    (tmp_path / "f.txt").write_text("x" * 100)
    with pytest.raises(InputError, match="larger than the total cap"):
        load(tmp_path / "f.txt", max_total_size=50)
    # The per-file cap does not apply to a single file.
    assert load(tmp_path / "f.txt", max_file_size=10).entries[0].size == 100


def test_stdin_is_a_text_pack(tmp_path: Path, pack_dirs):
    import io

    pack = loader.load_context("-", pack_dirs(), stdin=io.BytesIO(b"from a pipe\n"))
    assert (pack.kind, pack.mode, pack.source) == ("text", "stdin", "<stdin>")
    assert pack.read_text("<stdin>") == "from a pipe\n"
