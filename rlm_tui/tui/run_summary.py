"""What the status bar shows about a run, kept up to date from its events: its state and
clock here; its usage read from the session tree (nothing here sums usage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rlm_tui import events as ev
from rlm_tui.transcript.model import SessionModel

# "idle": no run yet; the rest are the engine's states (events.RunState).
DisplayState = Literal["idle", "loading", "starting", "running", "paused", "stepping",
                       "held", "halted", "done", "failed"]
LIVE_STATES = frozenset({"starting", "running", "paused", "stepping", "held"})
# The clock stands still while the run waits for the person: paused, or a cell held.
WAITING_STATES = frozenset({"paused", "held"})


@dataclass
class RunSummary:
    """The run at a glance: state, iteration, usage, time, outcome."""

    state: DisplayState = "idle"
    reason: str | None = None
    query: str = ""
    root_session: str | None = None
    root_model: str = ""
    sub_model: str = ""
    iteration: int = 0  # of the turn in hand (each turn counts its own)
    max_iterations: int = 0
    turn: int = 1  # the question in hand: follow-up questions are turns 2, 3, ...
    forced: bool = False
    tree: SessionModel = field(default_factory=SessionModel)  # the session's one fold
    started_ts: float | None = None
    finished_ts: float | None = None
    paused_seconds: float = 0.0  # the pauses that have ended, summed
    paused_since: float | None = None  # the pause in progress, if the run is paused
    answer: str | None = None
    status: ev.SessionEnd | None = None  # the root session's end
    budget: ev.Budget | None = None  # the budget that stopped the run, if one did

    @property
    def usage(self) -> ev.Usage:
        return self.tree.totals.usage

    @property
    def live_usage(self) -> ev.Usage:
        """`usage` and the running estimate of the calls streaming now (marked estimated)."""
        return self.tree.totals.live_usage

    @property
    def sub_calls(self) -> int:
        return self.tree.totals.sub_calls

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def running(self) -> bool:
        """Live and not waiting for the person (paused, a cell held)."""
        return self.state in LIVE_STATES and self.state not in WAITING_STATES

    def elapsed(self, now: float) -> float:
        """Seconds the run has been running: since it started, less the time it was paused
        (the clock stands still while it is paused), frozen when it ended."""
        if self.started_ts is None:
            return 0.0
        end = self.finished_ts if self.finished_ts is not None else now
        paused = self.paused_seconds
        if self.paused_since is not None:
            paused += self._paused_until(end)
        return max(0.0, end - self.started_ts - paused)

    def _paused_until(self, ts: float) -> float:
        """Seconds of the pause in progress up to `ts`; a run that starts paused (it can say
        so before it says it started) counts from its start."""
        assert self.paused_since is not None
        since = self.paused_since
        if self.started_ts is not None:
            since = max(since, self.started_ts)
        return max(0.0, ts - since)

    def _state_changed(self, state: ev.RunState, ts: float) -> None:
        if state in WAITING_STATES:
            if self.paused_since is None:
                self.paused_since = ts
        elif self.paused_since is not None:
            # A run that ended while paused may say so (session_finished) before its state.
            end = ts if self.finished_ts is None else min(ts, self.finished_ts)
            self.paused_seconds += self._paused_until(end)
            self.paused_since = None

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
            self._state_changed(event.state, event.ts)
            self.state, self.reason = event.state, event.reason
            if event.state in ("halted", "done", "failed") and self.finished_ts is None:
                self.finished_ts = event.ts
            return True
        if isinstance(event, ev.TurnStarted) and event.session_id == root:
            self._turn_started(event)
            return True
        if isinstance(event, ev.IterationStarted) and event.session_id == root:
            self.iteration = min(event.iteration, event.max_iterations)
            self.max_iterations = event.max_iterations
            self.forced = self.forced or event.forced
            return True
        if isinstance(event, (ev.RootDone, ev.SubcallFinished)):
            return True  # the tree's totals changed
        if isinstance(event, ev.BudgetExceeded) and event.session_id == root:
            if event.budget != "iterations":
                self.budget = event.budget
            return True
        if isinstance(event, ev.SessionFinished) and event.session_id == root and (
                not event.rebuilt):  # a fork's copy of its parent's turn end: no end here
            self.status = event.status
            self.answer = event.answer
            self.forced = event.forced
            if self.finished_ts is None:
                self.finished_ts = event.ts
            if event.status != "answered" and self.reason is None:
                self.reason = event.reason
            return True
        return False

    def _turn_started(self, event: ev.TurnStarted) -> None:
        """A follow-up question: the session goes on (its clock too, less the time it waited
        for the question); what the last turn ended with is no longer the run's end."""
        self.turn, self.query = event.turn, event.query
        self.max_iterations, self.iteration, self.forced = event.max_iterations, 0, False
        self.answer = self.status = self.budget = self.reason = None
        if self.finished_ts is not None:
            self.paused_seconds += max(0.0, event.ts - self.finished_ts)
            self.finished_ts = None
