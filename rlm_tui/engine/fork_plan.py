"""What a fork continues: a recorded session, read from its events up to iteration K.

    plan = plan_fork(transcript.events, "3", transcript="run.jsonl")    # or "2:3", (2, 3)

The plan holds, for each turn up to K's, the question, the messages the engine added (the
system prompt, notes, code output: `message_added`) and each whole iteration's reply and
cells, with every sub-call's recorded response: enough to rebuild the REPL without a model
call (engine/fork.py) and to hand the root model the conversation as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rlm_tui import events as ev
from rlm_tui.errors import UsageError


@dataclass
class RecordedCall:
    kind: str
    prompt: str
    model: str
    response: str = ""
    error: str | None = None


@dataclass
class RecordedCell:
    index: int
    code: str  # as the model wrote it
    ran: str  # the code that ran (a person's edit), or the model's
    decision: ev.CellDecision | None = None
    skipped: bool = False
    finished: bool = False
    stdout: str = ""
    error: str | None = None
    calls: list[RecordedCall] = field(default_factory=list)


@dataclass
class RecordedIteration:
    turn: int
    iteration: int
    max_iterations: int
    reply: str | None = None  # None: its call never finished
    model: str = ""
    finish_reason: str | None = None
    forced: bool = False
    before: list[ev.MessageAdded] = field(default_factory=list)  # sent before its call
    after: list[ev.MessageAdded] = field(default_factory=list)  # its output, as sent
    cells: list[RecordedCell] = field(default_factory=list)

    @property
    def whole(self) -> bool:
        """Its reply came back and every cell of it finished: the REPL's state after it is
        known."""
        return (self.reply is not None and not self.forced
                and all(cell.finished for cell in self.cells))

    @property
    def sub_calls(self) -> int:
        return sum(len(cell.calls) for cell in self.cells)


@dataclass
class RecordedTurn:
    turn: int
    query: str
    opening: list[ev.MessageAdded] = field(default_factory=list)  # system, question
    iterations: list[RecordedIteration] = field(default_factory=list)
    end: ev.SessionFinished | None = None
    answer: ev.FinalAnswer | None = None


@dataclass
class ForkPlan:
    transcript: str
    session_id: str
    turn: int  # fork after iteration `iteration` of turn `turn`
    iteration: int
    turns: list[RecordedTurn]  # up to `turn`, its iterations cut after `iteration`
    messages_recorded: bool  # False: an older transcript; the engine's messages are rebuilt
    root_model: str = ""
    sub_model: str = ""
    warning: str | None = None  # e.g. a transcript cut short: forked at its last whole one

    @property
    def query(self) -> str:
        return self.turns[0].query

    @property
    def fork_of(self) -> dict[str, Any]:
        return {"transcript": self.transcript, "session_id": self.session_id,
                "turn": self.turn, "iteration": self.iteration}

    @property
    def iterations(self) -> list[RecordedIteration]:
        return [it for turn in self.turns for it in turn.iterations]

    @property
    def sub_calls(self) -> int:
        return sum(it.sub_calls for it in self.iterations)


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


def plan_fork(events: list[Any], at: str | tuple[int, int], *, transcript: str) -> ForkPlan:
    """The plan to fork the recorded root session after iteration `at`; UsageError (one
    line) when there is no such whole iteration."""
    turns, root, messages_recorded, models = _read(events)
    if root is None or not turns:
        raise UsageError(f"{transcript}: no session in it to fork")
    turn_no, k = parse_at(at)
    if turn_no is None:
        if len(turns) > 1:
            raise UsageError(f"{transcript} has {len(turns)} turns (follow-up questions): "
                             f"pass --at T:{k} for iteration {k} of turn T")
        turn_no = 1
    if not 1 <= turn_no <= len(turns):
        raise UsageError(f"{transcript} has no turn {turn_no} (it has {len(turns)})")
    turn = turns[turn_no - 1]
    counted = [it for it in turn.iterations if not it.forced]
    whole = [it for it in counted if it.whole]
    where = f"turn {turn_no} of {transcript}" if len(turns) > 1 else transcript
    if k < 1 or k > len(counted):
        raise UsageError(f"--at {k}: {where} has {len(counted)} iteration"
                         f"{'s' if len(counted) != 1 else ''} (1 to {len(counted)})"
                         if counted else f"--at {k}: {where} has no iteration to fork from")
    warning = None
    last_whole = max((it.iteration for it in whole), default=0)
    if not any(it.iteration == k for it in whole):
        if k > last_whole and turn.end is None and last_whole:
            warning = (f"iteration {k} of {where} did not finish (the transcript is cut "
                       f"short): forking after iteration {last_whole}, its last whole one")
            k = last_whole
        else:
            raise UsageError(f"--at {k}: iteration {k} of {where} did not finish, so the "
                             "state after it is not known")
    turn.iterations = [it for it in turn.iterations if it.iteration <= k and not it.forced]
    return ForkPlan(transcript=transcript, session_id=root.node_id, turn=turn_no,
                    iteration=k, turns=turns[:turn_no], messages_recorded=messages_recorded,
                    root_model=models[0], sub_model=models[1], warning=warning)


def _read(events: list[Any]) -> tuple[list[RecordedTurn], ev.SessionStarted | None, bool,
                                      tuple[str, str]]:
    """Fold the root session's events into turns, iterations, cells and sub-calls."""
    root: ev.SessionStarted | None = None
    turns: list[RecordedTurn] = []
    iterations: dict[str, RecordedIteration] = {}
    cells: dict[str, RecordedCell] = {}
    calls: dict[str, RecordedCall] = {}
    recorded = False
    models = ("", "")
    for e in events:
        if root is None:
            if isinstance(e, ev.SessionStarted) and e.depth == 0:
                root = e
                turns.append(RecordedTurn(1, e.query))
                models = (e.root_model, e.sub_model)
            continue
        if e.session_id != root.node_id:
            continue  # a child session's own events: its answer is its sub-call's response
        if isinstance(e, ev.TurnStarted):
            turns.append(RecordedTurn(e.turn, e.query))
        elif isinstance(e, ev.ModelsChanged):
            models = (e.root_model, e.sub_model)
        elif isinstance(e, ev.MessageAdded):
            recorded = True
            iteration = iterations.get(e.node_id)
            if iteration is None:
                turns[-1].opening.append(e)
            elif e.kind in ("note", "forced"):  # sent before the iteration's call
                iteration.before.append(e)
            else:
                iteration.after.append(e)
        elif isinstance(e, ev.IterationStarted):
            it = RecordedIteration(e.turn, e.iteration, e.max_iterations, forced=e.forced)
            iterations[e.node_id] = it
            turns[-1].iterations.append(it)
        elif isinstance(e, ev.RootDone):
            it = iterations.get(e.node_id)
            if it is not None and e.error is None:
                it.reply, it.model, it.finish_reason = e.text, e.model, e.finish_reason
        elif isinstance(e, ev.CellStarted):
            it = iterations.get(e.parent_id or "")
            if it is not None:
                cells[e.node_id] = cell = RecordedCell(e.index, e.code, e.code)
                it.cells.append(cell)
        elif isinstance(e, ev.CellDecided):
            cell = cells.get(e.node_id)
            if cell is not None:
                cell.decision, cell.ran = e.decision, e.code
        elif isinstance(e, ev.CellFinished):
            cell = cells.get(e.node_id)
            if cell is not None:
                cell.finished, cell.skipped = True, e.skipped
                cell.stdout, cell.error = e.stdout, e.error
        elif isinstance(e, ev.SubcallStarted):
            cell = cells.get(e.parent_id or "")
            if cell is not None:
                calls[e.node_id] = call = RecordedCall(e.kind, e.prompt, e.model)
                cell.calls.append(call)
        elif isinstance(e, ev.SubcallFinished):
            call = calls.get(e.node_id)
            if call is not None:
                call.response, call.error, call.model = e.response, e.error, e.model
        elif isinstance(e, ev.FinalAnswer) and e.node_id == root.node_id:
            turns[-1].answer = e
        elif isinstance(e, ev.SessionFinished) and e.node_id == root.node_id:
            turns[-1].end = e
    return turns, root, recorded, models
