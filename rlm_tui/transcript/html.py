"""A session as one self-contained HTML page: no scripts, no external assets, readable
offline: the outcome and context in words (html_header.py), the answer's Markdown rendered,
the run's timeline as inline SVG (html_timeline.py), and the session tree as nested <details>
(iteration > cell > sub-call > child) with its code highlighted (html_text.py).

Every piece of text from the transcript is escaped (model text is hostile), the answer's
Markdown passes no raw HTML and no link but http, https and mailto, and a
Content-Security-Policy forbids scripts and remote loads should anything slip through.
"""

from __future__ import annotations

from html import escape

from rlm_tui.transcript import figures
from rlm_tui.transcript.html_header import render_header
from rlm_tui.transcript.html_text import highlight, highlight_css, render_answer
from rlm_tui.transcript.html_timeline import TIMELINE_CSS, render_timeline
from rlm_tui.transcript.model import (
    CellNode,
    IterationNode,
    SessionModel,
    SessionNode,
    SubCallNode,
    ToolCallNode,
)
from rlm_tui.transcript.timeline import build_timeline
from rlm_tui.units import format_cost, format_seconds

_CSS = """
:root { color-scheme: light dark; --fg: #1d1f21; --bg: #fdfdfc; --muted: #6a6f75;
  --line: #d9dcdf; --code: #f6f7f8; --ok: #2f7d32; --err: #b3261e; --accent: #3559b5;
  --sub: #c07a12; --child: #8e44ad; --tool: #00838f; --band: rgba(0,0,0,.035);
  --hover: rgba(53,89,181,.12); }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e6e3; --bg: #161819;
  --muted: #9aa0a6; --line: #34383b; --code: #1e2123; --ok: #7cc47f; --err: #f28b82;
  --accent: #8ab4f8; --sub: #f0b35a; --child: #c89be0; --tool: #5fc9d3;
  --band: rgba(255,255,255,.04); --hover: rgba(138,180,248,.16); } }
body { font: 15px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg);
  max-width: 72rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px;
  padding: .6rem .8rem; overflow-x: auto; white-space: pre-wrap; word-break: break-word;
  font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; margin: .4rem 0; }
details { border-left: 2px solid var(--line); margin: .35rem 0 .35rem .2rem;
  padding-left: .8rem; }
summary { cursor: pointer; padding: .15rem 0; }
summary .facts, .muted { color: var(--muted); font-size: .9em; }
.label { font-weight: 600; font-size: .85em; color: var(--muted); margin-top: .5rem; }
.ok { color: var(--ok); } .error, .running, .stopped { color: var(--err); }
.note { border: 1px solid var(--err); border-radius: 6px; padding: .5rem .8rem; }
table { border-collapse: collapse; } td, th { text-align: left; padding: .2rem .8rem .2rem 0;
  border-bottom: 1px solid var(--line); vertical-align: top; }
.answer .markdown { border-left: 3px solid var(--accent); padding: .1rem 1rem; }
.answer .markdown pre { white-space: pre; }
.answer .markdown code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace;
  background: var(--code); padding: 0 .2em; border-radius: 3px; }
.answer .markdown a { color: var(--accent); }
.run .outcome { font-size: 1.1rem; font-weight: 600; margin-bottom: .2rem; }
.run .figures { color: var(--muted); margin-top: 0; }
.run dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
.run dt { color: var(--muted); } .run dd { margin: 0; }
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"


def render_html(model: SessionModel, notes: list[str] | None = None) -> str:
    title = model.query.strip().splitlines()[0][:120] if model.query.strip() else "session"
    out = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>rlm-tui: {escape(title)}</title>",
        f"<style>{_CSS}{TIMELINE_CSS}{highlight_css()}</style>", "</head>",
        "<body>", "<h1>rlm-tui session</h1>",
    ]
    for note in notes or []:
        out.append(f'<p class="note">{escape(note)}</p>')
    out += ["<h2>Question</h2>", _pre(model.query or "(no question recorded)")]
    out.append(render_header(model))
    turns = model.root.turns if model.root is not None else []
    which = f" (turn {turns[-1].turn})" if len(turns) > 1 else ""
    out += ['<section class="answer">', f"<h2>Final answer{which}</h2>"]
    if model.answer is not None:
        if model.forced:
            out.append('<p class="muted">Forced: the iteration limit was reached and the '
                       "model was asked once for its best answer.</p>")
        if turns and turns[-1].validated:
            out.append('<p class="ok">Validated: it matches the schema the question '
                       "gave.</p>")
        out += [f'<div class="markdown">{render_answer(model.answer)}</div>',
                "<details><summary>The answer as written</summary>", _pre(model.answer),
                "</details>"]
    else:
        reason = model.reason or ("the transcript ends before the run did"
                                  if model.status == "running" else model.status)
        out.append(f'<p class="error">No answer: {escape(reason)}</p>')
    out.append("</section>")
    if model.root is not None and model.root.iterations:
        anchors = [_anchor(n) for n in range(1, len(model.root.iterations) + 1)]
        out += ["<h2>Timeline</h2>", render_timeline(build_timeline(model), anchors)]
    if len(turns) > 1:
        out.append("<h2>Questions</h2>")
        for turn in turns:
            end = turn.answer if turn.answer is not None else \
                f"no answer: {turn.reason or turn.status}"
            out += [f"<h3>Turn {turn.turn}</h3>", _pre(turn.query),
                    '<div class="label">Answer</div>', _pre(end)]
    if model.root is not None:
        out += ["<h2>Session</h2>", *_session(model.root, open_first=True, anchored=True)]
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _anchor(number: int) -> str:
    return f"iteration-{number}"


def _session(session: SessionNode, *, open_first: bool = False,
             anchored: bool = False) -> list[str]:
    """The session's iterations; `anchored`: each with an id the timeline links to."""
    out: list[str] = []
    turn = 1
    for number, it in enumerate(session.iterations, 1):
        if it.turn != turn:
            turn = it.turn
            query = next((t.query for t in session.turns if t.turn == turn), "")
            out.append(f"<h3>Turn {turn}: {escape(query)}</h3>")
        out += _iteration(it, opened=open_first and it is session.iterations[0],
                          anchor=_anchor(number) if anchored else None)
    return out


