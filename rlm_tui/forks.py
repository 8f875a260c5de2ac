"""Forking a recorded session, as the command line and the app both start one: the
transcript read and checked, the plan made from its session tree, and where its context and
settings come from.

    fork = load_fork("run.jsonl", "3")       # InputError / UsageError: one line, exit 2
    fork.plan, fork.context_source, fork.settings
    fork_sources(header, None)   # what Workspace.open loads: the parent's path or sources
    plan = plan_fork(events, "2:3", transcript="run.jsonl")     # from events in hand
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlm_tui.context.sources import DATA_SUFFIXES, Source
from rlm_tui.engine.fork_plan import (
    ForkPlan,
    RecordedCall,
    RecordedCell,
    RecordedIteration,
    RecordedTool,
    RecordedTurn,
)
from rlm_tui.errors import InputError, UsageError
from rlm_tui.transcript.model import SessionModel
from rlm_tui.transcript.nodes import CellNode, IterationNode, SessionNode, TurnNode
from rlm_tui.transcript.reader import Transcript, read_transcript

# The parent's settings a fork keeps unless a flag says otherwise: its models, limits and
# context filters (not the app's look, nor --approve).
INHERITED_SETTINGS = (
    "model", "sub_model", "api_base", "sub_api_base", "max_iterations", "max_depth",
    "max_cost", "max_tokens", "max_time", "max_output_tokens", "sub_max_output_tokens",
    "max_concurrency", "cell_timeout", "memory_mb", "model_output_chars", "include", "exclude",
    "include_secrets", "max_file_size", "max_total_size", "transport", "models", "tools",
)


@dataclass
class LoadedFork:
    transcript: Transcript
    plan: ForkPlan

    @property
    def context_source(self) -> str | None:
        return context_source(self.transcript.header)

    @property
    def settings(self) -> dict[str, Any]:
        """The parent's settings a fork continues with (below the fork's own flags)."""
        recorded = self.transcript.header.get("settings") or {}
        return {k: recorded[k] for k in INHERITED_SETTINGS if k in recorded}


def load_fork(path: str | Path, at: str | tuple[int, int]) -> LoadedFork:
    """Read the transcript at `path` and plan a fork after iteration `at` of it."""
    transcript = read_transcript(path)
    if transcript.source_format != "rlm-tui":
        raise UsageError(f"{path} is an rlms log: it does not record sub-call responses, so "
                         "its REPL cannot be rebuilt; fork a transcript written by rlm-tui")
    plan = plan_from_tree(transcript.fold(), at, transcript=str(path))
    return LoadedFork(transcript, plan)


_AT = re.compile(r"\s*(?:(\d+)\s*[:.]\s*)?(\d+)\s*")


def parse_at(at: str | tuple[int, int]) -> tuple[int | None, int]:
    """"K" (turn unsaid), "T:K" or (T, K)."""
    if isinstance(at, tuple):
        return at
    match = _AT.fullmatch(str(at))
    if match is None:
        raise UsageError(f"--at {at!r}: give an iteration K, or T:K for iteration K of "
                         "turn T (follow-up questions are turns 2, 3, ...)")
    return (int(match.group(1)) if match.group(1) else None), int(match.group(2))


def plan_fork(events: Any, at: str | tuple[int, int], *, transcript: str) -> ForkPlan:
    """The plan to fork the session these events record after iteration `at`."""
    return plan_from_tree(SessionModel.from_events(events), at, transcript=transcript)


def plan_from_tree(tree: SessionModel, at: str | tuple[int, int], *,
                   transcript: str) -> ForkPlan:
    """The plan to fork the tree's root session after iteration `at`; UsageError (one line)
    when there is no such whole iteration. A transcript cut short forks at its last whole
    iteration, with a warning."""
    root = tree.root
    if root is None or not root.turns:
        raise UsageError(f"{transcript}: no session in it to fork")
    turn_no, k = parse_at(at)
    turns = root.turns
    if turn_no is None:
        if len(turns) > 1:
            raise UsageError(f"{transcript} has {len(turns)} turns (follow-up questions): "
                             f"pass --at T:{k} for iteration {k} of turn T")
        turn_no = 1
    if not 1 <= turn_no <= len(turns):
        raise UsageError(f"{transcript} has no turn {turn_no} (it has {len(turns)})")
    where = f"turn {turn_no} of {transcript}" if len(turns) > 1 else transcript
    counted = [it for it in root.iterations if it.turn == turn_no and not it.forced]
    whole = [it.iteration for it in counted if _whole(it)]
    if k < 1 or k > len(counted):
        plural = "s" if len(counted) != 1 else ""
        raise UsageError(f"--at {k}: {where} has {len(counted)} iteration{plural} "
                         f"(1 to {len(counted)})" if counted else
                         f"--at {k}: {where} has no iteration to fork from")
    warning = None
    if k not in whole:
        ended = turns[turn_no - 1].status != "running"
        if whole and k > max(whole) and not ended:
            warning = (f"iteration {k} of {where} did not finish (the transcript is cut "
                       f"short): forking after iteration {max(whole)}, its last whole one")
            k = max(whole)
        else:
            raise UsageError(f"--at {k}: iteration {k} of {where} did not finish, so the "
                             "state after it is not known")
    recorded = [_turn(root, turn) for turn in turns[:turn_no]]
    recorded[-1].iterations = [it for it in recorded[-1].iterations
                               if it.iteration <= k and not it.forced]
    messages = any(it.messages for it in root.iterations) or any(t.opening for t in turns)
    return ForkPlan(transcript=transcript, session_id=root.node_id, turn=turn_no,
                    iteration=k, turns=recorded, messages_recorded=messages,
                    root_model=root.root_model, sub_model=root.sub_model, warning=warning)


def _whole(it: IterationNode) -> bool:
    """Its reply came back and every cell of it finished: the state after it is known."""
    return (it.status == "done" and not it.forced
            and all(cell.status in ("done", "error") for cell in it.cells))


def _turn(root: SessionNode, turn: TurnNode) -> RecordedTurn:
    iterations = [_iteration(it) for it in root.iterations if it.turn == turn.turn]
    return RecordedTurn(turn.turn, turn.query, opening=list(turn.opening),
                        iterations=iterations, ended=turn.status != "running",
                        status=turn.status if turn.status != "running" else "halted",
                        answer=turn.answer, forced=turn.forced, source=turn.source,
                        reason=turn.reason, iterations_done=turn.iterations,
                        schema=turn.answer_schema)


def _iteration(it: IterationNode) -> RecordedIteration:
    before = [m for m in it.messages if m[1] in ("note", "forced")]
    after = [m for m in it.messages if m[1] not in ("note", "forced")]
    reply = (it.done_text or "") if it.status == "done" and not it.error else None
    return RecordedIteration(it.turn, it.iteration, it.max_iterations, reply=reply,
                             model=it.model, finish_reason=it.finish_reason, forced=it.forced,
                             before=before, after=after,
                             cells=[_cell(cell) for cell in it.cells],
                             rejections=[(r.answer, list(r.errors), r.source)
                                         for r in it.rejections if not r.forced],
                             compactions=[(c.summary, c.replaced) for c in it.compactions
                                          if c.replaced])


def _cell(cell: CellNode) -> RecordedCell:
    calls = [RecordedCall(call.kind, call.prompt, call.model, call.response, call.error)
             for call in cell.subcalls]
    return RecordedCell(cell.index, cell.code, cell.ran_code or cell.code,
                        decision=cell.decision, skipped=cell.skipped,
                        finished=cell.status in ("done", "error"), stdout=cell.stdout,
                        error=cell.error, calls=calls,
                        tools=[RecordedTool(t.name, t.arguments, t.result,
                                            t.error if t.status != "stopped" else
                                            t.error or "stopped")
                               for t in cell.tools])


def context_source(header: dict[str, Any]) -> str | None:
    """Where a transcript's context was loaded from (its absolute root when recorded), or
    None when it cannot be loaded again (stdin, data given in code, or no record of it).
    For several sources: their paths, joined by ", " (for people; `fork_sources` loads)."""
    context = header.get("context") or {}
    recorded = _recorded_sources(context)
    if len(recorded) > 1 or any(item.get("kind") == "data" for item in recorded):
        paths = [str(item.get("path") or "") for item in recorded]
        if any(path in ("", "-", "data") for path in paths):
            return None
        return ", ".join(paths)
    source = context.get("root") or context.get("source")
    if not source or source == "-":
        return None
    return str(source)


def fork_context(header: dict[str, Any], given: str | None) -> str:
    """The context a fork loads: `given`, else the parent's; InputError when neither can.
    (One path; `fork_sources` also takes a session of several sources.)"""
    if given:
        return given
    loaded = fork_sources(header, None)
    if not isinstance(loaded, str):
        raise InputError("the forked session had several sources: load them with "
                         "fork_sources")
    return loaded


def fork_sources(header: dict[str, Any], given: Sequence[str] | None) -> str | list[Source]:
    """What a fork loads (as `Workspace.open` takes it): the parent's sources under their
    recorded names, each from its recorded path or, when `given`, from the path given in its
    place (one path each, in the recorded order). A .json/.jsonl path given for a data
    source is read as data. InputError (one line) for a source that cannot be loaded again:
    stdin, data given in code (a transcript never holds the data), or a path that is gone;
    UsageError for a count of `given` paths that is not the sources'."""
    recorded = _recorded_sources(header.get("context") or {})
    several = (len(recorded) > 1 or any(item.get("kind") == "data" for item in recorded)
               or any(item.get("name") not in (None, "context_0") for item in recorded))
    if not several:
        if given:
            if len(given) != 1:
                raise UsageError(f"--context: the forked session had one context; "
                                 f"{len(given)} paths given")
            return given[0]
        return _one_recorded(header)
    names = ", ".join(str(item.get("name")) for item in recorded)
    if given and len(given) != len(recorded):
        raise UsageError(f"--context: the forked session had {len(recorded)} sources "
                         f"({names}): give {len(recorded)} paths, in that order")
    sources: list[Source] = []
    for i, item in enumerate(recorded):
        name, kind = str(item.get("name")), item.get("kind")
        path = given[i] if given else str(item.get("path") or "")
        as_data = kind == "data" and path.lower().endswith(DATA_SUFFIXES)
        if not given:
            if path == "data":
                raise InputError(f"the forked session's source {name!r} was data given in "
                                 "code, which a transcript does not hold: pass --context with "
                                 f"a path for each of its sources ({names}; a .json or .jsonl "
                                 "file is read as data)")
            if path in ("", "-"):
                raise InputError(f"the forked session's source {name!r} came from stdin or "
                                 f"is not recorded: pass --context with a path for each of "
                                 f"its sources ({names})")
            if not Path(path).exists():
                raise InputError(f"the forked session's source {name!r} ({path}) is gone: "
                                 f"pass --context with a path for each of its sources "
                                 f"({names})")
        sources.append(Source(name=name, path=path, as_data=as_data))
    return sources


def _recorded_sources(context: dict[str, Any]) -> list[dict[str, Any]]:
    recorded = context.get("sources")
    if not isinstance(recorded, list):
        return []
    return [item for item in recorded if isinstance(item, dict)]


def _one_recorded(header: dict[str, Any]) -> str:
    source = context_source(header)
    if source is None:
        raise InputError("the forked session's context came from stdin or is not recorded: "
                         "pass --context PATH")
    if not Path(source).exists():
        raise InputError(f"the forked session's context {source} is gone: pass --context PATH")
    return source
