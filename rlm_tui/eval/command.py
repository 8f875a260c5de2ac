"""`rlm-tui eval`: run a tasks file (or a built-in suite) as independent sessions, score
them, and write results.jsonl, a transcript per task and summary.md / summary.html.

Exit codes: 0 every task ran (a wrong answer is a result), 1 some task could not run or was
not started, 2 bad usage or tasks file, 3 a provider failure before any task ran.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from rlm_tui.config import Settings
from rlm_tui.engine.answer_schema import AnswerSchema
from rlm_tui.engine.workspace import check_models, cost_budget_warning, model_specs
from rlm_tui.errors import UsageError
from rlm_tui.eval.progress import EvalProgress
from rlm_tui.eval.report import render_table, summarize, write_summaries
from rlm_tui.eval.results import ResultsFile, is_finished
from rlm_tui.eval.runner import EvalState, Executor, LocalExecutor, record_cost, run_tasks
from rlm_tui.eval.suites import DEFAULT_COUNT, DEFAULT_SIZE, generate_suite
from rlm_tui.eval.tasks import Task, load_tasks, task_to_dict
from rlm_tui.headless import EXIT_ANSWERED, EXIT_MODEL, EXIT_STOPPED
from rlm_tui.lm import ModelClient
from rlm_tui.printable import escape_json_controls, for_terminal

LOCAL = "local"  # --ray without an address (cli.py's const)


def default_eval_dir(name: str) -> Path:
    """A new directory under the user data dir: evals/NAME-YYYYmmdd-HHMMSS."""
    from platformdirs import user_data_path

    return user_data_path("rlm-tui") / "evals" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def eval_tasks(args: argparse.Namespace) -> tuple[list[Task], str]:
    """The tasks to run and the eval's name; UsageError for a bad file or flags."""
    if (args.tasks is None and args.ray not in (None, LOCAL)
            and (args.ray.endswith(".jsonl") or Path(args.ray).is_file())):
        # `eval --ray tasks.jsonl`: argparse gave the tasks file to --ray as its address
        args.tasks, args.ray = args.ray, LOCAL
    if args.suite and args.tasks:
        raise UsageError("give a tasks file or --suite, not both")
    if args.suite:
        tasks = generate_suite(args.suite, size=args.size or DEFAULT_SIZE,
                               count=args.n or DEFAULT_COUNT, seed=args.seed or 0)
        return tasks, args.suite
    if not args.tasks:
        raise UsageError("give a tasks file (TASKS.jsonl) or --suite sniah|oolong|pairs")
    for flag, value in (("--size", args.size), ("--n", args.n), ("--seed", args.seed)):
        if value is not None:
            raise UsageError(f"{flag} goes with --suite")
    return load_tasks(args.tasks), Path(args.tasks).stem


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """The whole eval; returns the exit code (errors a user can cause as RlmTuiError)."""
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: at least 1")
    tasks, name = eval_tasks(args)  # a bad tasks line ends here, before any model call
    if settings.schema:  # --schema: the shape of every task's answer that has none of its own
        shape = AnswerSchema.from_file(settings.schema).json_schema
        tasks = [t if t.schema is not None else dataclasses.replace(t, schema=shape)
                 for t in tasks]
    if settings.approve != "none":  # holding cells needs a person: `rlm-tui run` does the same
        print(f"rlm-tui: warning: approve = \"{settings.approve}\" in the settings is for "
              "the app: an eval holds no cell", file=sys.stderr)
        settings = settings.model_copy(update={"approve": "none"})
    model_specs(settings)  # no model: a usage error
    if args.ray is not None:
        from rlm_tui.eval.ray_runner import join_ray, require_ray

        require_ray()  # not installed: a usage error, before anything else
    check_models(settings)  # a missing key or unknown provider: exit 3
    connect = join_ray(args.ray) if args.ray is not None else None
    out = Path(args.out) if args.out else default_eval_dir(name)
    results = ResultsFile(out).open()
    try:
        return _run(args, settings, tasks, name, out, results, connect)
    finally:
        results.close()


