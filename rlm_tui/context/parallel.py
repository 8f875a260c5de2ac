"""Loading a large directory in two processes: this one takes chunks of the listing from the
front, a helper process takes them from the back, and they meet in the middle. Used when a
core is idle for it.

Reading, decoding and scanning files for secrets is Python work that one process does on one
core (`re` holds the GIL, and so does each system call's wrapper), so a second core helps
only through a second process. Each chunk is claimed by creating a file (O_EXCL), so that no
chunk is taken twice. The helper loads each chunk it takes with the same per-file code and no
total cap (it cannot know what comes before), writing the texts into the pack's own blob as
this process does (each batch whole, under a lock: see PackWriter.part), and the entries
into a small file; this process then adds those entries to the index, in path order, unless
the total cap is near, where it loads those files itself so that the cap sees exact sizes
(the helper's copy of their texts is blanked when the pack is finished). If the helper fails
in any way, this process loads whatever it did not deliver. Masks, skips, texts and index
are the same as from one process; only the order of the texts in the blob differs.

The helper runs `main()` here with WORK_DIR, in an isolated interpreter given this process's
path (see child_python.py: the directory loaded may hold a `pickle.py`), started while this
process lists the directory; told "go" on its stdin, it reads its plan (a pickle written by this
process, which alone writes it) from WORK_DIR, and prints each chunk's number once that
chunk's texts are in the blob and its entries in its part file.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from rlm_tui.child_python import boot_code, child_paths
from rlm_tui.context import cores
from rlm_tui.context.directory import FileOptions, load_files, read_ahead
from rlm_tui.context.listing import FileListing
from rlm_tui.context.pack import PackWriter
from rlm_tui.context.secrets import adopt_prefilter_database
from rlm_tui.context.skips import SkippedFile, SkipReason

# Below this many files a load takes well under a second, less than a helper costs to start.
MIN_FILES = 4000
CHUNK_FILES = 200  # small enough that the last chunk waited for is short
_PLAN_NAME = "plan.pickle"
_HELPER_MAIN = "from rlm_tui.context.parallel import main; main()"


class Part(NamedTuple):
    """A chunk loaded by the helper, to be adopted (see PackWriter.adopt)."""

    rows: list[tuple[Any, ...]]  # its entries, as PackEntry fields (offsets in the blob)
    skipped: list[SkippedFile]
    text_bytes: int


@dataclass(frozen=True)
class LoadPlan:
    """What the helper needs: the directory, the chunks of its listing, and how to load."""

    root: str
    chunks: list[list[str]]
    regular: set[str]  # files the walk saw as regular (see FileListing.regular)
    options: FileOptions
    prefilter: bytes | None = None  # masking's patterns, compiled (secrets.prefilter_database)


class Helper:
    """The helper process and its work directory, from this process's side."""

    def __init__(self, process: subprocess.Popen[bytes], work_dir: Path) -> None:
        self._process = process
        self._work_dir = work_dir
        self._delivered: set[int] = set()
        self._finished = False  # its output ended: nothing more will be delivered
        self._closed = False

    @classmethod
    def start(cls, pack_dir: Path) -> Helper | None:
        """Start a helper, with a work directory inside `pack_dir`, to be given its plan once
        the listing is known (it starts meanwhile); None if no helper would help here: no
        core is spare for it (sharing one with this process, or with other busy processes,
        it only slows the load), or no interpreter to start. (A blob that cannot be locked
        is found out later: PackWriter.share.)"""
        if cores.spare_cores() < 1 or not sys.executable:
            return None
        work_dir = Path(tempfile.mkdtemp(prefix=".load-", dir=pack_dir))
        try:
            process = subprocess.Popen(
                # Isolated, with this process's path (see child_python.py), and without site:
                # half of the helper's start (about 50 ms of 100) went to site and the .pth
                # files it reads.
                [sys.executable, "-I", "-S", "-c", boot_code(child_paths(), _HELPER_MAIN),
                 str(work_dir)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=work_dir,
            )
        except OSError:
            shutil.rmtree(work_dir, ignore_errors=True)
            return None
        return cls(process, work_dir)

    def give(self, plan: LoadPlan) -> bool:
        """Hand the helper its plan; False if it is gone."""
        try:
            with open(self._work_dir / _PLAN_NAME, "xb") as stream:
                pickle.dump(plan, stream, protocol=pickle.HIGHEST_PROTOCOL)
            assert self._process.stdin is not None
            self._process.stdin.write(b"go\n")
            self._process.stdin.close()
        except OSError:  # BrokenPipeError among them
            return False
        return True

    def claim(self, index: int) -> bool:
        """Take chunk `index` for this process; False if the helper has it."""
        return _claim(self._work_dir, index)

    def part(self, index: int) -> Part | None:
        """Chunk `index` (which the helper claimed) as loaded by the helper, once it is
        complete; None if it never will be (the helper failed or stopped)."""
        while index not in self._delivered and not self._finished:
            assert self._process.stdout is not None
            line = self._process.stdout.readline()
            if not line:
                self._finished = True
            elif line.strip().isdigit():
                self._delivered.add(int(line))
        if index not in self._delivered:
            return None
        try:
            with open(_part_file(self._work_dir, index), "rb") as stream:
                rows, skipped = pickle.load(stream)
        except (OSError, pickle.UnpicklingError, ValueError, EOFError):
            return None
        return Part(
            rows,
            [SkippedFile(path, SkipReason(reason), detail) for path, reason, detail in skipped],
            sum(row[2] for row in rows),
        )

    def close(self) -> None:
        """Stop the helper if it still runs, and remove its work directory (once)."""
        if self._closed:
            return
        self._closed = True
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass  # a pipe to a process killed mid-write
        shutil.rmtree(self._work_dir, ignore_errors=True)


def _claim(work_dir: Path, index: int) -> bool:
    try:
        os.close(os.open(work_dir / f"claim-{index}", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def _part_file(work_dir: Path, index: int) -> Path:
    # A part's entries and skips; its texts are in the pack's blob.
    return work_dir / f"part-{index}.pickle"


def _run_helper(work_dir: Path) -> None:
    if sys.stdin.buffer.readline() != b"go\n":
        return  # no plan: the listing was small
    with open(work_dir / _PLAN_NAME, "rb") as stream:
        plan: LoadPlan = pickle.load(stream)
    adopt_prefilter_database(plan.prefilter)  # else compiled on first use, 50 ms later
    # No total cap here: the host checks it when it adds each chunk's entries.
    options = replace(plan.options, max_total_size=sys.maxsize)
    root = Path(plan.root)
    pack_dir = work_dir.parent  # see Helper.start
    # The order the helper takes files in: chunk by chunk from the back.
    order = [path for chunk in reversed(plan.chunks) for path in chunk]
    ahead = read_ahead(plan.root, order, plan.regular, options)
    for index in reversed(range(len(plan.chunks))):
        if not _claim(work_dir, index):
            return  # the host has it, and every chunk before it
        chunk = plan.chunks[index]
        listing = FileListing(root, "walk", chunk, regular=plan.regular.intersection(chunk))
        with PackWriter.part(pack_dir) as writer:
            skipped = load_files(listing, writer, options, ahead)
            rows = writer.finish_part()
        with open(_part_file(work_dir, index), "wb") as stream:
            skips = [(s.path, s.reason.value, s.detail) for s in skipped]
            pickle.dump((rows, skips), stream, protocol=pickle.HIGHEST_PROTOCOL)
        print(index, flush=True)


def main() -> None:
    """The helper process: `python -I -S -c BOOT WORK_DIR` (see Helper.start)."""
    _run_helper(Path(sys.argv[1]))
