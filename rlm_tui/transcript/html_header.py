"""The top of an HTML export in sentences: how the run ended and what it cost, the context in
words, the models, the budgets it ran under, and its lineage and steering."""

from __future__ import annotations

from html import escape
from typing import Any

from rlm_tui.transcript import figures
from rlm_tui.transcript.model import SessionModel
from rlm_tui.units import count_of, format_cost, format_seconds, format_token_counts


def render_header(model: SessionModel) -> str:
    """A <section class="run"> with the outcome line and a list of facts in words."""
    css, outcome = outcome_words(model)
    totals = model.totals
    figures_line = [format_seconds(totals.seconds), format_token_counts(totals.usage),
                    format_cost(totals.usage, known=totals.cost_known),
                    count_of(totals.sub_calls, "sub-call")]
    if totals.tool_calls:
        figures_line.append(count_of(totals.tool_calls, "tool call"))
    out = ['<section class="run">',
           f'<p class="outcome {css}">{escape(outcome)}</p>',
           f'<p class="figures">{escape(" · ".join(figures_line))}</p>', "<dl>"]
    for label, text in facts(model):
        out.append(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>")
    out += ["</dl>", "</section>"]
    return "\n".join(out)


def outcome_words(model: SessionModel) -> tuple[str, str]:
    """(css class, sentence): "Answered in 4 iterations (of 30 allowed)." and the like."""
    root = model.root
    done = root.iterations if root is not None else []
    counted = [it for it in done if not it.forced]
    allowed = f" (of {root.max_iterations:,} allowed)" if root is not None else ""
    after = f"after {count_of(len(counted), 'iteration')}{allowed}"
    if model.status == "answered":
        if model.forced:
            return "ok", (f"Answered when asked for its best answer at the iteration limit, "
                          f"{after}.")
        return "ok", f"Answered {after.replace('after', 'in', 1)}."
    if model.status == "running":
        return "error", f"Unfinished: the transcript ends before the run did, {after}."
    reason = model.reason or model.status
    word = {"halted": "Halted", "failed": "Failed"}.get(model.status, model.status.title())
    return "error", f"{word} {after}, without an answer: {reason}."


def facts(model: SessionModel) -> list[tuple[str, str]]:
    """The header's facts as (label, sentence)."""
    rows: list[tuple[str, str]] = []
    context = figures.context_words(model.context)
    if context:
        rows.append(("Context", context[:1].upper() + context[1:] + "."))
    sources = figures.source_words(model.context)
    if sources:
        rows.append(("Sources", "; ".join(sources) + "."))
    root = model.root
    if root is not None:
        models = f"{root.root_model} answers"
        models += (" and makes its sub-calls" if root.sub_model == root.root_model
                   else f"; {root.sub_model} takes the sub-calls")
        rows.append(("Models", models + "."))
    for change in model.model_changes:
        rows.append(("Models switched", f"to {change['root_model']} for the root and "
                                        f"{change['sub_model']} for sub-calls."))
    budgets = budget_words(model.settings, root.max_iterations if root else None)
    if budgets:
        rows.append(("Budgets", budgets))
    for budget in model.budgets:
        rows.append(("Budget reached", f"{budget['budget']} (its limit: "
                                       f"{budget['limit']:g})."))
    if root is not None and root.fork_of:
        rows.append(("Forked from", figures.lineage(root.fork_of) + "."))
    if root is not None and len(root.turns) > 1:
        rows.append(("Turns", f"{len(root.turns):,} questions on one REPL."))
    if model.approve_mode != "none":
        rows.append(("Approval", f"cells held for a person's approval: {model.approve_mode}."))
    return rows


def budget_words(settings: dict[str, Any], max_iterations: int | None) -> str:
    """"At most 30 iterations, sub-calls 1 level deep; no cap on cost, tokens or time; 16
    model calls at once." from the run's settings."""
    iterations = max_iterations or settings.get("max_iterations")
    caps = []
    if isinstance(iterations, int):
        caps.append(count_of(iterations, "iteration"))
    depth = settings.get("max_depth")
    if isinstance(depth, int):
        caps.append(f"child sessions {count_of(depth, 'level')} deep")
    cost, tokens, seconds = (settings.get(k) for k in ("max_cost", "max_tokens", "max_time"))
    if isinstance(cost, (int, float)):
        caps.append(f"${cost:,.2f}")
    if isinstance(tokens, int):
        caps.append(f"{tokens:,} tokens")
    if isinstance(seconds, (int, float)):
        caps.append(format_seconds(seconds))
    if not caps:
        return ""
    text = "At most " + ", ".join(caps)
    missing = [name for name, value in (("cost", cost), ("tokens", tokens), ("time", seconds))
               if value is None]
    if missing and settings:
        text += "; no cap on " + _or(missing)
    concurrency = settings.get("max_concurrency")
    if isinstance(concurrency, int):
        text += f"; {count_of(concurrency, 'model call')} at once"
    return text + "."


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
