"""Measure context loading on a large real tree: load time against `cat`, peak memory against
the text loaded, the time to open a view in a fresh process, and grep/coverage costs.

    python bench/bench_context.py [PATH] [--runs N]

PATH defaults to the running Python's site-packages. Each load runs in a fresh process so that
its peak memory (ru_maxrss, after imports, plus a helper process's) is its own. A large tree
is loaded by two processes when secrets are masked and a core is idle (see
rlm_tui/context/parallel.py), so that load is timed both as it comes and in one process.
`cat` reads the very files the pack holds (xargs cat > /dev/null). Both are timed with a warm
page cache (a first load warms it; the headline) and with a cold one (each run is preceded by
dropping the tree's file pages with posix_fadvise(DONTNEED); directory entries stay cached,
and files mapped by running programs stay in memory). Runs alternate cat and the loads; each
figure is the best of --runs warm, and their median cold (a drop can miss pages). Last, each
pass over the text that a load must make (list, read, count lines, check UTF-8, mask, write)
is timed alone, warm, with nothing around it: half their sum is the floor of a load split
perfectly over two cores. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import stat
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

REPO = Path(__file__).resolve().parents[1]


def _child_load(source: str, pack_dir: str, include_secrets: bool, one_process: bool) -> None:
    from rlm_tui.context import parallel
    from rlm_tui.context.loader import LoadOptions
    from rlm_tui.context.sources import as_sources, load_sources

    if one_process:
        parallel.MIN_FILES = sys.maxsize
    helpers = []
    start = parallel.Helper.start.__func__  # type: ignore[attr-defined]
    parallel.Helper.start = classmethod(  # type: ignore[method-assign]
        lambda cls, *args: helpers.append(start(cls, *args)) or helpers[-1]
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    # As Workspace.open loads it: one path (load_context's pack), or a JSON list of several.
    given = json.loads(source) if source.startswith("[") else source
    options = LoadOptions(include_secrets=include_secrets)
    pack = load_sources(as_sources(given), pack_dir, options)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    if any(h is not None for h in helpers):
        # A helper's peak counts in full (the largest child: git's are far smaller).
        peak += resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_delta_bytes": peak * 1024,  # ru_maxrss is in KiB on Linux
                "text_bytes": pack.total_bytes,
                "files": len(pack.entries),
                "skipped": len(pack.skipped),
                "mode": pack.mode,
                "helper": any(h is not None for h in helpers),
            }
        )
    )


def _child_open(pack_dir: str) -> None:
    started = time.perf_counter()
    from rlm_tui.context.view import open_view

    view = open_view(pack_dir)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "files": len(view)}))


def _python(*args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout)


def _best(runs: int, action: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def _cat_names(pack_dir: Path, source: Path) -> bytes:
    """The paths of the files the pack holds, NUL-separated for xargs."""
    from rlm_tui.context.pack import ContextPack

    pack = ContextPack.open(pack_dir)
    return b"\0".join(os.fsencode(source / e.path) for e in pack.entries)


def _cat_seconds(names: bytes) -> float:
    """`cat` of the files named, via xargs, into /dev/null."""
    started = time.perf_counter()
    subprocess.run(["xargs", "-0", "cat"], input=names, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _drop_from_page_cache(source: Path) -> None:
    """Drop the cached pages of every regular file under `source` (not its directories)."""
    for directory, _, names in os.walk(source):
        for name in names:
            try:
                fd = os.open(os.path.join(directory, name), os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue  # a symlink, or unreadable
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _mask_batches(texts: Iterable[bytes]) -> list[list[bytes]]:
    """`texts` in the loader's batches for masking (about MASK_BATCH_BYTES each)."""
    from rlm_tui.context.loader import MASK_BATCH_BYTES

    batches: list[list[bytes]] = [[]]
    size = 0
    for text in texts:
        batches[-1].append(text)
        size += len(text)
        if size >= MASK_BATCH_BYTES:
            batches.append([])
            size = 0
    return batches


def _masking_rows(pack: Any) -> list[tuple[str, str, str]]:
    """Masking alone, over the pack's texts in the loader's batches: with Hyperscan finding
    the lines to check, and with `re` alone (where no hyperscan wheel installs)."""
    from rlm_tui.context import secrets

    blob = pack.blob_path.read_bytes()
    batches = _mask_batches(blob[e.offset : e.offset + e.size] for e in pack.entries)
    secrets.prefilter_runs(compile_now=True)
    fast, masks = _best(3, lambda: [secrets.mask_secrets_many(b) for b in batches])
    scanner, secrets._PREFILTER = secrets._PREFILTER, None
    try:
        slow, plain = _best(3, lambda: [secrets.mask_secrets_many(b) for b in batches])
    finally:
        secrets._PREFILTER = scanner
    same = "the same masks" if masks == plain else "DIFFERENT MASKS"
    text = f"{_mb(len(blob))} in {len(batches):,} batches"
    return [
        ("masking, Hyperscan + re on the lines it finds", f"{fast:.3f} s", f"{text}; {same}"),
        ("masking, re alone", f"{slow:.3f} s", f"{slow / fast:.1f}x the time"),
    ]


