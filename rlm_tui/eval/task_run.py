"""One task of an eval: load its context, run the RLM over it as `rlm-tui run` does (the same
Workspace, Run, transcript writer and session tree), score the answer, and, when asked, the
baseline beside it. Used in the eval's own process and inside a Ray task alike.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlm_tui.api import Session
from rlm_tui.config import Settings
from rlm_tui.context.pack import ContextPack
from rlm_tui.engine.answer_schema import value_json
from rlm_tui.engine.run import Run
from rlm_tui.engine.workspace import Workspace
from rlm_tui.errors import RlmTuiError
from rlm_tui.eval.baseline import run_baseline
from rlm_tui.eval.scorers import score_answer
from rlm_tui.eval.tasks import Task
from rlm_tui.headless import run_summary
from rlm_tui.lm import ModelClient
from rlm_tui.scratch import make_scratch_dir

# What a record says of a task whose session ended by an interrupt of the whole eval: it is
# not written, and runs again on resume.
INTERRUPTED = "interrupted"


def open_workspace(task: Task, settings: Settings, client: ModelClient | None, *,
                   pack_files: dict[str, bytes] | None = None) -> Workspace:
    """The task's context, loaded (or, from `pack_files`, a pack loaded elsewhere)."""
    if pack_files is not None:
        pack_dir = make_scratch_dir("pack")
        for name, data in pack_files.items():
            (Path(pack_dir) / name).write_bytes(data)
        return Workspace(task.source, settings, ContextPack.open(pack_dir), pack_dir, client)
    if isinstance(task.context, tuple):
        return Workspace.open([str(path) for path in task.context], settings, client=client)
    if task.context is not None:
        return Workspace.open(str(task.context), settings, client=client)
    stdin = io.BytesIO((task.context_text or "").encode("utf-8"))
    return Workspace.open("-", settings, stdin=stdin, client=client)


def pack_files_of(workspace: Workspace) -> dict[str, bytes]:
    """A loaded pack's files, to be opened again elsewhere (`open_workspace(pack_files=)`)."""
    return {path.name: path.read_bytes() for path in workspace.pack_dir.iterdir()
            if path.is_file()}


def error_record(task: Task, status: str, reason: str, *, transcript: Path | None = None,
                 error_kind: str | None = None) -> dict[str, Any]:
    """The record of a task that could not run."""
    return {"id": task.id, "status": status, "answer": None, "score": 0.0, "correct": False,
            "reason": reason, "error_kind": error_kind, "expected": list(task.expected),
            "scorer": task.scorer, "iterations": 0, "sub_calls": 0,
            "tokens": {"prompt": 0, "completion": 0, "total": 0, "estimated": False},
            "cost_usd": None, "seconds": 0.0,
            "transcript": str(transcript) if transcript else None}


async def run_task(task: Task, settings: Settings, client: ModelClient, *,
                   transcript_path: Path, limiter: asyncio.Semaphore | None = None,
                   baseline: bool = False, window: int | None = None,
                   pack_files: dict[str, bytes] | None = None,
                   on_run: Callable[[Run | None], None] | None = None,
                   interrupted: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Run one task to its end; its record for results.jsonl. Never raises for a task that
    cannot run (a context that does not load, a transcript that cannot be written): the
    record says so, with status "error"."""
    started = time.monotonic()
    try:
        workspace = await asyncio.to_thread(open_workspace, task, settings, client,
                                            pack_files=pack_files)
    except RlmTuiError as exc:
        return error_record(task, "error", f"context: {exc}")
    try:
        return await _run_in(workspace, task, settings, client, transcript_path, limiter,
                             baseline, window, on_run, interrupted, started)
    finally:
        await asyncio.to_thread(workspace.close)


async def _run_in(workspace: Workspace, task: Task, settings: Settings, client: ModelClient,
                  transcript_path: Path, limiter: asyncio.Semaphore | None, baseline: bool,
                  window: int | None, on_run: Callable[[Run | None], None] | None,
                  interrupted: Callable[[], bool], started: float) -> dict[str, Any]:
    # The one path from a call to a session, as `rlm-tui run` takes: the transcript writer
    # and the session tree the record reads are the Session's.
    session = Session.over(workspace, settings=settings, transcript=transcript_path,
                           limiter=limiter, models_checked=True, schema=task.schema)
    try:
        try:
            await session.open()
            if on_run is not None:
                on_run(session.run)
            assert session.run is not None
            jobs = [session.ask_result(task.query)]
            if baseline:
                jobs.append(run_baseline(task.query, workspace.pack, session.run, client,
                                         window=window))
            outcome, *plain = await asyncio.gather(*jobs)
        except RlmTuiError as exc:  # the transcript could not be written, say
            return error_record(task, "error", str(exc))
    finally:
        await session.close()
        if on_run is not None:
            on_run(None)
    tree = session.tree
    record = {"id": task.id, **run_summary([outcome], [task.query], tree, transcript_path)}
    record.pop("turns", None)  # one question a task
    if outcome.status == "halted" and interrupted():
        record["status"] = INTERRUPTED
    answer = outcome.answer if outcome.status == "answered" else None
    if answer is not None and outcome.validated:
        # The validated value, as the scorers read it (JSON, or a string schema's string).
        value = outcome.value
        answer = value if isinstance(value, str) else value_json(value)
    judged = score_answer(task.scorer, answer, task.expected, threshold=task.threshold)
    record.update(score=judged.score, correct=judged.correct, error_kind=outcome.error_kind,
                  expected=list(task.expected), scorer=task.scorer,
                  wall_seconds=round(time.monotonic() - started, 3))
    record["reason"] = record.pop("halted_reason")
    if plain:
        answer = plain[0]
        judged = score_answer(task.scorer, answer.get("answer"), task.expected,
                              threshold=task.threshold)
        record["baseline"] = {**answer, "score": judged.score, "correct": judged.correct}
    return record
