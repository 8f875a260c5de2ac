"""The eval's scheduler: N tasks at once, each recorded the moment it ends, with the eval's
budget and stops. Where a task runs is an Executor's business: in this process
(LocalExecutor, each task with its own sandbox worker, under one shared limit on model calls)
or as a Ray task (ray_runner.RayExecutor).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rlm_tui.config import Settings
from rlm_tui.engine.run import Run
from rlm_tui.eval.results import FINISHED_STATUSES
from rlm_tui.eval.task_run import INTERRUPTED, run_task
from rlm_tui.eval.tasks import Task
from rlm_tui.lm import ModelClient

# A provider failure of these kinds will fail every task the same way: before any task has
# run, the first one stops the eval (exit 3) instead of paying for the rest.
FATAL_KINDS = frozenset({"auth", "unknown_model", "not_found", "quota", "unreachable"})


class Executor(Protocol):
    """Runs one task to its record."""

    async def run(self, task: Task, settings: Settings) -> dict[str, Any]: ...

    def halt_all(self, reason: str) -> None:
        """Stop the tasks in flight now (an interrupt): they end without being recorded."""


@dataclass
class EvalState:
    """What the scheduler knows as tasks end."""

    spent_usd: float = 0.0  # the eval's cost so far, earlier invocations included
    ran: int = 0  # tasks of this invocation whose session ended by itself
    stop_reason: str | None = None  # why tasks were left unstarted, if they were
    provider_failure: str | None = None
    interrupted: bool = False
    not_started: list[str] = field(default_factory=list)


def record_cost(record: dict[str, Any]) -> float:
    """A record's cost in USD, its baseline's included (unknown counts as 0)."""
    baseline = record.get("baseline") or {}
    return (record.get("cost_usd") or 0.0) + (baseline.get("cost_usd") or 0.0)


async def run_tasks(tasks: list[Task], executor: Executor, settings: Settings, *,
                    workers: int, max_cost: float | None, state: EvalState,
                    on_start: Callable[[], None],
                    on_end: Callable[[dict[str, Any] | None], None]) -> EvalState:
    """Run `tasks`, `workers` at a time; `on_end(record)` as each ends (None: interrupted,
    not to be recorded). Stops starting tasks on an interrupt (SIGINT, SIGTERM), when the
    eval's cost reaches `max_cost`, or on a fatal provider failure before any task ran."""
    queue = list(reversed(tasks))
    loop = asyncio.get_running_loop()

    def interrupt(name: str) -> None:
        state.interrupted = True
        state.stop_reason = f"interrupted by {name}"
        executor.halt_all(f"interrupted by {name}")

    def next_task() -> Task | None:
        if state.stop_reason is None and max_cost is not None and state.spent_usd >= max_cost:
            state.stop_reason = f"--max-cost {max_cost:g} reached (${state.spent_usd:,.4f})"
        if state.stop_reason is not None or not queue:
            return None
        return queue.pop()

    async def worker() -> None:
        while (task := next_task()) is not None:
            task_settings = settings
            if max_cost is not None:  # a task may spend what is left of the eval's budget
                task_settings = settings.model_copy(
                    update={"max_cost": max(max_cost - state.spent_usd, 1e-9)})
            on_start()
            record = await executor.run(task, task_settings)
            if record.get("status") == INTERRUPTED or state.interrupted and \
                    record.get("status") not in FINISHED_STATUSES:
                on_end(None)
                continue
            state.spent_usd += record_cost(record)
            if record.get("status") in FINISHED_STATUSES:
                state.ran += 1
            elif (record.get("error_kind") in FATAL_KINDS and not state.ran
                  and state.stop_reason is None):
                state.provider_failure = record.get("reason") or record["error_kind"]
                state.stop_reason = f"a provider failure: {state.provider_failure}"
            on_end(record)

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, interrupt, sig.name)
    try:
        await asyncio.gather(*(worker() for _ in range(max(1, workers))))
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    state.not_started = [task.id for task in reversed(queue)]
    return state


class LocalExecutor:
    """Tasks in this process: each its own Run and sandbox worker, one shared ModelClient and
    one limit on model calls in flight (--max-concurrency) for all of them."""

    def __init__(self, client: ModelClient, max_concurrency: int, transcripts: Path, *,
                 baseline: bool, window: int | None) -> None:
        self.client = client
        self.limiter = asyncio.Semaphore(max_concurrency)
        self.transcripts = transcripts
        self.baseline = baseline
        self.window = window
        self._runs: set[Run] = set()
        self._halted: str | None = None

    async def run(self, task: Task, settings: Settings) -> dict[str, Any]:
        current: list[Run] = []

        def on_run(run: Run | None) -> None:
            if run is not None:
                current.append(run)
                self._runs.add(run)
                if self._halted:
                    run.control.halt(self._halted)
            else:
                self._runs.difference_update(current)

        return await run_task(task, settings, self.client,
                              transcript_path=self.transcripts / f"{task.id}.jsonl",
                              limiter=self.limiter, baseline=self.baseline,
                              window=self.window, on_run=on_run,
                              interrupted=lambda: self._halted is not None)

    def halt_all(self, reason: str) -> None:
        self._halted = reason
        for run in list(self._runs):
            run.control.halt(reason)
