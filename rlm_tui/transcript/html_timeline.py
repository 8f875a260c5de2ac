"""The timeline (timeline.py) as inline SVG: time along the top, a row of root calls, a row
of code cells, a row of tool calls, and the sub-calls below in parallel lanes (a batch as
bars side by side). Every bar has an SVG <title> (its label, time, tokens and cost), which a
browser shows on hover with scripts off; each iteration's band links to its place in the page.

A long run stays drawable: the picture widens with the number of iterations up to a cap
(the page scrolls it sideways), lanes grow thinner past a height, and nothing is drawn per
pixel, only per span (~150 bytes each).
"""

from __future__ import annotations

from html import escape

from rlm_tui.transcript.figures import usage_line
from rlm_tui.transcript.timeline import Span, Timeline
from rlm_tui.units import format_clock, format_seconds

GUTTER = 96  # the row names' column
MIN_WIDTH, MAX_WIDTH, PX_PER_ITERATION = 1120, 8000, 8
RIGHT = 36  # room for the last tick's label
ROOT_H, CELL_H, TOOL_H, GAP = 16, 10, 10, 6
LANE_H_MAX, LANES_MAX_HEIGHT = 10.0, 320.0
AXIS_H = 22
TICK_PX = 160  # a wide picture (it scrolls) keeps a tick about this often

TIMELINE_CSS = """
.timeline { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px;
  padding: .4rem 0; background: var(--code); }
.timeline svg { display: block; font: 11px system-ui, sans-serif; }
.timeline .axis { stroke: var(--line); } .timeline .tick { fill: var(--muted); }
.timeline .row-name { fill: var(--muted); }
.timeline .band { fill: transparent; } .timeline .band.odd { fill: var(--band); }
.timeline a:hover .band, .timeline a:focus .band { fill: var(--hover); }
.timeline .root { fill: var(--accent); } .timeline .cell { fill: var(--ok); }
.timeline .llm { fill: var(--sub); } .timeline .rlm { fill: var(--child); }
.timeline .tool { fill: var(--tool); }
.timeline .error { fill: var(--err); } .timeline .stopped { fill: var(--muted); }
.timeline rect.bar:hover { stroke: var(--fg); stroke-width: 1; }
.timeline .it-num { fill: var(--bg); font-size: 10px; pointer-events: none; }
.legend { color: var(--muted); font-size: .85em; margin: .3rem 0 0; }
.legend i { display: inline-block; width: .8em; height: .8em; border-radius: 2px;
  margin: 0 .25em 0 .8em; vertical-align: -.05em; }
"""


