"""What `rlm-tui watch` keeps up with: a transcript written by another process, followed by
the watch app (headless, 120x40) as it grows.

A writer process appends a run's events through the real TranscriptWriter (iterations of
streamed root text and a cell: iteration_started, root_delta ×150, root_done, cell_started,
cell_finished), each stamped with the wall clock when it is made. The app records, for each batch it has handed to its panes (the
session screen's flush: tree folded, every pane's show_events done), the wall clock then.

1. Lag, at a steady --rate (events a second, a busy run's pace): from an event written to
   its pane updated, median, p95 and max. Goal: p95 under 100 ms.
2. Throughput: the writer writes --burst events as fast as it can; the events a second the
   watch shows them at (from the first written to the last shown), and the lag of the last.
   Not a goal: a run writes far fewer (a streamed reply is ~50-200 deltas a second).

    .venv/bin/python bench/bench_watch.py [--rate 200] [--seconds 5] [--burst 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_WRITER = r"""
import os, sys, time
from rlm_tui import events as ev
from rlm_tui.transcript import TranscriptWriter

path, count, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
writer = TranscriptWriter(path, query="bench", settings={"model": "openai/bench"},
                          context={"kind": "text", "chars": 100})
run, seq, made = "bench", 0, 0
DELTAS = 150  # a reply of 150 streamed pieces per iteration, then its cell

def emit(cls, node, parent=None, **fields):
    global seq
    seq += 1
    writer(cls(seq=seq, ts=time.time(), session_id=run, node_id=node, parent_id=parent,
               **fields))

go = path + ".go"  # the watch is open: from here on, each event's lag is the watch's
while not os.path.exists(go):
    time.sleep(0.005)
emit(ev.SessionStarted, run, query="bench", root_model="openai/bench", sub_model="openai/bench",
     max_iterations=10000)
start = time.perf_counter()
iteration = 0
while made < count:
    iteration += 1
    node = f"{run}.i{iteration}"
    emit(ev.IterationStarted, node, run, iteration=iteration, max_iterations=10000)
    made += 1
    for _ in range(DELTAS):
        emit(ev.RootDelta, node, run, text="word ")
        made += 1
        if rate > 0:
            ahead = made / rate - (time.perf_counter() - start)
            if ahead > 0.002:
                time.sleep(ahead)
    emit(ev.RootDone, node, run, text="word " * DELTAS, model="openai/bench",
         usage=ev.Usage.of_call(100, DELTAS, None), latency_s=0.1)
    cell = f"{node}.c1"
    emit(ev.CellStarted, cell, node, index=1, code="print(len(context))")
    emit(ev.CellFinished, cell, node, stdout="100\n", seconds=0.01)
    made += 3
writer.close()
"""


async def follow(path: Path, writer: subprocess.Popen) -> tuple[list, float]:
    """Watch `path` until the writer has ended and every event it wrote is shown; (lags per event, when the last was
    shown)."""
    from rlm_tui.transcript.follow import TranscriptFollower
    from rlm_tui.tui.watch_app import WatchApp

    while not path.exists():
        await asyncio.sleep(0.005)
    app = WatchApp(TranscriptFollower.open(path))
    lags: list[float] = []
    shown = [0.0]

    def probe(batch) -> None:
        now = time.time()
        lags.extend(now - event.ts for event in batch)
        shown[0] = now

    app.on_events = probe
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        Path(f"{path}.go").touch()
        opened = time.time()
        deadline = time.monotonic() + 600
        written = None
        while written is None or app.cursor.position < written:
            if written is None and writer.poll() is not None:
                written = len(path.read_bytes().splitlines()) - 1  # less the header
            if time.monotonic() > deadline:
                raise SystemExit("the watch did not catch up within 600 s")
            await pilot.pause(0.01)
    return lags, shown[0] - opened


def run_writer(path: Path, count: int, rate: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(count), str(rate)],
                            env=env)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200, help="events a second (200)")
    parser.add_argument("--seconds", type=float, default=5, help="how long at --rate (5)")
    parser.add_argument("--burst", type=int, default=20000, help="events written at once")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        # 1. A steady pace: the lag of each event.
        count = int(args.rate * args.seconds) + 2
        path = Path(tmp) / "steady.jsonl"
        writer = run_writer(path, count, args.rate)
        lags, _ = asyncio.run(follow(path, writer))
        ms = [lag * 1000 for lag in lags]
        p95 = percentile(ms, 0.95)
        rows += [
            (f"lag, write to pane, at {args.rate:g} events/s: median", f"{statistics.median(ms):.1f} ms",
             "", ""),
            (f"lag, write to pane, at {args.rate:g} events/s: p95", f"{p95:.1f} ms", "< 100 ms",
             "yes" if p95 < 100 else "NO"),
            (f"lag, write to pane, at {args.rate:g} events/s: max", f"{max(ms):.1f} ms", "", ""),
        ]
        # 2. As fast as the writer can: what the watch keeps up with.
        path = Path(tmp) / "burst.jsonl"
        writer = run_writer(path, args.burst, 0)
        lags, took = asyncio.run(follow(path, writer))
        rate = len(lags) / max(1e-9, took)
        rows += [
            (f"events/s shown, {args.burst:,} written at once", f"{rate:,.0f}", "", ""),
            ("lag of the last of them", f"{lags[-1] * 1000:.0f} ms", "", ""),
        ]
    # The figures depend on what else the machine runs (the app, its writer and the rest
    # share the cores): said beside them.
    rows.append(("load average (1 min) after the runs", f"{os.getloadavg()[0]:.1f}", "", ""))
    print(f"{'figure':<54}  {'value':<14}  {'goal':<8}  met")
    for figure, value, goal, met in rows:
        print(f"{figure:<54}  {value:<14}  {goal:<8}  {met}".rstrip())


if __name__ == "__main__":
    main()
