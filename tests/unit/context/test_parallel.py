"""A large directory is loaded by two processes at once: the same texts, index and manifest as
from one process (only where each text lies in the blob differs)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from rlm_tui.context import cores, parallel
from rlm_tui.context.multiscan import MultiScanner
from rlm_tui.context.pack import PackWriter
from rlm_tui.context.secrets.prefilter import PATTERNS

from .conftest import write

OPENAI_KEY = "sk-proj-" + "Xy7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Kg0Ps"


def tree(root: Path) -> None:
    files: dict[str, str | bytes] = {}
    for i in range(40):
        files[f"src/m{i:02}.py"] = f"x = {i}\n" * (i + 1)
        files[f"keys/k{i:02}.py"] = f"password = 'Tr0ub4dor&{i:02}'\nkey = '{OPENAI_KEY}'\n"
    files.update(
        {
            "bin/blob.bin": b"\x00" * 9000,
            "big.txt": "b" * 3000,
            ".env": "A=1\n",
            "latin1.txt": "café\n".encode("latin-1"),
        }
    )
    write(root, files)
    (root / "link").symlink_to(root / "src" / "m00.py")
    (root / "outside").symlink_to("/")
    os.mkfifo(root / "pipe")


def snapshot(pack) -> tuple[list, dict, bytes]:
    """Everything the pack holds on disk, but where in the blob each text lies (two processes
    write their batches as they finish them): each file's text as read through the index,
    the index less its offsets, and the manifest."""
    index = json.loads(pack.index_path.read_bytes())
    offsets = index["files"].pop("offsets")
    blob = pack.blob_path.read_bytes()
    texts = [
        blob[offset : offset + size + 1]  # with the newline after it, which is in the blob
        for offset, size in zip(offsets, index["files"]["sizes"])
    ]
    return texts, index, (pack.directory / "context.manifest.json").read_bytes()


def texts_do_not_overlap(pack) -> bool:
    spans = sorted((e.offset, e.offset + e.size + 1) for e in pack.entries)
    return all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))


def outside_the_entries(pack) -> bytes:
    """The blob's bytes that no entry's text or separator covers."""
    blob = bytearray(pack.blob_path.read_bytes())
    for e in sorted(pack.entries, key=lambda e: e.offset, reverse=True):
        del blob[e.offset : e.offset + e.size + 1]
    return bytes(blob)


def force_a_helper(monkeypatch) -> None:
    """A helper for any listing, in chunks of 7 files, however busy the machine."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK_FILES", 7)
    monkeypatch.setattr(cores, "spare_cores", lambda: 2.0)


def let_the_helper_claim_first(monkeypatch, plans: list | None = None) -> list:
    """So small a tree would be loaded before the helper starts: each load waits, once it has
    given the helper its plan (kept in `plans`), until the helper claims a chunk. Returns the
    rows of each part adopted from the helper, as loads go on."""
    given = parallel.Helper.give

    def give_and_wait(helper, plan):
        if plans is not None:
            plans.append(plan)
        assert given(helper, plan)
        last = len(plan.chunks) - 1
        wait_until(lambda: (helper._work_dir / f"claim-{last}").exists())
        return True

    monkeypatch.setattr(parallel.Helper, "give", give_and_wait)
    adopted: list = []
    adopt = PackWriter.adopt
    monkeypatch.setattr(PackWriter, "adopt", lambda w, rows: adopted.append(rows) or adopt(w, rows))
    return adopted


def wait_until(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.mark.parametrize(
    "options",
    [
        {"max_file_size": 2000},
        {"max_file_size": 2000, "max_total_size": 2500},  # the cap falls in the helper's part
        {"max_file_size": 2000, "include_secrets": True},  # nothing masked: a helper still
    ],
)
def test_two_processes_load_the_same_texts_and_index_as_one(
    tmp_path: Path, load, monkeypatch, options
):
    tree(tmp_path)
    alone = load(tmp_path, **options)
    force_a_helper(monkeypatch)

    plans = []
    adopted = let_the_helper_claim_first(monkeypatch, plans)
    together = load(tmp_path, **options)
    # The helper is spared compiling masking's patterns: they come compiled.
    if options.get("include_secrets"):
        assert plans[0].prefilter is None
    else:
        assert plans[0].prefilter and MultiScanner(PATTERNS).adopt(plans[0].prefilter)
    assert snapshot(together) == snapshot(alone)
    assert texts_do_not_overlap(together)
    # Texts the cap refused are not left in the blob for model code to find.
    assert set(outside_the_entries(together)) <= {ord("\n")}
    assert b"Tr0ub4dor" not in outside_the_entries(together)
    if "max_total_size" not in options:
        assert adopted, "no chunk came from the helper"
        # The blob holds each text once, and nothing else.
        assert together.blob_path.stat().st_size == alone.blob_path.stat().st_size
    names = sorted(p.name for p in together.directory.iterdir())
    assert names == ["context.blob", "context.index.json", "context.manifest.json"]


def test_a_helper_that_fails_leaves_its_chunks_to_this_process(tmp_path: Path, load, monkeypatch):
    tree(tmp_path)
    alone = load(tmp_path, max_file_size=2000)
    force_a_helper(monkeypatch)
    given = parallel.Helper.give

    def give_and_kill(helper, plan):
        assert given(helper, plan)
        last = len(plan.chunks) - 1
        wait_until(lambda: (helper._work_dir / f"claim-{last}").exists())
        helper._process.kill()  # after it claimed a chunk, before it could deliver all
        return True

    monkeypatch.setattr(parallel.Helper, "give", give_and_kill)
    together = load(tmp_path, max_file_size=2000)
    assert snapshot(together) == snapshot(alone)
    assert set(outside_the_entries(together)) <= {ord("\n")}


def test_a_blob_that_cannot_be_locked_is_loaded_by_one_process(tmp_path: Path, load, monkeypatch):
    # An NFS mount without a lock service refuses flock: no helper then, and a load alone
    # takes no lock at all.
    import errno
    import fcntl

    tree(tmp_path)
    alone = load(tmp_path, max_file_size=2000)
    force_a_helper(monkeypatch)

    def refuse(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    gave = []
    monkeypatch.setattr(parallel.Helper, "give", lambda helper, plan: gave.append(plan) or True)
    assert snapshot(load(tmp_path, max_file_size=2000)) == snapshot(alone)
    assert gave == []




def test_the_helper_runs_no_module_of_the_directory_it_is_started_in(
    tmp_path: Path, load, monkeypatch
):
    # `rlm-tui .` in a repository that holds modules named as the standard library's: the
    # helper, started there, must import its own.
    tree(tmp_path / "repo")
    marker = tmp_path / "ran"
    for name in ("logging", "pickle", "json", "hashlib", "dataclasses", "pathlib", "enum"):
        write(tmp_path / "repo", {f"{name}.py": f"open({str(marker)!r}, 'a').write({name!r})\n"})
    monkeypatch.chdir(tmp_path / "repo")
    force_a_helper(monkeypatch)
    adopted = let_the_helper_claim_first(monkeypatch)
    pack = load(tmp_path / "repo", max_file_size=2000)
    assert adopted, "no chunk came from the helper"
    assert not marker.exists(), marker.read_text()
    assert "logging.py" in {entry.path for entry in pack.entries}
