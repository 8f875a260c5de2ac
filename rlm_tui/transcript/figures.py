"""What every export says of a session in a line or a table (numbers as rlm_tui/units.py
writes them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlm_tui.events import Usage
from rlm_tui.transcript.compaction import describe_compaction
from rlm_tui.units import format_cost, format_seconds, format_token_counts

if TYPE_CHECKING:
    from rlm_tui.transcript.model import SessionModel
    from rlm_tui.transcript.nodes import CellNode, IterationNode


def usage_line(usage: Usage) -> str:
    return f"{format_token_counts(usage)} · {format_cost(usage)}"


def summary_rows(model: SessionModel) -> list[tuple[str, str]]:
    """The session's summary as (label, value) rows, for every export format."""
    root, totals = model.root, model.totals
    status = model.status
    if status == "answered" and model.forced:
        status = "answered (forced)"
    elif model.reason and status != "answered":
        status = f"{status}: {model.reason}"
    rows = [("Status", status)]
    if root is not None:
        if root.fork_of:
            rows.append(("Forked from", lineage(root.fork_of)))
        last = root.turns[-1].turn if root.turns else 1
        counted = [it for it in root.iterations if not it.forced and it.turn == last]
        asked = [it for it in root.iterations if it.forced and it.turn == last]
        iterations = f"{len(counted):,} of {root.max_iterations:,}"
        if asked:  # the extra one asking for an answer
            iterations += ", then one asking for a final answer"
        if len(root.turns) > 1:
            iterations += f" (turn {last}; {len(root.iterations):,} in all)"
            rows.append(("Turns", f"{len(root.turns):,} questions on one REPL"))
        rows += [("Root model", root.root_model), ("Sub-model", root.sub_model),
                 ("Iterations", iterations)]
    for change in model.model_changes:
        rows.append(("Models switched", f"root {change['root_model']}, "
                                        f"sub-calls {change['sub_model']}"))
    if model.approve_mode != "none":
        rows.append(("Approval", f"cells held: {model.approve_mode}"))
    context = ", ".join(f"{k}: {v}" for k, v in model.context.items()
                        if isinstance(v, (str, int, float)))
    if context:
        rows.append(("Context", context))
    sources = source_list(model.context)
    if sources:
        rows.append(("Sources", sources))
    rows += [("Tokens", format_token_counts(totals.usage)), ("Cost", format_cost(totals.usage, known=totals.cost_known)),
             ("Sub-calls", f"{totals.sub_calls:,}"), ("Time", format_seconds(totals.seconds))]
    for budget in model.budgets:
        rows.append(("Budget reached", f"{budget['budget']} (limit {budget['limit']:g})"))
    return [(k, str(v)) for k, v in rows]


def source_list(context: dict) -> str:
    """The sources of a context of several (or of one named or given as data), as a line:
    "sdk (directory /src/sdk), notes (file /src/notes.log), issues (data given in code)";
    "" for one plain path."""
    recorded = [s for s in context.get("sources") or [] if isinstance(s, dict)]
    if not recorded or (len(recorded) == 1 and recorded[0].get("name") == "context_0"
                        and recorded[0].get("kind") != "data"):
        return ""
    parts = []
    for source in recorded:
        kind, path = source.get("kind"), source.get("path")
        where = "given in code" if path == "data" else ("stdin" if path == "-" else path)
        parts.append(f"{source.get('name')} ({kind} {where})")
    return ", ".join(parts)


def lineage(fork_of: dict) -> str:
    """"run.jsonl, after iteration 3" (of turn T, for a follow-up's)."""
    where = f"after iteration {fork_of.get('iteration')}"
    if (fork_of.get("turn") or 1) > 1:
        where += f" of turn {fork_of.get('turn')}"
    return f"{fork_of.get('transcript')}, {where}"


def iteration_name(it: IterationNode) -> str:
    """"Iteration 3", "Turn 2 · Iteration 1"."""
    name = f"Iteration {it.iteration}"
    return name if it.turn == 1 else f"Turn {it.turn} · {name}"


def iteration_marks(it: IterationNode) -> list[str]:
    """What a person should know of an iteration, beyond its call: rebuilt, notes sent."""
    marks = []
    if it.rebuilt:
        marks.append("rebuilt from the forked session's record: its reply is the recorded "
                     "one, no model call")
    marks += [f"note from the person, sent before this call: {note}" for note in it.notes]
    marks += [describe_compaction(c) for c in it.compactions]
    return marks


def cell_marks(cell: CellNode) -> list[str]:
    """A cell's steering, in sentences: held, approved, edited or skipped; rebuilt apart."""
    marks = []
    if cell.held is not None:
        undecided = ("the session ended before a decision" if cell.status == "stopped"
                     else "awaiting a decision")
        decided = {"approved": "approved as written", "edited": "edited before it ran",
                   "skipped": "skipped: it did not run"}.get(cell.decision or "", undecided)
        marks.append(f"held for approval ({cell.held}): {decided}")
    elif cell.decision == "edited":
        marks.append("edited before it ran")
    elif cell.decision == "skipped":
        marks.append("skipped: it did not run")
    if cell.rebuild_differs:
        marks.append(f"on the fork's rebuild, {cell.rebuild_differs}")
    return marks
