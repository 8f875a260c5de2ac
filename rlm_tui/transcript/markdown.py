"""A session as Markdown: question, summary, final answer, each iteration's reasoning, code
and output with its sub-calls (and child sessions), then the sub-call tree with costs.

Model text is never trusted as Markdown: it goes into fenced blocks whose fence is longer
than any run of tildes inside, and one-line values are backslash-escaped.
"""

from __future__ import annotations

import re

from rlm_tui.transcript import figures
from rlm_tui.transcript.model import (
    CellNode,
    IterationNode,
    SessionModel,
    SessionNode,
    SubCallNode,
    ToolCallNode,
)
from rlm_tui.units import format_seconds, format_token_counts

_PUNCTUATION = re.compile(r"([\\`*_{}\[\]<>#|~&!])")
# what would open a list or a quote at the start of a line
_LINE_START = re.compile(r"^(\d+)([.)])(?=\s|$)|^([-+=])(?=\s|$)")
_TILDES = re.compile(r"~+")


def render_markdown(model: SessionModel, notes: list[str] | None = None) -> str:
    out: list[str] = ["# rlm-tui session", ""]
    for note in notes or []:
        out += [f"> **Note:** {inline(note)}", ""]
    out += ["## Question", "", *fenced(model.query or "(no question recorded)"), ""]
    out += _summary_table(model)
    turns = model.root.turns if model.root is not None else []
    out += ["## Final answer" + (f" (turn {turns[-1].turn})" if len(turns) > 1 else ""), ""]
    if model.answer is not None:
        if model.forced:
            out += ["*Forced: the iteration limit was reached and the model was asked once "
                    "for its best answer.*", ""]
        if turns and turns[-1].validated:
            out += ["*Validated: it matches the schema the question gave.*", ""]
        out += [*fenced(model.answer), ""]
    else:
        reason = model.reason or ("the transcript ends before the run did"
                                  if model.status == "running" else model.status)
        out += [f"No answer: {inline(reason)}", ""]
    if len(turns) > 1:
        out += ["## Questions", ""]
        for turn in turns:
            end = turn.answer if turn.answer is not None else \
                f"no answer: {turn.reason or turn.status}"
            out += [f"### Turn {turn.turn}", "", *fenced(turn.query), "", "Answer:", "",
                    *fenced(end), ""]
    if model.root is not None:
        _session(out, model.root, level=2, label="")
        tree = _tree(model.root, indent=0)
        if tree:
            out += ["## Sub-call tree", "", *tree, ""]
    return "\n".join(out).rstrip() + "\n"


def _summary_table(model: SessionModel) -> list[str]:
    rows = figures.summary_rows(model)
    lines = ["| | |", "|---|---|"]
    lines += [f"| {inline(k)} | {inline(str(v))} |" for k, v in rows]
    return lines + [""]


def _session(out: list[str], session: SessionNode, *, level: int, label: str) -> None:
    turn = 1
    for iteration in session.iterations:
        if iteration.turn != turn:
            turn = iteration.turn
            query = next((t.query for t in session.turns if t.turn == turn), "")
            out += [f"{_heading(level)} Turn {turn}: {inline(query)}", ""]
        _iteration(out, iteration, level=level, label=label)


def _iteration(out: list[str], it: IterationNode, *, level: int, label: str) -> None:
    name = label + figures.iteration_name(it) + (" (forced final answer)" if it.forced else "")
    facts = [it.model or "root", format_token_counts(it.usage), format_seconds(it.latency_s)]
    if it.attempts > 1:
        facts.append(f"{it.attempts} attempts")
    if it.cut:
        facts.append("cut at its cap of output tokens")
    out += [f"{_heading(level)} {inline(name)} · {inline(' · '.join(facts))}", ""]
    for retry in it.retries:
        out += [f"- retry {retry.attempt}: {inline(retry.reason)} "
                f"(waited {format_seconds(retry.wait_s)})"]
    if it.retries:
        out.append("")
    if it.error:
        out += [f"**Root call failed:** {inline(it.error)}", ""]
    _stopped(out, it.stopped_by)
    for mark in figures.iteration_marks(it):
        out += [f"> {inline(mark)}", ""]
    for compaction in it.compactions:
        if compaction.summary:
            out += [f"**Summary {compaction.count}** (it replaced the older iterations):", "",
                    *fenced(compaction.summary), ""]
    out += [*fenced(it.text or "(no text)"), ""]
    if not it.cells and not it.forced and not it.error and it.status == "done" and (
            it.node_id != _last_turn_id(it)) and not it.rejections:
        # The model was sent this (engine/prompts.no_code_message) and went on.
        out += ["*No ```repl block ran: the model was told so, and asked for code or "
                "FINAL(...).*", ""]
    for cell in it.cells:
        _cell(out, cell, level=level + 1, label=f"{name} › ")
    for rejection in it.rejections:
        out += [f"**Answer rejected** ({inline(rejection.source)}): it does not match the "
                "schema" + ("; the run stopped without an answer." if rejection.forced
                            else "; the model was sent the errors and went on."), "",
                *fenced(rejection.answer), ""]
        out += [f"- {inline(error)}" for error in rejection.errors] + [""]


