"""What `rlm-tui watch` keeps up with: a transcript written by another process, followed by
the watch app (headless, 120x40) as it grows.

A writer process appends a run's events through the real TranscriptWriter (iterations of
streamed root text and a cell: iteration_started, root_delta ×150, root_done, cell_started,
cell_finished), each stamped with the wall clock when it is made. The app notes the wall
clock each time a batch has reached its panes (the session screen's flush: the tree folded,
every pane's show_events done).

1. Lag at a steady --rate (events a second; a streamed reply is ~50-200 deltas a second):
   from an event written to its pane updated, median, p95 and max. Goal: p95 under 100 ms.
   Beside it, the same events fed to the same app in its own process (made on time in a
   thread, handed to the app's loop: no file, no follower): what the panes and the app's
   loop cost alone on this machine now, so that what the watch adds is the difference.
2. Throughput: the writer writes --burst events as fast as it can; the events a second the
   watch shows them at (from the writer's start to the last shown), and the last one's lag.
3. The watch's own part, without the panes: the follower reading --burst events' lines as
   they are appended (CPU time per event; little affected by other load on the machine).

The run itself pays nothing for being watched: the watch only reads its file (and the
control socket is idle until a key is pressed).

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DELTAS = 150  # a reply of 150 streamed pieces per iteration, then its cell
RUN = "bench"


def run_events(count: int) -> Iterator[tuple[Any, str, str | None, dict[str, Any]]]:
    """(event class, node, parent, fields) of a run of at least `count` events."""
    from rlm_tui import events as ev

    yield ev.SessionStarted, RUN, None, {"query": "bench", "root_model": "openai/bench",
                                         "sub_model": "openai/bench", "max_iterations": 10000}
    made, iteration = 1, 0
    while made < count:
        iteration += 1
        node = f"{RUN}.i{iteration}"
        yield ev.IterationStarted, node, RUN, {"iteration": iteration, "max_iterations": 10000}
        for _ in range(DELTAS):
            yield ev.RootDelta, node, RUN, {"text": "word "}
        yield ev.RootDone, node, RUN, {"text": "word " * DELTAS, "model": "openai/bench",
                                       "usage": ev.Usage.of_call(100, DELTAS, None),
                                       "latency_s": 0.1}
        cell = f"{node}.c1"
        yield ev.CellStarted, cell, node, {"index": 1, "code": "print(len(context))"}
        yield ev.CellFinished, cell, node, {"stdout": "100\n", "seconds": 0.01}
        made += DELTAS + 4


WARM = DELTAS + 5  # the first iteration: written before the watch opens, not timed


def paced(count: int, rate: float, *, go: Any = None) -> Iterator[Any]:
    """The run's events, each made (and stamped) when its time comes at `rate` a second
    (as fast as they can be made when `rate` is 0). The first iteration comes at once, then
    `go()` is waited for: the app has shown it (its first imports and mounts are done)."""
    start = time.perf_counter()
    for seq, (cls, node, parent, fields) in enumerate(run_events(count + WARM), start=1):
        if seq == WARM + 1 and go is not None:
            go()
            start = time.perf_counter() - seq / rate if rate > 0 else time.perf_counter()
        if rate > 0 and seq > WARM:
            ahead = seq / rate - (time.perf_counter() - start)
            if ahead > 0.002:
                time.sleep(ahead)
        yield cls(seq=seq, ts=time.time(), session_id=RUN, node_id=node, parent_id=parent,
                  **fields)


_WRITER = r"""
import os, sys, time
sys.path.insert(0, os.environ["BENCH_ROOT"])
from bench.bench_watch import paced
from rlm_tui.transcript import TranscriptWriter

path, count, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
writer = TranscriptWriter(path, query="bench", settings={"model": "openai/bench"},
                          context={"kind": "text", "chars": 100})
def go():  # the watch is open and shows the first iteration: from here on, lag is its own
    while not os.path.exists(path + ".go"):
        time.sleep(0.005)

for event in paced(count, rate, go=go):
    writer(event)
