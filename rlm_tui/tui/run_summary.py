"""What the status bar shows about a run, kept up to date from its events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rlm_tui import events as ev

# "idle": no run yet; the rest are the engine's states (events.RunState).
DisplayState = Literal["idle", "loading", "starting", "running", "paused", "stepping",
                       "halted", "done", "failed"]
LIVE_STATES = frozenset({"starting", "running", "paused", "stepping"})


@dataclass
class RunSummary:
    """The run at a glance: state, iteration, usage, time, outcome."""

    state: DisplayState = "idle"
    reason: str | None = None
    query: str = ""
    root_session: str | None = None
    root_model: str = ""
    sub_model: str = ""
    iteration: int = 0
    max_iterations: int = 0
    forced: bool = False
    usage: ev.Usage = field(default_factory=ev.Usage)
    sub_calls: int = 0
    started_ts: float | None = None
    finished_ts: float | None = None
    answer: str | None = None
    status: str | None = None  # the root session's end: answered | halted | failed
    budget: str | None = None  # the budget that stopped the run, if one did

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def elapsed(self, now: float) -> float:
        """Seconds since the run started, frozen when it ended."""
        if self.started_ts is None:
            return 0.0
        end = self.finished_ts if self.finished_ts is not None else now
        return max(0.0, end - self.started_ts)

    def apply(self, event: ev.EventBase) -> bool:
        """Take one event in; True if anything shown changed."""
        root = self.root_session
        if isinstance(event, ev.SessionStarted):
            if event.depth == 0 and root is None:
                self.root_session = event.session_id
                self.query = event.query
                self.root_model, self.sub_model = event.root_model, event.sub_model
                self.max_iterations = event.max_iterations
                self.started_ts = event.ts
                if self.state in ("idle", "loading"):
                    self.state = "starting"
                return True
            return False
        if isinstance(event, ev.StateChanged):
            self.state, self.reason = event.state, event.reason
            if event.state in ("halted", "done", "failed") and self.finished_ts is None:
                self.finished_ts = event.ts
            return True
        if isinstance(event, ev.IterationStarted) and event.session_id == root:
            self.iteration = min(event.iteration, event.max_iterations)
            self.max_iterations = event.max_iterations
            self.forced = self.forced or event.forced
            return True
        if isinstance(event, (ev.RootDone, ev.SubcallFinished)):
            self.usage = self.usage + event.usage
            self.sub_calls += isinstance(event, ev.SubcallFinished)
            return True
        if isinstance(event, ev.BudgetExceeded) and event.session_id == root:
            if event.budget != "iterations":
                self.budget = event.budget
            return True
        if isinstance(event, ev.SessionFinished) and event.session_id == root:
            self.status = event.status
            self.answer = event.answer
            self.forced = event.forced
            if self.finished_ts is None:
                self.finished_ts = event.ts
            if event.status != "answered" and self.reason is None:
                self.reason = event.reason
            return True
        return False