def render_timeline(timeline: Timeline, anchors: list[str]) -> str:
    """The SVG (in a scrolling <div>) and its legend; `anchors[i]` is the id of iteration
    i + 1's section in the page."""
    if not timeline.iterations:
        return '<p class="muted">No iterations to draw.</p>'
    rows = timeline.iterations
    width = max(MIN_WIDTH, min(MAX_WIDTH, GUTTER + PX_PER_ITERATION * len(rows)))
    span_px = width - GUTTER - RIGHT
    lanes = max(1, timeline.lanes)
    lane_h = max(0.5, min(LANE_H_MAX, LANES_MAX_HEIGHT / lanes))
    has_tools = timeline.tool_calls > 0
    y_root = AXIS_H
    y_cell = y_root + ROOT_H + GAP
    y_tool = y_cell + CELL_H + GAP
    y_lanes = (y_tool + TOOL_H + GAP) if has_tools else y_tool
    lanes_h = lane_h * lanes if timeline.sub_calls else 0.0
    height = int(y_lanes + lanes_h + GAP + 2)

    def x(t: float) -> float:
        return GUTTER + timeline.place(t, t, span_px)[0]

    def w(span_start: float, span_end: float) -> float:
        return timeline.place(span_start, span_end, span_px)[1]

    out = [f'<div class="timeline"><svg width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="Timeline of the run">',
           f"<title>{escape(_overall(timeline))}</title>"]
    for number, row in enumerate(rows):  # bands first, so bars sit on top
        anchor = anchors[number] if number < len(anchors) else ""
        title = (f"{row.label}: {_when(row.start, row.end)} · {usage_line(row.usage)}"
                 f" · {len(row.cells)} cell{_s(len(row.cells))}, {len(row.calls)} "
                 f"sub-call{_s(len(row.calls))}")
        odd = " odd" if number % 2 else ""
        band = (f'<rect class="band{odd}" x="{x(row.start):.1f}" y="{AXIS_H - 4}" '
                f'width="{w(row.start, row.end):.1f}" height="{height - AXIS_H + 2}">'
                f"<title>{escape(title)}</title></rect>")
        out.append(f'<a href="#{escape(anchor)}">{band}</a>' if anchor else band)
    out += _axis(timeline, x, height, max(8, span_px // TICK_PX))
    names = [("Root model", y_root, ROOT_H), ("Code", y_cell, CELL_H)]
    if has_tools:
        names.append(("Tools", y_tool, TOOL_H))
    if timeline.sub_calls:
        names.append(("Sub-calls", y_lanes, min(lanes_h, 14)))
    for name, top, h in names:
        out.append(f'<text class="row-name" x="6" y="{top + h / 2 + 4:.1f}">{name}</text>')
    for row in rows:
        out.append(_bar(row.root, x(row.root.start), y_root, w(row.root.start, row.root.end),
                        ROOT_H))
        if w(row.root.start, row.root.end) >= 14:
            out.append(f'<text class="it-num" x="{x(row.root.start) + 3:.1f}" '
                       f'y="{y_root + 12}">{row.number}</text>')
        for span in row.cells:
            out.append(_bar(span, x(span.start), y_cell, w(span.start, span.end), CELL_H))
        for span in row.tools:
            out.append(_bar(span, x(span.start), y_tool, w(span.start, span.end), TOOL_H))
        for span in row.calls:
            top = y_lanes + span.lane * lane_h
            out.append(_bar(span, x(span.start), top, w(span.start, span.end),
                            max(0.5, lane_h - (1 if lane_h >= 4 else 0))))
    out.append("</svg></div>")
    spans = timeline.spans
    out.append(_legend(has_tools, any(s.kind == "rlm" for s in spans),
                       any(s.status == "error" for s in spans)))
    return "\n".join(out)


def _axis(timeline: Timeline, x, height: int, most: int) -> list[str]:
    out = [f'<line class="axis" x1="{GUTTER}" y1="{AXIS_H - 6}" '
           f'x2="{x(timeline.duration):.1f}" y2="{AXIS_H - 6}"/>']
    for tick in timeline.ticks(most):
        at = x(tick)
        out.append(f'<line class="axis" x1="{at:.1f}" y1="{AXIS_H - 9}" x2="{at:.1f}" '
                   f'y2="{height}" stroke-dasharray="2 4"/>')
        out.append(f'<text class="tick" x="{at + 2:.1f}" y="{AXIS_H - 10}">'
                   f"{escape(_tick(tick, timeline.duration))}</text>")
    return out


def _bar(span: Span, x: float, y: float, w: float, h: float) -> str:
    css = span.kind
    if span.status == "error":
        css += " error"
    elif span.status == "stopped":
        css += " stopped"
    return (f'<rect class="bar {css}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
            f'height="{h:.1f}" rx="{min(2.0, h / 3):.1f}"><title>{escape(_title(span))}'
            "</title></rect>")


def _title(span: Span) -> str:
    parts = [span.label, _when(span.start, span.end)]
    if span.batch:
        parts.append(f"batch {span.batch}")
    if span.usage is not None and span.usage.calls:
        parts.append(usage_line(span.usage))
    if span.status not in ("done", "answered"):
        parts.append(span.status)
    if span.detail:
        parts.append(span.detail[:300])
    return " · ".join(parts)


def _when(start: float, end: float) -> str:
    return f"{format_seconds(max(0.0, end - start))}, at {format_seconds(start)}"


def _tick(seconds: float, duration: float) -> str:
    if duration < 60:
        return f"{seconds:g} s"
    return format_clock(seconds)


def _overall(timeline: Timeline) -> str:
    rows = len(timeline.iterations)
    return (f"{rows:,} iteration{_s(rows)}, {timeline.sub_calls:,} sub-call"
            f"{_s(timeline.sub_calls)}, {timeline.tool_calls:,} tool call"
            f"{_s(timeline.tool_calls)} over {format_seconds(timeline.duration)}")


def _legend(tools: bool, children: bool, errors: bool) -> str:
    keys = [("root", "root model call"), ("cell", "code cell"), ("llm", "sub-call")]
    if children:
        keys.append(("rlm", "child session"))
    if tools:
        keys.append(("tool", "tool call"))
    if errors:
        keys.append(("error", "error"))
    items = "".join(f'<i style="background: var(--{_var(css)})"></i>{label}'
                    for css, label in keys)
    return (f'<p class="legend">{items}. Hover a bar for its time, tokens and cost; '
            "select an iteration to go to it.</p>")


def _var(css: str) -> str:
    return {"root": "accent", "cell": "ok", "llm": "sub", "rlm": "child", "tool": "tool",
            "error": "err"}[css]


def _s(count: int) -> str:
    return "" if count == 1 else "s"
