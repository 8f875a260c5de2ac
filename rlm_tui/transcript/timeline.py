"""A session as a picture's data: its iterations along time, each root call, code cell, tool
call and sub-call as a span (start, end, seconds from the session's start), the sub-calls
packed into parallel lanes (a batch side by side), with each span's usage as the session tree
rolled it up. The HTML export draws it as SVG (html_timeline.py), the app as text in the
terminal (tui/widgets/timeline_chart.py), both placing spans with `Timeline.place`.

    timeline = build_timeline(model)      # model: a folded SessionModel
    for row in timeline.iterations: row.root, row.cells, row.calls, row.tools

Nothing here sums usage: every figure is a node's own usage or its roll-up (nodes.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from rlm_tui.events import Usage
from rlm_tui.transcript import figures

if TYPE_CHECKING:
    from rlm_tui.transcript.model import SessionModel
    from rlm_tui.transcript.nodes import IterationNode, Node

SpanKind = Literal["root", "cell", "llm", "rlm", "tool"]


@dataclass(frozen=True, slots=True)
class Span:
    """One thing that took time: a root call, a cell, a sub-call or a tool call."""

    kind: SpanKind
    label: str  # "iteration 3", "cell 1", "llm q2 [2/6]", "tool lookup"
    start: float  # seconds since the session began
    end: float
    status: str
    usage: Usage | None = None  # its call's usage (a sub-call: with its child's); None: no call
    lane: int = 0  # a sub-call's row among those running at once
    batch: int = 0  # a sub-call's batch: 1, 2, ... in its iteration (0: not batched)
    detail: str = ""  # one more fact: a child session's size, a tool's error

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(slots=True)
class IterationRow:
    """One iteration: its root call, cells, tool calls and sub-calls, and its roll-up."""

    number: int  # 1, 2, ... along the whole session (every turn)
    label: str  # "Iteration 3", "Turn 2 · Iteration 1"
    start: float
    end: float
    status: str
    usage: Usage  # everything beneath it: its root call, sub-calls, child sessions
    root: Span
    cells: list[Span] = field(default_factory=list)
    calls: list[Span] = field(default_factory=list)
    tools: list[Span] = field(default_factory=list)
    forced: bool = False


@dataclass(slots=True)
class Timeline:
    duration: float  # seconds from the session's start to its last span's end
    iterations: list[IterationRow]
    lanes: int  # sub-call lanes (the most sub-calls in flight at once)

    @property
    def sub_calls(self) -> int:
        return sum(len(row.calls) for row in self.iterations)

    @property
    def tool_calls(self) -> int:
        return sum(len(row.tools) for row in self.iterations)

    @property
    def spans(self) -> list[Span]:
        return [span for row in self.iterations
                for span in (row.root, *row.cells, *row.tools, *row.calls)]

    def place(self, start: float, end: float, width: float,
              least: float = 1.0) -> tuple[float, float]:
        """Where a span falls across `width` units (pixels, terminal columns): its offset
        and its length, at least `least` so that the shortest call still shows."""
        scale = width / self.duration if self.duration > 0 else 0.0
        return start * scale, max(least, (end - start) * scale)

    def ticks(self, most: int = 8) -> list[float]:
        """Round times for an axis: at most `most` (0 included) from 0 to the duration."""
        if self.duration <= 0:
            return [0.0]
        step = nice_step(self.duration / max(1, most - 1))
        count = int(self.duration / step + 1e-9)
        return [round(n * step, 6) for n in range(count + 1)]


def nice_step(rough: float) -> float:
    """The round number (1, 2 or 5 times a power of ten; 15 s, 30 s, minutes) at or above."""
    for step in (15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if 10 < rough <= step:
            return float(step)
    power = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 5, 10):
        if rough <= factor * power:
            return factor * power
    return 10 * power


def build_timeline(model: SessionModel, *, span_usage: bool = True) -> Timeline:
    """The root session's timeline (a child session shows as its sub-call's span).
    `span_usage=False`: only the iterations carry usage (a roll-up costs ~8 µs a node, most
    of the build; the terminal, which has no hover, shows usage per iteration)."""
    root = model.root
    if root is None:
        return Timeline(0.0, [], 0)
    origin = root.started_ts or (root.iterations[0].started_ts if root.iterations else 0.0)
    now = model.last_ts or origin

    def at(ts: float, fallback: float) -> float:
        return max(0.0, (ts or fallback) - origin)

    rows: list[IterationRow] = []
    packer = _LanePacker()
    for number, it in enumerate(root.iterations, 1):
        rows.append(_row(number, it, at, now, packer, span_usage))
    duration = max((row.end for row in rows), default=0.0)
    if root.ended_ts:
        duration = max(duration, at(root.ended_ts, now))
    return Timeline(duration, rows, packer.lanes)


def _row(number: int, it: IterationNode, at, now: float, packer: _LanePacker,
         span_usage: bool) -> IterationRow:
    start = at(it.started_ts, now)
    label = figures.iteration_name(it)
    root = Span("root", label, start, at(it.ended_ts, now), it.status, it.usage,
                detail=it.model or "")
    row = IterationRow(number, label, start, root.end, it.status, it.rollup, root,
                       forced=it.forced)
    batch, batches = 0, 0
    for cell in it.cells:
        cell_end = at(cell.ended_ts, now)
        row.cells.append(Span("cell", f"cell {cell.index}", at(cell.started_ts, now), cell_end,
                              cell.status, cell.rollup if span_usage else None,
                              detail=cell.error_kind or ""))
        for call in cell.subcalls:
            if call.batch_size > 1 and call.batch_index == 0:
                batches += 1
                batch = batches
            span_start = at(call.started_ts, now)
            span_end = max(span_start, at(call.ended_ts, now))
            row.calls.append(Span(
                "rlm" if call.kind == "rlm" else "llm", call.title, span_start, span_end,
                call.status, call.rollup if span_usage else None,
                lane=packer.place(span_start, span_end),
                batch=batch if call.batch_size > 1 else 0, detail=_call_detail(call)))
        for tool in cell.tools:
            row.tools.append(Span("tool", tool.title, at(tool.started_ts, now),
                                  at(tool.ended_ts, now), tool.status,
                                  detail=tool.error or ""))
    row.end = max([row.end, *(s.end for s in (*row.cells, *row.calls, *row.tools))])
    return row


def _call_detail(call: Node) -> str:
    child = getattr(call, "child", None)
    if child is None:
        return getattr(call, "error", None) or ""
    calls = child.tally.sub_calls
    return (f"child session: {len(child.iterations):,} iteration"
            f"{'s' if len(child.iterations) != 1 else ''}, {calls:,} sub-call"
            f"{'s' if calls != 1 else ''}, {child.status}")


class _LanePacker:
    """Puts each interval in the lowest lane free at its start: calls in flight at once sit
    side by side (a batch's bars stack), and a sequence of calls reuses one lane."""

    def __init__(self) -> None:
        self._ends: list[float] = []

    @property
    def lanes(self) -> int:
        return len(self._ends)

    def place(self, start: float, end: float) -> int:
        for lane, busy_until in enumerate(self._ends):
            if busy_until <= start:
                self._ends[lane] = end
                return lane
        self._ends.append(end)
        return len(self._ends) - 1