def _floor_rows(source: Path, cat: float, runs: int) -> list[tuple[str, str, str]]:
    """The passes over the text that a load cannot do without, each alone in one process,
    with no per-file work around them: list, read, count lines, check UTF-8, mask, write.
    Their sum over two cores is the least a load could take there, were it split perfectly
    and free of every other cost."""
    from rlm_tui.context import loader, secrets
    from rlm_tui.context.listing import list_files
    from rlm_tui.context.loader import count_chars, is_binary, is_binary_name
    from rlm_tui.context.pack import count_lines

    secrets.prefilter_runs(compile_now=True)
    timed: list[tuple[str, float]] = []
    seconds, listing = _best(runs, lambda: list_files(source))
    timed.append(("list", seconds))

    def read_all() -> list[bytes]:
        texts = []
        for relative in listing.files:
            if relative in listing.regular and is_binary_name(relative):
                continue
            try:  # as the load reads: the first 8,000 bytes of a large binary file only
                data = loader._read_regular_file(f"{listing.root}/{relative}", 2 * 1024 * 1024)
            except (loader._Binary, OSError):
                continue
            if data is not None and not is_binary(data):
                texts.append(data)
        return texts

    seconds, texts = _best(runs, read_all)
    timed.append(("read (open, fstat, read, close)", seconds))
    timed.append(("count lines", _best(runs, lambda: [count_lines(t) for t in texts])[0]))
    seconds, _ = _best(runs, lambda: [count_chars(t) for t in texts])
    timed.append(("check UTF-8, count characters", seconds))
    batches = _mask_batches(texts)
    masking = _best(runs, lambda: [secrets.mask_secrets_many(b) for b in batches])[0]
    timed.append(("mask (Hyperscan + re)", masking))

    def write_all() -> None:
        with tempfile.TemporaryFile() as blob:
            for first in range(0, len(texts), 500):
                os.writev(blob.fileno(), texts[first : first + 500])

    timed.append(("write the blob", _best(runs, write_all)[0]))
    rows = [(f"pass alone: {name}", f"{seconds:.3f} s", "") for name, seconds in timed]
    total = sum(seconds for _, seconds in timed)
    note = f"{total / 2 / cat:.2f}x cat: the least two cores could take, split perfectly"
    rows.append(("passes alone, summed", f"{total:.3f} s", f"{total / 2:.3f} s over two; {note}"))
    return rows


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default=sysconfig.get_paths()["purelib"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child-load", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--child-open", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_load:
        source, pack_dir, secrets, processes = args.child_load
        _child_load(source, pack_dir, secrets == "1", processes == "1")
        return
    if args.child_open:
        _child_open(args.child_open)
        return

    source = Path(args.path).resolve()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="rlm-bench-") as temp:
        temp_dir = Path(temp)

        def load(include_secrets: bool, pack_dir: Path, processes: str,
                 sources: str | None = None) -> dict[str, Any]:
            flag = str(int(include_secrets))
            given = sources or str(source)
            return _python("--child-load", given, str(pack_dir), flag, processes)

        # Several sources: this tree and one small file, as `rlm-tui run TREE FILE` loads
        # them (each loaded alone, then the tree's blob copied into the pack of both).
        two_sources = json.dumps([str(source), __file__])

        # The first load warms the page cache; its pack serves the later measures.
        pack_dir = temp_dir / "pack"
        first = load(False, pack_dir, "auto")
        masked = dict(first, dir=str(pack_dir))
        names = _cat_names(pack_dir, source)
        kinds = {  # what is timed: whether secrets are masked, how many processes
            "load": (False, "auto"),
            "load, one process": (False, "1"),
            "load --include-secrets": (True, "auto"),
            "load as two sources (+ one file)": (False, "auto"),
        }
        runs: dict[tuple[str, str], list[float]] = {}
        helped: dict[str, list[bool]] = {}
        peaks = [first["peak_delta_bytes"]]
        for cache in ("warm", "cold"):
            for _ in range(args.runs):
                for what in ("cat", *kinds):
                    if cache == "cold":
                        _drop_from_page_cache(source)
                    if what == "cat":
                        seconds = _cat_seconds(names)
                    else:
                        run_dir = temp_dir / "pack-run"
                        include_secrets, processes = kinds[what]
                        several = two_sources if "two sources" in what else None
                        result = load(include_secrets, run_dir, processes, several)
                        shutil.rmtree(run_dir)  # before its pages are written back
                        seconds = result["seconds"]
                        peaks.append(result["peak_delta_bytes"])
                        helped.setdefault(what, []).append(result["helper"])
                    runs.setdefault((cache, what), []).append(seconds)
        text = masked["text_bytes"]
        rows.append(("source", str(source), f"{masked['mode']} mode"))
        loaded = f"{masked['files']:,} files, {_mb(text)}"
        rows.append(("text loaded", loaded, f"{masked['skipped']:,} skipped"))
        for cache in ("warm", "cold"):
            # Cold, the median: the best cold run is the one whose drop left the most pages
            # cached (seen: cat once took 0.17 s where it takes 0.8-1.0 s from a real drop).
            pick = min if cache == "warm" else statistics.median
            cat = pick(runs[cache, "cat"])
            how = "best" if cache == "warm" else "median"
            spread = "-".join(f"{f(runs[cache, 'cat']):.3f}" for f in (min, max))
            note = f"baseline; {how} of {args.runs} ({spread} s)"
            rows.append((f"cat (xargs) of those files, {cache}", f"{cat:.3f} s", note))
            for what in kinds:
                seconds = pick(runs[cache, what])
                # The goals (decided 2026-12-06): warm, 0.3 s per 100 MB of text; cold, no
                # slower than cat. (Warm within 1.5x of cat was retired: its floor here, the
                # passes alone split perfectly over two cores, is 1.68x.)
                if cache == "warm":
                    per_100mb = seconds / (text / 100e6)
                    note = (f"{per_100mb:.3f} s per 100 MB (goal <= 0.3 s); "
                            f"{seconds / cat:.2f}x cat")
                else:
                    note = f"{seconds / cat:.2f}x cat (goal <= 1.0x)"
                if cache == "warm" and what in ("load", "load --include-secrets"):
                    note += "; the headline"
                if kinds[what][1] == "auto":
                    note += f"; a helper process in {sum(helped[what])} of {len(helped[what])}"
                rows.append((f"{what}, {cache}", f"{seconds:.3f} s", note))
        peak = max(peaks)
        note = f"{peak / text:.2f}x text (goal <= 1.5x); the most of {len(peaks)} loads"
        rows.append(("peak memory of the load", _mb(peak), note))

        tiny = temp_dir / "tiny"
        (tiny / "src").mkdir(parents=True)
        (tiny / "src" / "a.py").write_text("print('tiny')\n")
        tiny_pack = temp_dir / "tiny-pack"
        _python("--child-load", str(tiny / "src"), str(tiny_pack), "0", "auto")
        for label, pack_dir in (("this tree", masked["dir"]), ("one-file tree", str(tiny_pack))):
            inner = min(_python("--child-open", pack_dir)["seconds"] for _ in range(args.runs))
            wall, _ = _best(args.runs, lambda: _python("--child-open", pack_dir))
            note = f"import + open; {wall:.3f} s with interpreter start (goal < 0.3 s)"
            rows.append((f"open_view in a fresh process, {label}", f"{inner * 1000:.1f} ms", note))

        from rlm_tui.context.coverage import Coverage
        from rlm_tui.context.pack import ContextPack
        from rlm_tui.context.view import ContextView, open_view, take_coverage

        view = open_view(masked["dir"])
        assert isinstance(view, ContextView)
        patterns = (
            ("literal", "def __init__"),
            ("regex", r"^class \w+\(.*Error\)"),
            ("no match", "zq8xv7[_]nothing"),  # a regex that cannot match its own source
        )
        for label, pattern in patterns:
            seconds, found = _best(args.runs, lambda: view.grep(pattern, max_matches=10**6))
            rows.append((f"grep, {label}", f"{seconds:.3f} s", f"{len(found):,} matches"))
        seconds, _ = _best(1, lambda: view.text)
        rows.append(("context.text, first build", f"{seconds:.3f} s", "then cached"))
        take_coverage(view)

        pack = ContextPack.open(masked["dir"])
        coverage = Coverage(pack)
        seconds, _ = _best(1, coverage.build_index)
        rows.append(("coverage line index (lazy, once)", f"{seconds:.3f} s", ""))
        biggest = max(pack.entries, key=lambda e: e.size)
        prompt = pack.read_text(biggest.path)[:1_000_000]
        seconds, lines = _best(1, lambda: coverage.record_prompt(prompt))
        note = f"{lines:,} lines placed"
        rows.append((f"record_prompt, {_mb(len(prompt))} prompt", f"{seconds:.3f} s", note))

        rows.extend(_masking_rows(pack))
        rows.extend(_floor_rows(source, min(runs["warm", "cat"]), args.runs))

    width = max(len(r[0]) for r in rows)
    mid = max(len(r[1]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{mid}}  {note}")


if __name__ == "__main__":
    main()
