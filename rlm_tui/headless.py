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
from pathlib import Path
from typing import Any

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine.session import Outcome
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

EXIT_ANSWERED, EXIT_STOPPED, EXIT_USAGE, EXIT_MODEL = 0, 1, 2, 3


def _summary(outcome: Outcome, tree: SessionModel, transcript: Path) -> dict[str, Any]:
    """The --json document: the outcome, and the session tree's totals."""
    totals = tree.totals.to_dict()
    return {
        "answer": outcome.answer,
        "status": outcome.status,
        "forced": outcome.forced,
        "halted_reason": outcome.reason if outcome.status != "answered" else None,
        "iterations": outcome.iterations,
        "sub_calls": totals["sub_calls"],
        "tokens": totals["tokens"],
        "cost_usd": totals["cost_usd"],
        "cost_complete": totals["cost_complete"],
        "seconds": totals["seconds"],
        "transcript": str(transcript),
    }


async def _run(workspace: Workspace, query: str, bus: ev.EventBus) -> Outcome:
    run = workspace.new_run(bus)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, run.control.halt, f"interrupted by {sig.name}")
    try:
        outcome = await run.start(query, workspace.run_context())
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return outcome


def run_headless(path: str, query: str, settings: Settings, *, transcript: str | None,
                 as_json: bool) -> int:
    """Run to the end and print the answer; returns the exit code (errors as RlmTuiError)."""
    if not query.strip():
        raise RlmTuiError("the query is empty: pass --query \"your question\"")
    specs = model_specs(settings)  # cheap checks first: a missing model is a usage error
    # The models' transports get ready (aiohttp's import, ~0.2 s) while the context loads,
    # before the run: start-up is not the run's time, and its first call does not wait.
    preparing = prepare_models(specs)
    with Workspace.open(path, settings, stdin=sys.stdin.buffer if path == "-" else None) as ws:
        check_models(settings)  # a missing key or unknown provider, before anything is written
        warning = cost_budget_warning(settings, ws.client)
        if warning is not None:
            print(f"rlm-tui: warning: {warning}", file=sys.stderr)
        transcript_path = Path(transcript) if transcript else default_transcript_path()
        writer = TranscriptWriter(transcript_path, query=query,
                                  settings=settings.public_dict(),
                                  context=ws.context_summary())
        bus = ev.EventBus(on_error=_report_subscriber_error)
        bus.subscribe(writer)
        progress = ProgressLine()  # it folds the session tree the summary reads
        bus.subscribe(progress)
        if transcript is None:
            print(f"rlm-tui: transcript: {transcript_path}", file=sys.stderr)
        try:
            preparing.join()
            # The start-up's ~40,000 long-lived objects (modules, schemas) out of the garbage
            # collector's way: each full collection during the run scanned them all again.
            gc.freeze()
            outcome = asyncio.run(_run(ws, query, bus))
        finally:
            writer.close()
    if outcome.status == "failed":
        print(f"rlm-tui: {outcome.reason}", file=sys.stderr)
        code = EXIT_MODEL if outcome.error_kind else EXIT_STOPPED
    elif outcome.status == "halted":
        print(f"rlm-tui: stopped without an answer: {outcome.reason}", file=sys.stderr)
        code = EXIT_STOPPED
    else:
        code = EXIT_ANSWERED
    if as_json:
        summary = json.dumps(_summary(outcome, progress.tree, transcript_path),
                             ensure_ascii=False)
        print(escape_json_controls(summary))
    elif outcome.answer is not None:
        print(for_terminal(outcome.answer))  # shown, not obeyed, on a terminal
    return code


def _report_subscriber_error(subscriber: Any, exc: BaseException) -> None:
    print(f"rlm-tui: a view stopped with an error and was detached: {exc}", file=sys.stderr)