writer.close()
"""


def probe_app(path: Path) -> Any:
    """The watch app on `path`, noting when each event reached the panes."""
    from rlm_tui.transcript.follow import TranscriptFollower
    from rlm_tui.tui.watch_app import WatchApp

    class Probe(WatchApp):
        lags: list[float]
        last_shown = 0.0

        def on_session_batch(self, events: list[Any]) -> None:
            now = time.time()
            self.lags.extend(now - event.ts for event in events)
            self.last_shown = now

    app = Probe(TranscriptFollower.open(path))
    app.lags = []
    return app


async def watch(path: Path, writer: subprocess.Popen) -> tuple[list[float], float]:
    """Follow `path` until the writer has ended and all it wrote is shown: (lags, seconds
    from the writer's go to the last event shown)."""
    while not path.exists():
        await asyncio.sleep(0.005)
    while len(path.read_bytes().splitlines()) < WARM + 1:
        await asyncio.sleep(0.005)
    app = probe_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.cursor.position < WARM:
            await pilot.pause(0.01)
        await pilot.pause(0.3)
        app.lags.clear()
        Path(f"{path}.go").touch()
        went = time.time()
        written = None
        while written is None or app.cursor.position < written:
            if written is None and writer.poll() is not None:
                written = len(path.read_bytes().splitlines()) - 1  # less the header
            await pilot.pause(0.01)
    return app.lags, app.last_shown - went


async def feed_in_process(path: Path, count: int, rate: float) -> list[float]:
    """The same events fed to the same app without a file: made and stamped at `rate` in a
    thread (on time, as the writer process makes them), handed to the app's loop."""
    import threading

    app = probe_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        loop = asyncio.get_running_loop()
        events = list(paced(count, 0))
        app.feed(events[:WARM])
        while len(app.lags) < WARM:
            await pilot.pause(0.01)
        await pilot.pause(0.3)
        app.lags.clear()
        rest = events[WARM:]

        def feeder() -> None:
            start = time.perf_counter()
            for fed, event in enumerate(rest, start=1):
                ahead = fed / rate - (time.perf_counter() - start)
                if ahead > 0.002:
                    time.sleep(ahead)
                stamped = event.model_copy(update={"ts": time.time()})
                loop.call_soon_threadsafe(app.feed, [stamped])

        thread = threading.Thread(target=feeder)
        thread.start()
        while len(app.lags) < len(rest):
            await pilot.pause(0.01)
        thread.join()
    return app.lags


def follower_cost(path: Path, count: int) -> float:
    """CPU seconds per event for the follower to read `count` events appended in pieces."""
    from rlm_tui.transcript import TranscriptWriter
    from rlm_tui.transcript.follow import TranscriptFollower

    lines = [e.model_dump_json().encode() + b"\n" for e in paced(count, 0)]
    TranscriptWriter(path, query="bench", settings={}, context={}).close()
    follower = TranscriptFollower.open(path)
    data = b"".join(lines)
    piece = max(1, len(data) // 500)  # 500 polls, each finding a cut line at its end
    spent = 0.0
    read = 0
    with open(path, "ab") as file:
        for start in range(0, len(data), piece):
            file.write(data[start:start + piece])
            file.flush()
            t = time.process_time()
            read += len(follower.poll())
            spent += time.process_time() - t
    follower.close()
    assert read == len(lines), (read, len(lines))
    return spent / read


def run_writer(path: Path, count: int, rate: float) -> subprocess.Popen:
    env = {**os.environ, "BENCH_ROOT": str(ROOT), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(count), str(rate)],
                            env=env)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lag_rows(label: str, lags: list[float], goal: bool) -> list[tuple[str, str, str, str]]:
    ms = [lag * 1000 for lag in lags]
    p95 = percentile(ms, 0.95)
    return [
        (f"{label}: median", f"{statistics.median(ms):.1f} ms", "", ""),
        (f"{label}: p95", f"{p95:.1f} ms", "< 100 ms" if goal else "",
         ("yes" if p95 < 100 else "NO") if goal else ""),
        (f"{label}: max", f"{max(ms):.1f} ms", "", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200, help="events a second (200)")
    parser.add_argument("--seconds", type=float, default=5, help="how long at --rate (5)")
    parser.add_argument("--burst", type=int, default=20000, help="events written at once")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    rows: list[tuple[str, str, str, str]] = []
    count = int(args.rate * args.seconds)
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        path = Path(tmp) / "steady.jsonl"
        writer = run_writer(path, count, args.rate)
        lags, _ = asyncio.run(watch(path, writer))
        rows += lag_rows(f"watch lag, write to pane, {args.rate:g} ev/s", lags, True)
        empty = Path(tmp) / "empty.jsonl"
        from rlm_tui.transcript import TranscriptWriter

        TranscriptWriter(empty, query="bench", settings={}, context={}).close()
        lags = asyncio.run(feed_in_process(empty, count, args.rate))
        rows += lag_rows(f"same events fed in-process, {args.rate:g} ev/s", lags, False)
        path = Path(tmp) / "burst.jsonl"
        writer = run_writer(path, args.burst, 0)
        lags, took = asyncio.run(watch(path, writer))
        rows += [
            (f"events/s shown, {len(lags):,} written at once", f"{len(lags) / took:,.0f}", "",
             ""),
            ("lag of the last of them", f"{lags[-1] * 1000:.0f} ms", "", ""),
        ]
        per_event = follower_cost(Path(tmp) / "follow.jsonl", args.burst)
        rows += [("follower alone: CPU per event read", f"{per_event * 1e6:.1f} µs", "", ""),
                 ("follower alone: events/s one core reads", f"{1 / per_event:,.0f}", "", "")]
    # The figures depend on what else the machine runs (the app, its writer and the rest
    # share the cores): said beside them.
    rows.append(("load average (1 min) after the runs", f"{os.getloadavg()[0]:.1f}", "", ""))
    print(f"{'figure':<54}  {'value':<14}  {'goal':<8}  met")
    for figure, value, goal, met in rows:
        print(f"{figure:<54}  {value:<14}  {goal:<8}  {met}".rstrip())


if __name__ == "__main__":
    main()
