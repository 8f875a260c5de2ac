"""`rlm-tui run`: one run without the app, for scripts and CI.

stdout carries the answer only (or one JSON object); stderr the progress line on a terminal,
the transcript's path, and one-line errors. SIGINT and SIGTERM halt the run cleanly: the
transcript is closed and the worker processes are gone.
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine.run_context import Outcome
from rlm_tui.engine.workspace import (
    Workspace,
    check_models,
    cost_budget_warning,
    model_specs,
)
from rlm_tui.errors import RlmTuiError
from rlm_tui.lm import prepare_models
from rlm_tui.printable import escape_json_controls, for_terminal
from rlm_tui.progress import ProgressLine
from rlm_tui.transcript import SessionModel, TranscriptWriter, default_transcript_path

if TYPE_CHECKING:
    from rlm_tui.context.sources import Source

EXIT_ANSWERED, EXIT_STOPPED, EXIT_USAGE, EXIT_MODEL = 0, 1, 2, 3


def _goes_on(outcome: Outcome) -> bool:
    """Whether the next question is asked after this one: an answer (forced or not) goes on;
    a halt (a budget, a signal) or a failure stops the session."""
    return outcome.status == "answered"


def run_summary(outcomes: list[Outcome], queries: list[str], tree: SessionModel,
                transcript: Path) -> dict[str, Any]:
    """The --json document: the last question's outcome, each turn's, and the session
    tree's totals (across every turn); `rlm-tui eval` records each task with it too."""
    totals = tree.totals.to_dict()
    last = outcomes[-1]
    summary: dict[str, Any] = {
        "answer": last.answer,
        "status": last.status,
        "forced": last.forced,
        "halted_reason": last.reason if last.status != "answered" else None,
        "iterations": last.iterations,
        "sub_calls": totals["sub_calls"],
        "tokens": totals["tokens"],
        "cost_usd": totals["cost_usd"],
        "cost_complete": totals["cost_complete"],
        "seconds": totals["seconds"],
        "transcript": str(transcript),
        "turns": [{"turn": o.turn, "query": q, "answer": o.answer, "status": o.status,
                   "forced": o.forced, "iterations": o.iterations,
                   "halted_reason": o.reason if o.status != "answered" else None}
                  for o, q in zip(outcomes, queries)],
    }
    unasked = queries[len(outcomes):]
    if unasked:
        summary["not_asked"] = unasked
    if tree.root is not None and tree.root.fork_of:
        summary["fork_of"] = tree.root.fork_of
    return summary


async def _session(workspace: Workspace, queries: list[str], bus: ev.EventBus,
                   preparing: Any, *, fork: Fork | None = None) -> list[Outcome]:
    """Ask the questions in turn on one session (one REPL); stop at a halt or failure."""
    run = workspace.new_run(bus)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, run.control.halt, f"interrupted by {sig.name}")
    outcomes: list[Outcome] = []
    try:
        context = workspace.run_context()
        # Start-up, not the session's time: the REPL's worker starts while the models get
        # ready (aiohttp's import, in a thread), before the session's clock.
        await asyncio.gather(run.start_worker(context), asyncio.to_thread(preparing.join))
        # The start-up's ~40,000 long-lived objects (modules, schemas) out of the garbage
        # collector's way: each full collection during the run scanned them all again.
        gc.freeze()
        if fork is not None:
            rest = queries[1:] if fork.new_question else queries
            outcomes.append(await run.start_fork(fork.plan, context, note=fork.note,
                                                 query=queries[0] if fork.new_question
                                                 else None, keep_open=True))
        else:
            rest = queries[1:]
            outcomes.append(await run.start(queries[0], context, keep_open=True))
        for query in rest:
            if not _goes_on(outcomes[-1]):
                break
            outcomes.append(await run.ask(query))
    finally:
        await run.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return outcomes


@dataclass
class Fork:
    """A fork to run headless: the plan (engine.fork_plan.ForkPlan), a note, and whether the
    first of the queries is a new question (else it continues the forked turn)."""

    plan: Any
    note: str | None = None
    new_question: bool = False


