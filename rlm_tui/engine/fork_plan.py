"""What a fork continues: a recorded session up to iteration K, as the engine needs it.

The plan holds, for each turn up to K's, the question, the messages the engine added (the
system prompt, notes, code output: `message_added`) and each whole iteration's reply and
cells, with every sub-call's recorded response: enough to rebuild the REPL without a model
call (engine/fork.py) and to hand the root model the conversation as it was. It is made from
a transcript's session tree (rlm_tui/forks.py: `plan_fork`), which the engine does not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlm_tui import events as ev

# A message the engine added to the conversation: (role, kind, content).
RecordedMessage = tuple[str, str, str]


@dataclass
class RecordedCall:
    kind: str
    prompt: str
    model: str
    response: str = ""
    error: str | None = None


@dataclass
class RecordedTool:
    """A host tool's call as recorded: a fork's rebuild answers it from this, no host call."""

    name: str
    arguments: str  # JSON text, as tool_started holds it
    result: str = ""  # JSON text
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
    tools: list[RecordedTool] = field(default_factory=list)


@dataclass
class RecordedIteration:
    turn: int
    iteration: int
    max_iterations: int
    reply: str | None = None  # None: its call never finished
    model: str = ""
    finish_reason: str | None = None
    forced: bool = False
    before: list[RecordedMessage] = field(default_factory=list)  # sent before its call
    after: list[RecordedMessage] = field(default_factory=list)  # its output, as sent
    cells: list[RecordedCell] = field(default_factory=list)
    # Its answers sent back for not having the shape asked for: (answer, errors, source).
    rejections: list[tuple[str, list[str], str]] = field(default_factory=list)
    # The conversation compacted before its call: (summary, messages replaced), in order.
    compactions: list[tuple[str, int]] = field(default_factory=list)

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
    opening: list[RecordedMessage] = field(default_factory=list)  # system, question
    iterations: list[RecordedIteration] = field(default_factory=list)
    ended: bool = False  # its end is recorded
    status: ev.SessionEnd = "halted"
    answer: str | None = None
    forced: bool = False
    source: str = "FINAL"
    reason: str | None = None
    iterations_done: int = 0
    schema: dict[str, Any] | None = None  # the JSON Schema its answer had to match


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
    def schema(self) -> dict[str, Any] | None:
        """The JSON Schema the forked turn's answer had to match, if it had one."""
        return self.turns[-1].schema

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

    @property
    def tool_names(self) -> list[str]:
        """The tools its recorded cells called, in the order first called."""
        names = (tool.name for it in self.iterations for cell in it.cells
                 for tool in cell.tools)
        return list(dict.fromkeys(names))
