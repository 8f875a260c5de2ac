"""What every export says of a session in a line or a table (numbers as rlm_tui/units.py
writes them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlm_tui.events import Usage
from rlm_tui.transcript.compaction import describe_compaction
from rlm_tui.units import count_of, format_bytes, format_cost, format_seconds, format_token_counts

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
    context = context_words(model.context)
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


def context_words(context: dict[str, Any]) -> str:
    """The context in a sentence: "18 files, 163 KB of Python, from /src/app (a git work
    tree); 12 skipped (8 too large, 4 binary)", "one text of 63,175 characters, from
    /src/README.md", or for several sources "20 files, 225 KB of Python, Text and JSON, in 3
    sources" (source_words names each)."""
    if not context:
        return ""
    recorded = _recorded_sources(context)
    where = "" if len(recorded) > 1 else str(context.get("root") or context.get("source")
                                              or context.get("name") or "")
    if where == "-":
        where = "standard input"
    if context.get("kind") == "text" or "files" not in context:
        chars = context.get("chars")
        text = f"one text of {chars:,} characters" if isinstance(chars, int) else "one text"
    else:
        text = _size_words(context)
        languages = [str(item.get("language")) for item in context.get("languages") or []
                     if isinstance(item, dict) and item.get("files")
                     and item.get("language") != "Other"
                     and not str(item.get("language", "")).endswith(" more")]
        if languages:
            text += " of " + _and(languages[:3])
    if len(recorded) > 1:
        text += f", in {len(recorded)} sources"
    elif where:
        text += f", from {where}"
    if context.get("mode") == "git":
        text += " (a git work tree)"
    extras = []
    skipped = context.get("skipped")
    if isinstance(skipped, dict) and skipped:
        counts = {str(why): int(g.get("count", 0)) for why, g in skipped.items()
                  if isinstance(g, dict) and isinstance(g.get("count", 0), int)}
        total = sum(counts.values())
        if total:
            why = ", ".join(f"{n:,} {reason}" for reason, n in
                            sorted(counts.items(), key=lambda kv: -kv[1])[:3])
            extras.append(f"{total:,} skipped ({why})")
    masked = context.get("secrets_masked")
    if isinstance(masked, int) and masked:
        extras.append(f"{count_of(masked, 'secret')} masked")
    return "; ".join([text, *extras])


def source_words(context: dict[str, Any]) -> list[str]:
    """Each source of a context of several (or of one given as data) in words: "sdk: a git
    work tree at /src/sdk, 120 files, 900 KB", "issues: data given in code, a list of 3
    dicts"; [] for one plain path (context_words says it)."""
    recorded = _recorded_sources(context)
    if not recorded or (len(recorded) == 1 and recorded[0].get("kind") != "data"):
        return []
    out = []
    for source in recorded:
        kind, path = source.get("kind"), str(source.get("path") or source.get("origin") or "")
        if kind == "data":
            what = "data given in code" if path == "data" else f"data read from {path}"
            shape = source.get("shape")
            if shape:
                what += f", {shape}"
        elif kind == "directory":
            how = "a git work tree" if source.get("mode") == "git" else "a directory"
            what = f"{how} at {path}"
            if isinstance(source.get("files"), int):
                what += ", " + _size_words(source)
        else:
            what = "standard input" if path == "-" else f"the file {path}"
            if isinstance(source.get("bytes"), (int, float)):
                what += f", {format_bytes(source['bytes'])}"
        out.append(f"{source.get('name')}: {what}")
    return out


def _recorded_sources(context: dict[str, Any]) -> list[dict[str, Any]]:
    sources = context.get("sources")
    return [s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else []


def _size_words(context: dict[str, Any]) -> str:
    files = context.get("files")
    text = count_of(files, "file") if isinstance(files, int) else "files"
    size, chars = context.get("bytes"), context.get("chars")
    if isinstance(size, (int, float)):
        text += f", {format_bytes(size)}"
    elif isinstance(chars, int):
        text += f", {chars:,} characters"
    return text


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


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