def _iteration(it: IterationNode, *, opened: bool, anchor: str | None = None) -> list[str]:
    name = figures.iteration_name(it) + (" · forced final answer" if it.forced else "")
    facts = [it.model or "root", figures.usage_line(it.usage), format_seconds(it.latency_s)]
    if it.cut:
        facts.append("cut at its cap of output tokens")
    if it.cells:
        facts.append(f"{len(it.cells)} cell{'s' if len(it.cells) > 1 else ''}")
    calls = sum(len(cell.subcalls) for cell in it.cells)
    if calls:
        facts.append(f"{calls} sub-call{'s' if calls > 1 else ''} "
                     f"({format_cost(it.rollup)} in all)")
    where = f' id="{anchor}"' if anchor else ""
    out = [f"<details{where}{' open' if opened else ''}>",
           f"<summary><b>{escape(name)}</b> {_facts(facts)}</summary>"]
    for retry in it.retries:
        out.append(f'<p class="muted">retry {retry.attempt}: {escape(retry.reason)}</p>')
    if it.error:
        out.append(f'<p class="error">Root call failed: {escape(it.error)}</p>')
    out += _stopped(it.stopped_by)
    out += [f'<p class="note">{escape(mark)}</p>' for mark in figures.iteration_marks(it)]
    for compaction in it.compactions:
        if compaction.summary:
            out += [f'<div class="label">Summary {compaction.count} (it replaced the older '
                    'iterations)</div>', _pre(compaction.summary)]
    out += ['<div class="label">Reasoning</div>', _pre(it.text or "(no text)")]
    for cell in it.cells:
        out += _cell(cell)
    for rejection in it.rejections:
        then = ("the run stopped without an answer" if rejection.forced
                else "the model was sent the errors and went on")
        out += [f'<div class="label error">Answer rejected ({escape(rejection.source)}): it '
                f"does not match the schema; {then}</div>", _pre(rejection.answer),
                "<ul>", *(f"<li>{escape(error)}</li>" for error in rejection.errors), "</ul>"]
    out.append("</details>")
    return out


