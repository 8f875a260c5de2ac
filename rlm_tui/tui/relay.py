"""The boundary between the engine and the app.

The engine runs on the app's event loop and emits events synchronously. `EventRelay` is the
subscriber the app puts on a run's bus: it only appends, so a stream of 2,000 deltas a second
costs the engine almost nothing; the app takes the events in batches on a timer (about 30 a
second, running only while events wait: the relay wakes it; streamed text alone, at the
stream's pace) and hands each batch to every pane
(`EventView`), so the screen repaints per batch, not per event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from rlm_tui.events import EventBase, RootDelta
from rlm_tui.transcript.model import Node, SessionModel

# How often the app takes the relay's events: fast enough to look live, slow enough that a
# burst of events costs one repaint.
FLUSH_INTERVAL_S = 1 / 30
# While only streamed text arrives, the panes take it at most this often, whatever the
# chunk rate: each draw costs the same whether it adds one token or fifty, and a local model
# (25 chunks a second for minutes) shares the machine's cores with the app
# (bench/bench_stream_cpu.py).
STREAM_FLUSH_S = 0.1


@dataclass(frozen=True)
class SessionBatch:
    """What one flush hands every pane: the events that arrived, in order, the session tree
    they were folded into (the one fold: statuses and roll-ups are read there, never summed
    by a pane), and the tree's nodes that changed."""

    events: Sequence[EventBase]
    tree: SessionModel
    changed: set[Node]


class EventView(Protocol):
    """A pane that shows part of a run."""

    async def show_events(self, batch: SessionBatch) -> None:
        """Take in a batch of events, in order, and update what is shown."""

    async def reset(self) -> None:
        """Forget the run shown (a new run starts)."""


class EventRelay:
    """A bus subscriber that buffers events until the app takes them."""

    def __init__(self) -> None:
        self._pending: list[EventBase] = []
        self._only_deltas = True
        # Called once an event has arrived and none was waiting, or the first that is not
        # streamed text arrives after some that were: the app's flush timer, asleep while
        # nothing waits (a timer ticking 30 times a second took 0.8% of a core idle) and
        # while streamed text waits for the stream's pace.
        self.on_arrival: Callable[[], object] | None = None

    def __call__(self, event: EventBase) -> None:
        delta = type(event) is RootDelta
        wake = not self._pending or (self._only_deltas and not delta)
        self._pending.append(event)
        if not delta:
            self._only_deltas = False
        if wake and self.on_arrival is not None:
            self.on_arrival()

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def only_deltas(self) -> bool:
        """Nothing but streamed text (root_delta) waits: it can wait for the stream's pace."""
        return self._only_deltas

    def take(self) -> list[EventBase]:
        """Every event that arrived since the last call, oldest first."""
        batch, self._pending = self._pending, []
        self._only_deltas = True
        return batch
