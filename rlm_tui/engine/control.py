"""Steering a run: pause, resume, step, halt; and the shared ledger that enforces budgets.

One `RunControl` and one `Ledger` serve a whole run, the root session and every child session
under it, so pausing pauses the tree and a budget counts every call in it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rlm_tui.events import RunState, Usage
from rlm_tui.units import CHARS_PER_TOKEN

# The least a request asks for when a budget is nearly used up: room for a short code block
# or a FINAL(...) (a root turn cut shorter says nothing useful). The running count stops a
# stream that passes the budget anyway, so this bounds how far a run can go past it only
# when the budget is already closer than this.
MIN_REPLY_TOKENS = 256

# The states whose time is not running time: a pause, a cell held for approval, and the time
# between a session's turns (it waits for a follow-up question).
_CLOCK_STILL = frozenset({"paused", "held", "done", "halted", "failed"})


class RunControl:
    """The run's state machine. Methods are safe to call from the app at any time.

    - `pause()`: the iteration in hand finishes; no new one starts.
    - `resume()`: run freely.
    - `step()`: run exactly one more root iteration, then pause.
    - `halt(reason)`: cancel model calls in flight and interrupt running code now.
    """

    def __init__(self, on_state: Callable[[RunState, str | None], None] | None = None,
                 *, start_paused: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._on_state = on_state
        self._go = asyncio.Event()
        self._steps_left: int | None = None  # None: not stepping
        self._tasks: set[asyncio.Task] = set()
        self._clock = clock
        self._paused_seconds = 0.0  # the pauses that have ended, summed
        self._paused_since: float | None = None  # the pause in progress, since (clock)
        self.halt_reason: str | None = None
        self.state: RunState = "starting"
        self._before_hold: RunState = "running"  # the state a held cell's decision restores
        if start_paused:
            self._set("paused")
        else:
            self._go.set()

    @property
    def halted(self) -> bool:
        return self.halt_reason is not None

    def _set(self, state: RunState, reason: str | None = None) -> None:
        if state != self.state:
            now = self._clock()
            if state in _CLOCK_STILL:
                if self._paused_since is None:
                    self._paused_since = now
            elif self._paused_since is not None:
                self._paused_seconds += now - self._paused_since
                self._paused_since = None
            self.state = state
            if self._on_state is not None:
                self._on_state(state, reason)

    def mark_running(self) -> None:
        if self.state == "starting":
            self._set("paused" if not self._go.is_set() else "running")

    def pause(self) -> None:
        if self.state == "held":  # after the held cell's decision, the run pauses
            self._steps_left = None
            self._go.clear()
            self._before_hold = "paused"
            return
        if self.state in ("running", "stepping", "starting"):
            self._steps_left = None
            self._go.clear()
            self._set("paused")

    def resume(self) -> None:
        if self.state == "held":
            self._steps_left = None
            self._go.set()
            self._before_hold = "running"
            return
        if self.state in ("paused", "stepping", "starting"):
            self._steps_left = None
            self._go.set()
            self._set("running")

    def toggle_pause(self) -> None:
        if self.state == "paused" or (self.state == "held" and self._before_hold == "paused"):
            self.resume()
        else:
            self.pause()

    def step(self) -> None:
        if self.state in ("paused", "running", "starting"):
            self._steps_left = 1
            self._go.set()
            self._set("stepping")

    def halt(self, reason: str = "halted by the user") -> None:
        if self.halted or self.state in ("done", "failed"):
            return
        self.halt_reason = reason
        self._go.set()
        for task in list(self._tasks):
            task.cancel()

    def finish(self, state: RunState, reason: str | None = None) -> None:
        self._set(state, reason)

    def hold(self) -> None:
        """A cell waits for approval: the clock stands still until `release()`."""
        if self.state != "held":
            self._before_hold = self.state if self.state != "starting" else "running"
            self._set("held", "a cell awaits approval")

    def release(self) -> None:
        """The held cell was decided: back to running, stepping, or the pause asked for."""
        if self.state == "held":
            self._set(self._before_hold)

    def reopen(self, *, paused: bool = False) -> None:
        """A finished run takes a follow-up question: it runs again (or waits, paused)."""
        self.halt_reason = None
        self._steps_left = None
        if paused:
            self._go.clear()
            self._set("paused")
        else:
            self._go.set()
            self._set("running")

    def watch(self, task: asyncio.Task) -> None:
        """A task that `halt()` cancels (the root session's loop)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self.halted:
            task.cancel()

    @property
    def paused_seconds(self) -> float:
        """How long the run has been paused: from each pause (the state "paused", as the app
        shows it) to the resume or step that ended it. Not running time, for the time budget
        as for the app's clock; the iteration in hand when a pause came finishes meanwhile."""
        now = 0.0 if self._paused_since is None else self._clock() - self._paused_since
        return self._paused_seconds + now

    def running_clock(self) -> float:
        """A clock that stands still while the run is paused (differences are running time)."""
        return self._clock() - self.paused_seconds

    async def before_iteration(self, *, root: bool) -> None:
        """Wait until the run may start an iteration; a root iteration uses up a step."""
        while True:
            await self._go.wait()
            if not root or self._steps_left is None:
                return
            if self._steps_left > 0:
                self._steps_left -= 1
                return
            self._go.clear()  # a step was used up by someone else: wait for the next order

    def after_iteration(self, *, root: bool) -> None:
        if root and self._steps_left == 0 and not self.halted:
            self._steps_left = None
            self._go.clear()
            self._set("paused", "stepped one iteration")


class Ledger:
    """Every call's usage, summed over the run, checked against the budgets.

    `on_exceeded(budget, limit, value)` is called once, when the first budget is passed.
    Time is running time: `paused()` says how long the run was paused, which does not count.
    """

    def __init__(self, *, max_cost: float | None = None, max_tokens: int | None = None,
                 max_time: float | None = None,
                 on_exceeded: Callable[[str, float, float], None] | None = None,
                 paused: Callable[[], float] = lambda: 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_cost = max_cost
        self.max_tokens = max_tokens
        self.max_time = max_time
        self.usage = Usage()
        self.sub_calls = 0
        self._clock = clock
        self.started = clock()
        self.exceeded: str | None = None
        self._on_exceeded = on_exceeded
        self._paused = paused
        # Calls streaming now: their running estimates (tokens, cost), by call.
        self._in_flight: dict[object, tuple[int, float]] = {}
        self._flying_tokens = 0
        self._flying_cost = 0.0

    @property
    def seconds(self) -> float:
        """Running time: since the start, less the time the run was paused (`paused()`)."""
        return self._clock() - self.started - self._paused()

    def add(self, usage: Usage, *, sub_call: bool, check: bool = True) -> None:
        """A finished call's usage; `check` False: counted, not checked (a call stopped by a
        halt already under way)."""
        self.usage = self.usage + usage
        if sub_call:
            self.sub_calls += 1
        if check:
            self.check()

    def streaming(self, call: object, tokens: int, cost: float) -> None:
        """A call in flight has used about `tokens` (its prompt and its reply so far) and
        `cost`: counted against the budgets with what is used, so a stream that passes
        one is stopped (`on_exceeded`) rather than found over when it ends."""
        old_tokens, old_cost = self._in_flight.get(call, (0, 0.0))
        self._in_flight[call] = (tokens, cost)
        self._flying_tokens += tokens - old_tokens
        self._flying_cost += cost - old_cost
        self.check()

    def landed(self, call: object) -> None:
        """The call ended: its running estimate no longer counts (its usage is `add`ed)."""
        tokens, cost = self._in_flight.pop(call, (0, 0.0))
        self._flying_tokens -= tokens
        self._flying_cost -= cost

    def reply_cap(self, cap: int | None, prompt_tokens: int,
                  prices: tuple[float, float] | None) -> int | None:
        """The max_tokens for a request whose prompt is about `prompt_tokens`: `cap`, or less,
        no more than what is left of the token budget after the prompt and of the cost
        budget at the model's `prices` (USD per prompt and per reply token); never under
        MIN_REPLY_TOKENS (nor over `cap`). None: no cap and no budget to keep."""
        left: list[float] = []
        if self.max_tokens is not None:
            left.append(self.max_tokens - self.usage.total_tokens - self._flying_tokens
                        - prompt_tokens)
        if self.max_cost is not None and prices is not None and prices[1] > 0:
            spent = (self.usage.cost_usd or 0.0) + self._flying_cost
            left.append((self.max_cost - spent - prompt_tokens * prices[0]) / prices[1])
        if not left:
            return cap
        allowed = max(MIN_REPLY_TOKENS, int(min(left) + 1e-6))  # 999.99999 is 1,000
        return allowed if cap is None else max(1, min(cap, allowed))

    def check(self) -> None:
        if self.exceeded is not None:
            return
        checks = (
            ("cost", self.max_cost, (self.usage.cost_usd or 0.0) + self._flying_cost),
            ("tokens", self.max_tokens, float(self.usage.total_tokens + self._flying_tokens)),
            ("time", self.max_time, self.seconds),
        )
        for budget, limit, value in checks:
            if limit is not None and value >= limit:
                self.exceeded = budget
                if self._on_exceeded is not None:
                    self._on_exceeded(budget, float(limit), float(value))
                return


class CallMeter:
    """One model call as it streams: what it has sent so far, in characters, counted against
    the run's budgets as a running estimate (events.RootDelta says how a view shows one).

    `prices` are USD per (prompt, reply) token, None when the model has none.
    """

    def __init__(self, ledger: Ledger, prompt_tokens: int,
                 prices: tuple[float, float] | None, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.ledger = ledger
        self.prompt_tokens = prompt_tokens
        self.prices = prices
        self.chars = 0
        self.started = clock()
        self._clock = clock
        self._counted = -1  # the reply tokens last counted against the budgets

    @property
    def seconds(self) -> float:
        return self._clock() - self.started

    def add(self, text: str) -> None:
        self.chars += len(text)
        tokens = self.chars // CHARS_PER_TOKEN
        if tokens != self._counted:  # a token at a time, not a dict update per character
            self._counted = tokens
            cost = 0.0
            if self.prices is not None:
                cost = self.prompt_tokens * self.prices[0] + tokens * self.prices[1]
            self.ledger.streaming(self, self.prompt_tokens + tokens, cost)

    def restart(self) -> None:
        """A retried attempt streams the reply again from its start."""
        self.chars = 0
        self._counted = -1

    def done(self) -> None:
        self.ledger.landed(self)