def _run(args: argparse.Namespace, settings: Settings, tasks: list[Task], name: str,
         out: Path, results: ResultsFile, connect: Any) -> int:
    client = ModelClient(prices={m: p.per_million() for m, p in settings.prices.items()})
    warning = cost_budget_warning(settings, client)
    if warning is not None:
        print(f"rlm-tui: warning: {warning}", file=sys.stderr)
    if not args.out:
        print(f"rlm-tui: eval directory: {out} (--out {out} resumes it)", file=sys.stderr)
    _write_plan(out, name, args, settings, tasks)
    pending = [t for t in tasks if not is_finished(results.records.get(t.id) or {},
                                                   baseline=args.baseline)]
    waiting = {t.id for t in pending}
    earlier = [results.records[t.id] for t in tasks
               if t.id in results.records and t.id not in waiting]
    progress = EvalProgress(len(tasks), done=len(earlier),
                            correct=sum(bool(r.get("correct")) for r in earlier),
                            scored=len(earlier), cost=sum(map(record_cost, earlier)))
    state = EvalState(spent_usd=sum(record_cost(r) for r in results.records.values()))
    started = time.monotonic()

    def on_end(record: dict[str, Any] | None) -> None:
        if record is not None:
            results.add(record)
        progress.finished(record)

    async def main() -> None:
        executor: Executor
        if connect is not None:
            executor = connect(settings, out / "transcripts", baseline=args.baseline,
                               window=args.baseline_window, ship_max=args.ray_ship_max)
        else:
            executor = LocalExecutor(client, settings.max_concurrency, out / "transcripts",
                                     baseline=args.baseline, window=args.baseline_window)
        try:
            await run_tasks(pending, executor, settings, workers=args.workers,
                            max_cost=settings.max_cost, state=state,
                            on_start=progress.started, on_end=on_end)
        finally:
            await client.aclose()
            close = getattr(executor, "close", None)
            if close is not None:
                await close()

    if pending:
        asyncio.run(main())
    progress.close()
    summary = summarize(tasks, results.records, baseline=args.baseline, out=out,
                        wall_seconds=time.monotonic() - started, stop_reason=state.stop_reason)
    title = f"eval {name} · {settings.model} · {len(tasks)} tasks"
    write_summaries(out, summary, tasks, results.records, title)
    if args.json:
        print(escape_json_controls(json.dumps(summary, ensure_ascii=False)))
    else:
        print(for_terminal(render_table(summary, title)))
    if state.provider_failure is not None and not state.ran and not earlier:
        print(f"rlm-tui: {state.provider_failure}", file=sys.stderr)
        return EXIT_MODEL
    if summary["could_not_run"] or summary["not_started"]:
        if state.stop_reason:
            print(f"rlm-tui: stopped starting tasks: {state.stop_reason}", file=sys.stderr)
        return EXIT_STOPPED
    return EXIT_ANSWERED


def _write_plan(out: Path, name: str, args: argparse.Namespace, settings: Settings,
                tasks: list[Task]) -> None:
    """eval.json (what was asked), and for a suite its tasks as a tasks file."""
    plan = {"name": name, "tasks_file": str(Path(args.tasks).resolve()) if args.tasks else None,
            "suite": args.suite and {"name": args.suite, "size": args.size or DEFAULT_SIZE,
                                     "n": args.n or DEFAULT_COUNT, "seed": args.seed or 0},
            "tasks": len(tasks), "baseline": args.baseline, "workers": args.workers,
            "ray": args.ray, "settings": settings.public_dict(), "started": time.time()}
    (out / "eval.json").write_text(json.dumps(plan, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    if args.suite:
        with open(out / "tasks.jsonl", "w", encoding="utf-8") as file:
            for task in tasks:
                file.write(json.dumps(task_to_dict(task), ensure_ascii=False) + "\n")
