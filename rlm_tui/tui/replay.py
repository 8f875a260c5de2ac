"""Where a replay stands in a saved session: how many of its events are shown, where each
root iteration begins and ends, and the paced clock playback follows.

No Textual here: the app (replay_app.py) hands the events the cursor gives out to the same
relay and panes a live run uses, so a replayed session looks exactly like a live one.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from rlm_tui import events as ev

# Playback keeps the session's own rhythm (streamed text, slow cells) but no gap between two
# events lasts longer than this on the paced clock: a minute-long model call plays in 0.5 s.
GAP_CAP_S = 0.5
# Playback speeds (+ and -), multiples of the paced clock; the default is sped up a bit more.
SPEEDS: tuple[float, ...] = (0.5, 1, 2, 4, 8, 16, 32, 64)
DEFAULT_SPEED = 4.0


@dataclass(frozen=True)
class ReplayPosition:
    """What the status bar says about a replay: 'iteration 2 of 5 · event 57 of 130'."""

    iteration: int
    iterations: int
    event: int
    events: int
    playing: bool
    speed: float
    cut: bool  # the file stops early (a crash or kill): it holds no more than this
    # `rlm-tui watch`: "live" while the run goes on (the events shown as they come), "ended"
    # once it has; None in a replay.
    watch: str | None = None


def format_speed(speed: float) -> str:
    """'4×', '0.5×'."""
    return f"{speed:g}×"


class ReplayCursor:
    """A position in `events`: the first `position` events are shown.

    Stops are the positions where an iteration of the root session has just ended: before
    the next one's iteration_started (or at the very end), like a live run paused after a
    step. The first stop is just before the first iteration.
    """

    def __init__(self, events: Sequence[ev.EventBase]) -> None:
        self.events = events
        self.position = 0
        self._root: str | None = None
        self.iteration_starts: list[int] = []
        # The extra turn asking for a final answer is no iteration of the budget's: shown as
        # "6 of 6" (it said "7 of 7"), as the live status bar and the exports count.
        self._turns = 0
        # The paced clock: when each event plays, in seconds from the first, gaps capped.
        self.times: list[float] = []
        self._index(0)

    def _index(self, start: int) -> None:
        """Take in events[start:]: iteration starts, the paced clock, the stops."""
        events = self.events
        if self._root is None:
            self._root = next((e.session_id for e in events
                               if isinstance(e, ev.SessionStarted) and e.depth == 0), None)
            start = 0 if self._root is not None else start
            self.iteration_starts, self._turns = [], 0
        for i in range(start, len(events)):
            event = events[i]
            if isinstance(event, ev.IterationStarted) and event.session_id == self._root:
                self.iteration_starts.append(i)
                self._turns += not getattr(event, "forced", False)
        paced = self.times[-1] if self.times else 0.0
        previous = events[len(self.times) - 1].ts if self.times else None
        for event in events[len(self.times):]:
            if previous is not None:
                paced += min(max(0.0, event.ts - previous), GAP_CAP_S)
            previous = event.ts
            self.times.append(paced)
        self.stops = sorted({*self.iteration_starts, len(events)})

    def extend(self, events: Sequence[ev.EventBase]) -> None:
        """Events written since (a run followed live): added to the end, not yet shown."""
        assert isinstance(self.events, list), "a cursor extends a list of its events"
        start = len(self.events)
        self.events.extend(events)
        self._index(start)

    @property
    def total(self) -> int:
        return len(self.events)

    @property
    def iterations(self) -> int:
        """Root iterations in the session (a forced final turn is not one)."""
        return self._turns

    @property
    def iteration(self) -> int:
        """Root iterations begun among the events shown."""
        return min(bisect_left(self.iteration_starts, self.position), self._turns)

    @property
    def at_end(self) -> bool:
        return self.position >= self.total

    @property
    def first_stop(self) -> int:
        return self.stops[0]

    def next_stop(self) -> int | None:
        """Where the iteration in hand (or, at a stop, the next one) ends; None at the end."""
        index = bisect_right(self.stops, self.position)
        return self.stops[index] if index < len(self.stops) else None

    def previous_stop(self) -> int | None:
        """Where the iteration before the one in hand ended; None at or before the first."""
        index = bisect_left(self.stops, self.position) - 1
        return self.stops[index] if index >= 0 else None

    def paced_time(self) -> float:
        """The paced clock at the position: when its last shown event played."""
        return self.times[self.position - 1] if self.position else 0.0

    def due(self, paced: float) -> int:
        """The position playback has reached when the paced clock reads `paced`."""
        return max(self.position, bisect_right(self.times, paced))

    def recorded_time(self) -> float | None:
        """When the last shown event happened (its `ts`); None before the first."""
        return self.events[self.position - 1].ts if self.position else None

    def take_to(self, position: int) -> Sequence[ev.EventBase]:
        """Move forward to `position`; the events that come into view, in order."""
        position = max(self.position, min(position, self.total))
        taken = self.events[self.position:position]
        self.position = position
        return taken

    def rewind(self) -> None:
        """Back to no event shown (the panes are to be cleared and fed again)."""
        self.position = 0
