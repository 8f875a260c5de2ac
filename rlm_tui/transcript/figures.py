"""How exports write numbers: tokens, cost, seconds, and a call's one-line summary."""

from __future__ import annotations

from rlm_tui.events import Usage


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
