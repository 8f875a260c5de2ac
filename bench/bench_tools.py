"""Host tool figures: a tool call's round trip from the REPL, beside llm_query's.

A trivial tool called 100 times in one cell, against the same loop without the calls: the
difference per call is the round trip's overhead (the worker encodes the arguments, the host
decodes and checks them, runs the tool through engine.tools.ToolSet, encodes the result, the
worker decodes it). llm_query is measured the same way against an instant handler.
Goal (issue 24): a tool call under 1 ms round trip.

    .venv/bin/python bench/bench_tools.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from rlm_tui.engine.tools import ToolSet
from rlm_tui.sandbox import Sandbox, SubcallRequest, ToolRequest

CALLS = 100


def ping_sync(n: int) -> dict:
    return {"n": n}


async def ping_async(n: int) -> dict:
    return {"n": n}


async def instant(request: SubcallRequest) -> str:
    return "ok"


async def per_call(sandbox: Sandbox, code: str, repeat: int) -> float:
    """The median extra seconds per call of `code`'s loop over the bare loop."""
    bare = f"for i in range({CALLS}):\n    r = {{'n': i}}\n"
    loop = f"for i in range({CALLS}):\n    r = {code}\n"
    base, calls = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        await sandbox.run_cell(bare)
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        await sandbox.run_cell(loop)
        calls.append(time.perf_counter() - t)
    return (statistics.median(calls) - statistics.median(base)) / CALLS


async def measure(repeat: int) -> dict[str, float]:
    tools = ToolSet.from_callables({"ping_sync": ping_sync, "ping_async": ping_async})

    async def run_tool(request: ToolRequest) -> str:
        return await tools.call(request)

    async with Sandbox("x" * 1000, on_subcall=instant, tools=tools.names,
                       on_tool=run_tool) as sandbox:
        for code in ("ping_async(i)", "ping_sync(i)", "llm_query('q')"):  # warm up
            await per_call(sandbox, code, 3)
        figures = {
            "async tool call round trip, per call (ms)":
                await per_call(sandbox, "ping_async(i)", repeat),
            "sync tool call round trip (kept thread), per call (ms)":
                await per_call(sandbox, "ping_sync(i)", repeat),
            "llm_query overhead, instant handler, per call (ms)":
                await per_call(sandbox, "llm_query('q')", repeat),
        }
    return {name: value * 1000 for name, value in figures.items()}


GOALS = {
    "async tool call round trip, per call (ms)": 1,
    "sync tool call round trip (kept thread), per call (ms)": 1,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.repeat))
    width = max(map(len, figures))
    print(f"{'figure':<{width}}  {'value':>9}  goal")
    for name, value in figures.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"< {goal:g}  {'met' if value < goal else 'MISSED'}"
        print(f"{name:<{width}}  {value:9.3f}  {verdict}")


if __name__ == "__main__":
    main()
