"""Sandbox figures: worker start, trivial cell round trip, llm_query overhead.

Goals (issue 2): cell round trip under 2 ms median (host to worker and back), worker start
under 150 ms, 100 `llm_query` calls against an instant handler under 0.2 ms each.

    .venv/bin/python bench/bench_sandbox.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from rlm_tui.sandbox import Sandbox, SubcallRequest


async def instant(request: SubcallRequest) -> str:
    return "ok"


async def measure(rounds: int) -> dict[str, float]:
    starts = []
    for _ in range(10):
        sandbox = Sandbox("x" * 1000, on_subcall=instant)
        t = time.perf_counter()
        await sandbox.start()
        starts.append(time.perf_counter() - t)
        await sandbox.close()

    async with Sandbox("x" * 1000, on_subcall=instant) as sandbox:
        for _ in range(50):  # warm up
            await sandbox.run_cell("x = 1")
        trips = []
        for _ in range(rounds):
            t = time.perf_counter()
            await sandbox.run_cell("x = 1")
            trips.append(time.perf_counter() - t)

        baseline_code = "for i in range(100):\n    r = 'ok'\n"
        calls_code = "for i in range(100):\n    r = llm_query('q')\n"
        base, calls = [], []
        for _ in range(30):
            t = time.perf_counter()
            await sandbox.run_cell(baseline_code)
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            await sandbox.run_cell(calls_code)
            calls.append(time.perf_counter() - t)
        batched = []
        for _ in range(30):
            t = time.perf_counter()
            await sandbox.run_cell("r = llm_query_batched(['q'] * 100)")
            batched.append(time.perf_counter() - t)
    per_call = (statistics.median(calls) - statistics.median(base)) / 100
    return {
        "worker start, median (ms)": statistics.median(starts) * 1000,
        "worker start, max (ms)": max(starts) * 1000,
        "trivial cell round trip, median (ms)": statistics.median(trips) * 1000,
        "trivial cell round trip, p95 (ms)": sorted(trips)[int(len(trips) * 0.95)] * 1000,
        "llm_query overhead per call, sequential (ms)": per_call * 1000,
        "llm_query_batched(100) per prompt (ms)":
            (statistics.median(batched) - statistics.median(trips)) / 100 * 1000,
    }


GOALS = {
    "worker start, median (ms)": 150,
    "trivial cell round trip, median (ms)": 2,
    "llm_query overhead per call, sequential (ms)": 0.2,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.rounds))
    width = max(map(len, figures))
    print(f"{'figure':<{width}}  {'value':>9}  goal")
    for name, value in figures.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"< {goal:g}  {'met' if value < goal else 'MISSED'}"
        print(f"{name:<{width}}  {value:9.3f}  {verdict}")


if __name__ == "__main__":
    main()
