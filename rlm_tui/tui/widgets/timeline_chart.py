"""The run's timeline in the terminal: time along the top, a row of root calls, a row of code
cells, a row of tool calls, and the sub-calls below in parallel lanes (a batch side by side),
then each iteration's figures (time, tokens, cost), as the terminal has no hover.

The layout is the HTML export's (transcript/timeline.py: the spans, their lanes, the ticks and
`Timeline.place`); only the drawing is the terminal's, in character cells.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from rlm_tui.transcript.figures import usage_line
from rlm_tui.transcript.model import SessionModel
from rlm_tui.transcript.timeline import Span, Timeline, build_timeline
from rlm_tui.tui.drawing import component_style
from rlm_tui.units import format_clock, format_seconds

GUTTER = 11  # the row names' column
MAX_LANE_ROWS = 12  # more lanes than this share rows
# What each kind of bar is drawn with: a shape as well as a colour, for a terminal without.
GLYPHS = {"root": "█", "cell": "▆", "tool": "▄", "llm": "▬", "rlm": "▰", "error": "▒",
          "stopped": "░"}
LEGEND = (("root", "root model"), ("cell", "code cell"), ("llm", "sub-call"),
          ("rlm", "child session"), ("tool", "tool call"), ("error", "error"))

Run = tuple[str, str]  # (text, kind): kind "" is plain, else a bar's kind, "axis" or "name"


def chart_lines(timeline: Timeline, width: int) -> list[list[Run]]:
    """The chart as lines of runs, `width` columns wide (GUTTER of them for the names)."""
    columns = max(10, width - GUTTER - 1)
    lines: list[list[Run]] = []

    def col(t: float) -> int:
        return min(columns - 1, int(timeline.place(t, t, columns)[0]))

    labels, axis = [" "] * columns, ["─"] * columns
    for tick in timeline.ticks(max(2, columns // 12)):
        at = col(tick)
        text = _tick(tick, timeline.duration)
        axis[at] = "┬"
        if at + len(text) <= columns and all(c == " " for c in labels[max(0, at - 1):at + len(text)]):
            labels[at:at + len(text)] = text
    lines.append([(" " * GUTTER, ""), ("".join(labels), "axis")])
    lines.append([(" " * GUTTER, ""), ("".join(axis), "axis")])
    numbers = [" "] * columns
    for row in timeline.iterations:
        text, at = str(row.number), col(row.start)
        if at + len(text) <= columns and all(c == " " for c in numbers[max(0, at - 1):at + len(text)]):
            numbers[at:at + len(text)] = text
    lines.append([(_name("Iteration"), "name"), ("".join(numbers), "axis")])
    rows = [("Root model", [r.root for r in timeline.iterations]),
            ("Code", [s for r in timeline.iterations for s in r.cells])]
    if timeline.tool_calls:
        rows.append(("Tools", [s for r in timeline.iterations for s in r.tools]))
    for name, spans in rows:
        lines.append([(_name(name), "name"), *_bars(timeline, spans, columns)])
    if timeline.sub_calls:
        lane_rows = min(timeline.lanes, MAX_LANE_ROWS)
        by_row: list[list[Span]] = [[] for _ in range(lane_rows)]
        for row in timeline.iterations:
            for span in row.calls:
                by_row[span.lane * lane_rows // max(1, timeline.lanes)].append(span)
        for number, spans in enumerate(by_row):
            name = "Sub-calls" if number == 0 else ""
            lines.append([(_name(name), "name"), *_bars(timeline, spans, columns)])
        if lane_rows < timeline.lanes:
            lines.append([(_name(""), ""), (f"({timeline.lanes} lanes at once, in "
                                            f"{lane_rows} rows)", "axis")])
    return lines


def _bars(timeline: Timeline, spans: list[Span], columns: int) -> list[Run]:
    cells: list[str] = [""] * columns  # each column's kind
    for span in spans:
        start, length = timeline.place(span.start, span.end, columns)
        first = min(columns - 1, int(start))
        last = min(columns, max(first + 1, round(start + length)))
        kind = {"error": "error", "stopped": "stopped"}.get(span.status, span.kind)
        for at in range(first, last):
            if cells[at] != "error":  # an error shows through whatever shares its column
                cells[at] = kind
    runs: list[Run] = []
    for kind in cells:
        glyph = GLYPHS.get(kind, " ")
        if runs and runs[-1][1] == kind:
            runs[-1] = (runs[-1][0] + glyph, kind)
        else:
            runs.append((glyph, kind))
    return runs


LIST_HEADING = "   #    began     took  tokens and cost"


def iteration_lines(timeline: Timeline) -> list[str]:
    """One line per iteration: when it began, how long it took, its tokens and cost (all it
    rolled up), its sub-calls, and its name when that is not "Iteration N" (a later turn's)."""
    out = []
    for row in timeline.iterations:
        calls = len(row.calls)
        line = (f"{row.number:>4}  {format_seconds(row.start):>7}  "
                f"{format_seconds(row.end - row.start):>7}  {usage_line(row.usage)} · "
                f"{calls:,} sub-call{'' if calls == 1 else 's'}")
        if row.label != f"Iteration {row.number}" or row.forced:
            line += f" · {row.label}" + (" (forced final answer)" if row.forced else "")
        out.append(line)
    return out


def overall_line(timeline: Timeline) -> str:
    rows, calls = len(timeline.iterations), timeline.sub_calls
    text = (f"{rows:,} iteration{'' if rows == 1 else 's'}, {calls:,} sub-call"
            f"{'' if calls == 1 else 's'}")
    if timeline.tool_calls:
        text += f", {timeline.tool_calls:,} tool calls"
    return text + f" over {format_seconds(timeline.duration)}"


def _name(name: str) -> str:
    return f"{name:<{GUTTER - 1}.{GUTTER - 1}} "


def _tick(seconds: float, duration: float) -> str:
    return f"{seconds:g} s" if duration < 60 else format_clock(seconds)


class TimelineChart(VerticalScroll, can_focus=True):
    """The chart of a session tree, drawn again by `show` (and when the width changes)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline-chart--root", "timeline-chart--cell", "timeline-chart--llm",
        "timeline-chart--rlm", "timeline-chart--tool", "timeline-chart--error",
        "timeline-chart--stopped", "timeline-chart--axis", "timeline-chart--name",
    }
    DEFAULT_CSS = """
    TimelineChart {
        padding: 0 1;
        & > Static { width: auto; height: auto; }
        #timeline-overall { text-style: bold; margin-bottom: 1; }
        #timeline-list { margin-top: 1; }
        .timeline-chart--root { color: $primary; }
        .timeline-chart--cell { color: $success; }
        .timeline-chart--llm { color: $warning; }
        .timeline-chart--rlm { color: $accent; }
        .timeline-chart--tool { color: $secondary; }
        .timeline-chart--error { color: $error; }
        .timeline-chart--stopped { color: $foreground-muted; }
        .timeline-chart--axis { color: $foreground-muted; }
        .timeline-chart--name { color: $foreground-muted; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.timeline: Timeline | None = None
        self._drawn_width = 0

    def compose(self):
        yield Static("", id="timeline-overall", markup=False)
        yield Static("", id="timeline-picture")
        yield Static("", id="timeline-list", markup=False)

    def show(self, model: SessionModel) -> None:
        """Draw `model`'s timeline (its root session; in flight: up to its latest event)."""
        self.timeline = build_timeline(model, span_usage=False)
        self._draw()

    def on_resize(self) -> None:
        if self.timeline is not None and self.size.width != self._drawn_width:
            self._draw()

    def _draw(self) -> None:
        timeline = self.timeline
        if timeline is None:
            return
        self._drawn_width = self.size.width
        overall = self.query_one("#timeline-overall", Static)
        picture = self.query_one("#timeline-picture", Static)
        listing = self.query_one("#timeline-list", Static)
        if not timeline.iterations:
            overall.update("No iterations yet: the timeline draws itself as the run goes.")
            picture.update("")
            listing.update("")
            return
        overall.update(overall_line(timeline))
        text = Text(no_wrap=True, overflow="crop")
        for number, line in enumerate(chart_lines(timeline, max(30, self.size.width - 2))):
            if number:
                text.append("\n")
            for run, kind in line:
                style = (component_style(self, f"timeline-chart--{kind}") if kind else None)
                text.append(run, style or "")
        text.append("\n\n")
        drawn = {span.kind for span in timeline.spans} | {
            "error" for span in timeline.spans if span.status == "error"}
        for number, (kind, label) in enumerate((k, t) for k, t in LEGEND if k in drawn):
            text.append(("  " if number else " " * GUTTER) + GLYPHS[kind] * 2,
                        component_style(self, f"timeline-chart--{kind}"))
            text.append(f" {label}")
        picture.update(text)
        listing.update("\n".join([LIST_HEADING, *iteration_lines(timeline)]))