def _cell(cell: CellNode) -> list[str]:
    facts = [format_seconds(cell.seconds)]
    if cell.subcalls:
        facts.append(f"{len(cell.subcalls)} sub-call{'s' if len(cell.subcalls) > 1 else ''}")
    if cell.tools:
        facts.append(f"{len(cell.tools)} tool call{'s' if len(cell.tools) > 1 else ''}")
    out = ["<details open>",
           f'<summary>Cell {cell.index} <span class="{_css_status(cell.status)}">'
           f"{escape(cell.status)}</span> {_facts(facts)}</summary>",
           *_stopped(cell.stopped_by),
           *(f'<p class="note">{escape(mark)}</p>' for mark in figures.cell_marks(cell)),
           '<div class="label">Code</div>', highlight(cell.code)]
    if cell.ran_code is not None:
        out += ['<div class="label">Code that ran (the person\'s edit)</div>',
                highlight(cell.ran_code)]
    if cell.stdout:
        out += ['<div class="label">Output</div>', _pre(cell.stdout)]
    if cell.cut_note:
        out.append(f'<p class="muted">{escape(cell.cut_note)}</p>')
    if cell.stderr:
        out += ['<div class="label">Stderr</div>', _pre(cell.stderr)]
    if cell.error:
        kind = f" ({cell.error_kind})" if cell.error_kind else ""
        out += [f'<div class="label error">Error{escape(kind)}</div>', _pre(cell.error)]
    if cell.worker_restarted:
        out.append('<p class="muted">The sandbox worker was restarted after this cell.</p>')
    if cell.final_answer is not None:
        out.append('<p class="ok">This cell gave the final answer.</p>')
    for number, call in enumerate(cell.subcalls, 1):
        out += _subcall(call, number)
    for number, tool in enumerate(cell.tools, 1):
        out += _tool(tool, number)
    out.append("</details>")
    return out


def _tool(tool: ToolCallNode, number: int) -> list[str]:
    out = ["<details>",
           f"<summary>Tool call {number} · {escape(tool.name)} "
           f'<span class="{_css_status(tool.status)}">{escape(tool.status)}</span> '
           f"{_facts([tool.facts])}</summary>", *_stopped(tool.stopped_by),
           '<div class="label">Call</div>', _pre(tool.call_text)]
    if tool.error:
        out.append(f'<p class="error">{escape(tool.error)}</p>')
    elif tool.status == "done":
        out += ['<div class="label">Result</div>', highlight(tool.shown_result, "json")]
    out.append("</details>")
    return out


def _subcall(call: SubCallNode, number: int) -> list[str]:
    facts = [call.model, figures.usage_line(call.rollup), format_seconds(call.latency_s)]
    if call.batch_size > 1:
        facts.append(f"batch {call.batch_index + 1} of {call.batch_size}")
    if call.attempts > 1:
        facts.append(f"{call.attempts} attempts")
    if call.cut:
        facts.append("cut at its cap of output tokens")
    out = ["<details>",
           f"<summary>Sub-call {number} · {escape(call.kind)} "
           f'<span class="{_css_status(call.status)}">{escape(call.status)}</span> '
           f"{_facts(facts)}</summary>"]
    if call.error:
        out.append(f'<p class="error">{escape(call.error)}</p>')
    out += _stopped(call.stopped_by)
    for retry in call.retries:
        out.append(f'<p class="muted">retry {retry.attempt}: {escape(retry.reason)}</p>')
    out += ['<div class="label">Prompt</div>', _pre(call.prompt)]
    if call.prompt_chars > len(call.prompt):
        out.append(f'<p class="muted">prompt cut: {len(call.prompt):,} of '
                   f"{call.prompt_chars:,} characters kept</p>")
    out += ['<div class="label">Response</div>', _pre(call.response or "(none)")]
    if call.child is not None:
        child = call.child
        out += ["<details open>",
                f"<summary><b>Child session</b> "
                f'<span class="{_css_status(child.status)}">{escape(child.status)}</span> '
                f"{_facts([f'{len(child.iterations)} iterations'])}</summary>",
                *_session(child), "</details>"]
    out.append("</details>")
    return out


def _facts(facts: list[str]) -> str:
    return f'<span class="facts">{escape(" · ".join(facts))}</span>'


def _css_status(status: str) -> str:
    return {"answered": "ok", "done": "ok", "stopped": "stopped"}.get(status, "error")


def _stopped(reason: str | None) -> list[str]:
    if reason is None:
        return []
    return [f'<p class="stopped">Stopped unfinished: {escape(reason)}</p>']


def _pre(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"
