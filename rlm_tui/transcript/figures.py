"""What every export says of a session in a line or a table (numbers as rlm_tui/units.py
writes them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlm_tui.events import Usage
from rlm_tui.units import format_cost, format_seconds, format_token_counts

if TYPE_CHECKING:
    from rlm_tui.transcript.model import SessionModel


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
        turns = [it for it in root.iterations if not it.forced]
        iterations = f"{len(turns):,} of {root.max_iterations:,}"
        if len(turns) < len(root.iterations):  # the extra turn asking for an answer
            iterations += ", then one asking for a final answer"
        rows += [("Root model", root.root_model), ("Sub-model", root.sub_model),
                 ("Iterations", iterations)]
    context = ", ".join(f"{k}: {v}" for k, v in model.context.items()
                        if isinstance(v, (str, int, float)))
    if context:
        rows.append(("Context", context))
    rows += [("Tokens", format_token_counts(totals.usage)), ("Cost", format_cost(totals.usage, known=totals.cost_known)),
             ("Sub-calls", f"{totals.sub_calls:,}"), ("Time", format_seconds(totals.seconds))]
    for budget in model.budgets:
        rows.append(("Budget reached", f"{budget['budget']} (limit {budget['limit']:g})"))
    return [(k, str(v)) for k, v in rows]
