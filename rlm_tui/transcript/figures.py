"""How exports write numbers: tokens, cost, seconds, and a call's one-line summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlm_tui.events import Usage

if TYPE_CHECKING:
    from rlm_tui.transcript.model import SessionModel


def tokens(usage: Usage) -> str:
    return f"{usage.prompt_tokens:,} in / {usage.completion_tokens:,} out"


def cost(usage: Usage) -> str:
    """"$0.0123", "cost unknown" when no call was priced, or "$0.0123 + unpriced calls"."""
    if usage.calls and usage.unpriced_calls == usage.calls:
        return "cost unknown"
    text = f"${usage.cost_usd or 0.0:,.4f}"
    if usage.unpriced_calls:
        text += f" + {usage.unpriced_calls:,} unpriced"
    return text


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{minutes} min {rest:02d} s"


def usage_line(usage: Usage) -> str:
    return f"{tokens(usage)} · {cost(usage)}"


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
        rows += [("Root model", root.root_model), ("Sub-model", root.sub_model),
                 ("Iterations", f"{len(root.iterations):,} of {root.max_iterations:,}")]
    context = ", ".join(f"{k}: {v}" for k, v in model.context.items()
                        if isinstance(v, (str, int, float)))
    if context:
        rows.append(("Context", context))
    rows += [("Tokens", tokens(totals.usage)), ("Cost", cost(totals.usage)),
             ("Sub-calls", f"{totals.sub_calls:,}"), ("Time", seconds(totals.seconds))]
    for budget in model.budgets:
        rows.append(("Budget reached", f"{budget['budget']} (limit {budget['limit']:g})"))
    return [(k, str(v)) for k, v in rows]