def _in_workspace(path: str | Sequence[str | Source], queries: list[str], settings: Settings,
                  transcript: str | None,
                  fork: Fork | None, preparing: Any) -> tuple[list[Outcome], SessionModel, Path]:
    """Load the context, check the models, write the transcript and run the session: its
    outcomes, its tree and the transcript's path."""
    reads_stdin = path == "-" or (not isinstance(path, str)
                                  and any(getattr(p, "path", p) == "-" for p in path))
    with Workspace.open(path, settings, stdin=sys.stdin.buffer if reads_stdin else None) as ws:
        check_models(settings)  # a missing key or unknown provider, before anything is written
        warning = cost_budget_warning(settings, ws.client)
        if warning is not None:
            print(f"rlm-tui: warning: {warning}", file=sys.stderr)
        transcript_path = Path(transcript) if transcript else default_transcript_path()
        first = fork.plan.query if fork is not None else queries[0]
        writer = TranscriptWriter(transcript_path, query=first,
                                  settings=settings.public_dict(),
                                  context=ws.context_summary(),
                                  fork_of=fork.plan.fork_of if fork is not None else None)
        bus = ev.EventBus(on_error=_report_subscriber_error)
        bus.subscribe(writer)
        progress = ProgressLine()  # it folds the session tree the summary reads
        bus.subscribe(progress)
        if transcript is None:
            print(f"rlm-tui: transcript: {transcript_path}", file=sys.stderr)
        try:
            outcomes = asyncio.run(_session(ws, queries, bus, preparing, fork=fork))
        finally:
            writer.close()
    return outcomes, progress.tree, transcript_path


def run_headless(path: str | Sequence[str | Source], queries: list[str] | str,
                 settings: Settings, *,
                 transcript: str | None, as_json: bool, fork: Fork | None = None) -> int:
    """Ask each question in turn on one session and print the answers; returns the exit
    code (errors as RlmTuiError)."""
    queries = [queries] if isinstance(queries, str) else list(queries)
    if fork is None and not queries:
        raise RlmTuiError("no query: pass --query \"your question\"")
    for query in queries:
        if not query.strip():
            raise RlmTuiError("a query is empty: pass --query \"your question\"")
    if settings.approve != "none":
        print(f"rlm-tui: warning: approve = \"{settings.approve}\" in the settings is for "
              "the app: a headless run holds no cell", file=sys.stderr)
        settings = settings.model_copy(update={"approve": "none"})
    specs = model_specs(settings)  # cheap checks first: a missing model is a usage error
    # The models' transports get ready (aiohttp's import, ~0.2 s) while the context loads,
    # before the run: start-up is not the run's time, and its first call does not wait.
    preparing = prepare_models(specs)
    try:
        outcomes, tree, transcript_path = _in_workspace(path, queries, settings, transcript,
                                                        fork, preparing)
    finally:
        # Never leave it importing: at exit, a daemon thread frozen inside an import holds
        # that module's lock, and a finaliser that imports (litellm's) then waits forever.
        preparing.join()
    asked = queries if fork is None or fork.new_question else [fork.plan.turns[-1].query,
                                                                *queries]
    code = EXIT_ANSWERED
    for outcome in outcomes:
        if outcome.status == "failed":
            print(f"rlm-tui: {outcome.reason}", file=sys.stderr)
            code = max(code, EXIT_MODEL if outcome.error_kind else EXIT_STOPPED)
        elif outcome.status == "halted":
            print(f"rlm-tui: stopped without an answer: {outcome.reason}", file=sys.stderr)
            code = max(code, EXIT_STOPPED)
    for query in asked[len(outcomes):]:
        print(f"rlm-tui: not asked (the session stopped): {query}", file=sys.stderr)
        code = max(code, EXIT_STOPPED)
    if as_json:
        summary = json.dumps(run_summary(outcomes, asked, tree, transcript_path),
                             ensure_ascii=False)
        print(escape_json_controls(summary))
    else:
        for outcome in outcomes:
            if outcome.answer is not None:
                print(for_terminal(outcome.answer))  # shown, not obeyed, on a terminal
    return code


def _report_subscriber_error(subscriber: Any, exc: BaseException) -> None:
    print(f"rlm-tui: a view stopped with an error and was detached: {exc}", file=sys.stderr)

