"""A whole run's totals, kept by the session tree's fold (model.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlm_tui import events as ev
from rlm_tui.transcript.nodes import IterationNode, Tally


@dataclass
class Totals:
    """The whole run: every root and sub-call at every depth, and the calls in flight."""

    tally: Tally = field(default_factory=Tally)
    seconds: float = 0.0
    calls_running: int = 0
    calls_done: int = 0  # finished, errors included
    errors: int = 0  # calls that ended in an error
    calls_stopped: int = 0  # in flight when their session ended
    tool_calls: int = 0  # calls of the host's tools (no model call: not in `calls`)
    priced: bool | None = None  # False: a model of the run has no price (session_started)
    # Root calls streaming now, by node id: their running estimates (IterationNode.live_usage).
    streaming: dict[str, IterationNode] = field(default_factory=dict)

    @property
    def usage(self) -> ev.Usage:
        return self.tally.usage

    @property
    def live_usage(self) -> ev.Usage:
        """`usage`, and the running estimate of each root call streaming now (marked
        estimated until the server's figures replace it): what a live view shows."""
        usage = self.tally.usage
        for node in self.streaming.values():
            live = node.live_usage
            if live is not None:
                usage = usage + live
        return usage

    @property
    def sub_calls(self) -> int:
        return self.tally.sub_calls

    @property
    def cost_known(self) -> bool:
        """False when no call had a price, or none has finished and a model of the run has
        no price: the cost is unknown, not zero."""
        if self.priced is False and self.usage.calls == self.usage.unpriced_calls:
            return False
        return self.usage.cost_known

    @property
    def cost_complete(self) -> bool:
        """True only when every call's cost is known: none unpriced, none stopped in flight
        (a provider bills a call it was answering), and no unpriced model still to call."""
        return (self.usage.cost_complete and not self.calls_stopped and not self.calls_running
                and self.priced is not False)

    def to_dict(self) -> dict[str, Any]:
        u = self.usage
        return {
            "tokens": {"prompt": u.prompt_tokens, "completion": u.completion_tokens,
                       "total": u.total_tokens, "estimated": not u.reported},
            "cost_usd": round(u.cost_usd or 0.0, 6) if self.cost_known else None,
            "cost_complete": self.cost_complete,
            "calls": u.calls, "sub_calls": self.sub_calls, "tool_calls": self.tool_calls,
            "seconds": round(self.seconds, 3),
        }