def _cell(out: list[str], cell: CellNode, *, level: int, label: str) -> None:
    name = f"{label}Cell {cell.index}"
    out += [f"{_heading(level)} {inline(name)} · {cell.status} · "
            f"{format_seconds(cell.seconds)}", ""]
    _stopped(out, cell.stopped_by)
    for mark in figures.cell_marks(cell):
        out += [f"*{inline(mark[0].upper() + mark[1:])}.*", ""]
    out += [*fenced(cell.code, "python"), ""]
    if cell.ran_code is not None:
        out += ["Code that ran (the person's edit):", "", *fenced(cell.ran_code, "python"), ""]
    if cell.stdout:
        out += ["Output:", "", *fenced(cell.stdout), ""]
    if cell.cut_note:
        out += [f"*{inline(cell.cut_note)}*", ""]
    if cell.stderr:
        out += ["Stderr:", "", *fenced(cell.stderr), ""]
    if cell.error:
        kind = f" ({inline(cell.error_kind)})" if cell.error_kind else ""
        out += [f"**Error{kind}:**", "", *fenced(cell.error), ""]
    if cell.worker_restarted:
        out += ["*The sandbox worker was restarted after this cell.*", ""]
    if cell.final_answer is not None:
        out += ["*This cell gave the final answer.*", ""]
    for number, call in enumerate(cell.subcalls, 1):
        _subcall(out, call, level=level + 1, label=f"{name} › Sub-call {number}")
    for number, tool in enumerate(cell.tools, 1):
        _tool(out, tool, level=level + 1, label=f"{name} › Tool call {number}")


def _tool(out: list[str], tool: ToolCallNode, *, level: int, label: str) -> None:
    out += [f"{_heading(level)} {inline(label)} · {inline(tool.facts)}", ""]
    out += [*fenced(tool.call_text, "python"), ""]
    _stopped(out, tool.stopped_by)
    if tool.error:
        out += [f"**Error:** {inline(tool.error)}", ""]
    elif tool.status == "done":
        out += ["Result:", "", *fenced(tool.shown_result, "json"), ""]


def _subcall(out: list[str], call: SubCallNode, *, level: int, label: str) -> None:
    out += [f"{_heading(level)} {inline(label)} · {inline(_call_facts(call))}", ""]
    if call.error:
        out += [f"**Error:** {inline(call.error)}", ""]
    _stopped(out, call.stopped_by)
    for retry in call.retries:
        out.append(f"- retry {retry.attempt}: {inline(retry.reason)}")
    if call.retries:
        out.append("")
    out += ["Prompt:", "", *fenced(call.prompt), ""]
    if call.prompt_chars > len(call.prompt):
        out += [f"*prompt cut: {len(call.prompt):,} of {call.prompt_chars:,} characters "
                "kept*", ""]
    out += ["Response:", "", *fenced(call.response or "(none)"), ""]
    if call.child is not None:
        child = call.child
        out += [f"{_heading(level)} {inline(label)} › child session · {child.status}", ""]
        _session(out, child, level=level + 1, label=f"{label} › ")


def _last_turn_id(it: IterationNode) -> str | None:
    """The id of the last turn of `it`'s session (a turn with no code that ended the run
    gave its answer in prose: nothing was sent back)."""
    session = it.parent
    turns = getattr(session, "iterations", None) or [it]
    return turns[-1].node_id


def _stopped(out: list[str], reason: str | None) -> None:
    if reason is not None:
        out += [f"*Stopped unfinished: {inline(reason)}*", ""]


def _call_facts(call: SubCallNode) -> str:
    facts = [call.kind, call.model, call.status]
    if call.batch_size > 1:
        facts.append(f"batch {call.batch_index + 1} of {call.batch_size}")
    facts += [figures.usage_line(call.rollup), format_seconds(call.latency_s)]
    if call.attempts > 1:
        facts.append(f"{call.attempts} attempts")
    if call.cut:
        facts.append("cut at its cap of output tokens")
    return " · ".join(facts)


def _tree(session: SessionNode, indent: int) -> list[str]:
    """Only the branches that hold sub-calls, with each call's tokens and cost."""
    pad = "  " * indent
    lines: list[str] = []
    for it in session.iterations:
        calls = [(cell, call) for cell in it.cells for call in cell.subcalls]
        if not calls:
            continue
        lines.append(f"{pad}- Iteration {it.iteration}: {inline(figures.usage_line(it.rollup))}")
        for cell in it.cells:
            if not cell.subcalls:
                continue
            lines.append(f"{pad}  - Cell {cell.index}: "
                         f"{inline(figures.usage_line(cell.rollup))}")
            for call in cell.subcalls:
                lines.append(f"{pad}    - {inline(_call_facts(call))}")
                if call.child is not None:
                    lines.append(f"{pad}      - child session: {call.child.status}, "
                                 f"{len(call.child.iterations)} iterations")
                    lines += _tree(call.child, indent + 4)
    return lines


def _heading(level: int) -> str:
    return "#" * min(level, 6)


def fenced(text: str, info: str = "text") -> list[str]:
    """`text` in a fence no line inside can close."""
    if "~~~" not in text:
        fence = "~~~"
    else:
        longest = max(len(m.group(0)) for m in _TILDES.finditer(text))
        fence = "~" * (longest + 1)
    return [f"{fence}{info}", text.rstrip("\n"), fence]


def inline(text: str) -> str:
    """One line of untrusted text, safe in Markdown prose, headings and table cells."""
    text = _PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))
    return _LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}" if m.group(1)
                           else f"\\{m.group(3)}", text)
