"""`rlm-tui run`: one run without the app, for scripts and CI, over the Python API's Session.

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
from pathlib import Path
from typing import Any

from rlm_tui.api import Fork, Result, Session
from rlm_tui.config import Settings
from rlm_tui.engine.answer_schema import jsonable, value_json
from rlm_tui.errors import RlmTuiError
from rlm_tui.printable import escape_json_controls, for_terminal
from rlm_tui.progress import ProgressLine
from rlm_tui.transcript import SessionModel, default_transcript_path

EXIT_ANSWERED, EXIT_STOPPED, EXIT_USAGE, EXIT_MODEL = 0, 1, 2, 3


def _goes_on(outcome: Result) -> bool:
    """Whether the next question is asked after this one: an answer (forced or not) goes on;
    a halt (a budget, a signal) or a failure stops the session."""
    return outcome.status == "answered"


def run_summary(outcomes: Sequence[Result], queries: list[str], tree: SessionModel,
                transcript: Path | None) -> dict[str, Any]:
    """The --json document: the last question's outcome, each turn's, and the session
    tree's totals (across every turn); `rlm-tui eval` records each task with it too."""
    totals = tree.totals.to_dict()
    last = outcomes[-1]
    summary: dict[str, Any] = {
        "answer": last.answer,
        "value": _typed_value(last),  # the validated value with a schema, else null
        "status": last.status,
        "forced": last.forced,
        "halted_reason": last.reason if last.status != "answered" else None,
        "iterations": last.iterations,
        "sub_calls": totals["sub_calls"],
        "tokens": totals["tokens"],
        "cost_usd": totals["cost_usd"],
        "cost_complete": totals["cost_complete"],
        "seconds": totals["seconds"],
        "transcript": str(transcript) if transcript else None,
        "turns": [{"turn": o.turn, "query": q, "answer": o.answer,
                   "value": _typed_value(o), "status": o.status,
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


def _typed_value(result: Result) -> Any:
    """A validated value as plain JSON data (a pydantic model dumped); None without one."""
    return jsonable(result.value) if result.validated else None


async def _session(session: Session, queries: list[str], fork: Fork | None,
                   transcript_shown: Path | None) -> list[Result]:
    """Ask the questions in turn on one session (one REPL); stop at a halt or failure."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, session.halt, f"interrupted by {sig.name}")
    results: list[Result] = []
    printed = 0
    try:
        await session.open()
        for warning in session.warnings:
            print(f"rlm-tui: warning: {warning}", file=sys.stderr)
        printed = len(session.warnings)
        if transcript_shown is not None:
            print(f"rlm-tui: transcript: {transcript_shown}", file=sys.stderr)
        # The start-up's ~40,000 long-lived objects (modules, schemas) out of the garbage
        # collector's way: each full collection during the run scanned them all again.
        gc.freeze()
        rest = queries
        if fork is not None and not fork.new_question:
            results.append(await session.continue_fork())
        else:
            results.append(await session.ask_result(queries[0]))
            rest = queries[1:]
        for query in rest:
            if not _goes_on(results[-1]):
                break
            results.append(await session.ask_result(query))
    finally:
        await session.close()
        # Warnings of the run and its end (a trace backend that is down), once it is over:
        # the progress line is gone by then.
        for warning in session.warnings[printed:]:
            print(f"rlm-tui: warning: {warning}", file=sys.stderr)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return results


def run_headless(sources: str | list[Any], queries: list[str] | str, settings: Settings, *,
                 transcript: str | None, as_json: bool, fork: Fork | None = None) -> int:
    """Ask each question in turn on one session over `sources` (a path, or several) and
    print the answers; returns the exit code (errors as RlmTuiError)."""
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
    transcript_path = Path(transcript) if transcript else default_transcript_path()
    session = Session(sources, settings=settings, transcript=transcript_path,
                      on_event=ProgressLine(), fork=fork)
    results = asyncio.run(_session(session, queries, fork,
                                   None if transcript else transcript_path))
    asked = queries if fork is None or fork.new_question else [fork.plan.turns[-1].query,
                                                                *queries]
    code = EXIT_ANSWERED
    for result in results:
        if result.status == "failed":
            print(f"rlm-tui: {result.reason}", file=sys.stderr)
            code = max(code, EXIT_MODEL if result.error_kind else EXIT_STOPPED)
        elif result.status == "halted":
            print(f"rlm-tui: stopped without an answer: {result.reason}", file=sys.stderr)
            code = max(code, EXIT_STOPPED)
    for query in asked[len(results):]:
        print(f"rlm-tui: not asked (the session stopped): {query}", file=sys.stderr)
        code = max(code, EXIT_STOPPED)
    if as_json:
        summary = json.dumps(run_summary(results, asked, session.tree, session.transcript),
                             ensure_ascii=False)
        print(escape_json_controls(summary))
    else:
        for result in results:
            if result.validated:
                print(for_terminal(value_json(result.value)))  # the validated JSON, one line
            elif result.answer is not None:
                print(for_terminal(result.answer))  # shown, not obeyed, on a terminal
    return code
