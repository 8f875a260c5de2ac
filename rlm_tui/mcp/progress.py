"""A call's progress notifications, read from its session's event stream: one when the session
starts (with its transcript, for `rlm-tui watch` or `replay`), one per iteration, and one as
sub-calls finish (at most every SUBCALL_INTERVAL_S). Each says the iteration, the sub-calls
and the cost so far, from the session tree's totals (the one place that sums usage)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from rlm_tui import events as ev
from rlm_tui.units import count_of, format_cost, format_tokens

# Sub-calls of a batch finish close together: one notification per this many seconds says
# as much as one per call.
SUBCALL_INTERVAL_S = 0.2

# progress(progress, total, message): the request's own ctx.report_progress.
Report = Callable[[float, float | None, str | None], Awaitable[None]]


def totals_line(tree: Any) -> str:
    """'3 sub-calls · 12.3k tokens · $0.0123' (the session tree's totals so far)."""
    totals = tree.totals
    return (f"{count_of(totals.sub_calls, 'sub-call')} · "
            f"{format_tokens(totals.usage.total_tokens, estimated=not totals.usage.reported)}"
            f" tokens · {format_cost(totals.usage, known=totals.cost_known)}")


async def report_progress(events: AsyncIterator[ev.EventBase], session: Any,
                          report: Report) -> None:
    """Report `session`'s run until its event stream ends. `progress` is the iteration in
    hand (of `total`, the iteration budget); a sub-call's notification moves it on within
    the iteration, never to the next one, so it only ever grows, as MCP requires."""
    iteration, total, in_iteration, last = 0, None, 0, 0.0
    progress = 0.0
    async for event in events:
        if isinstance(event, ev.SessionStarted) and event.depth == 0:
            where = f"; transcript {session.transcript}" if session.transcript else ""
            await report(progress, float(event.max_iterations), f"started{where}")
        elif isinstance(event, ev.IterationStarted) and _is_root(event, session):
            iteration, total, in_iteration = event.iteration, event.max_iterations, 0
            progress = max(progress, float(iteration))
            forced = " (asked for a final answer)" if event.forced else ""
            await report(progress, float(total),
                         f"iteration {iteration}/{total}{forced} · {totals_line(session.tree)}")
        elif isinstance(event, ev.SubcallFinished):
            in_iteration += 1
            now = time.monotonic()
            if now - last < SUBCALL_INTERVAL_S:
                continue
            last = now
            # iteration + 1 - 1/(n+1): nearer the next iteration with each sub-call.
            progress = max(progress, iteration + 1 - 1 / (in_iteration + 1))
            await report(progress, float(total) if total else None,
                         f"iteration {iteration}/{total} · {totals_line(session.tree)}")


def _is_root(event: ev.EventBase, session: Any) -> bool:
    """An event of the session's own root run, not of a child RLM (rlm_query)."""
    run = getattr(session, "run", None)
    return run is None or event.session_id == run.run_id
