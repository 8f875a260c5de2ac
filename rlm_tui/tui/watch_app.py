"""The app on a run that another process is running (`rlm-tui watch`): the replay's screen,
fed live from the transcript as it grows, and steered over the run's control socket.

A watch is a replay that follows its file: every FLUSH_INTERVAL_S the new whole lines are
read (transcript/follow.py), added to the cursor and fed through the same relay and panes,
so what is shown is what the live app shows. The run's end (its session closed, its process
gone) is shown as such. Space, n, x and i are the live app's steering keys; they go to the
run as commands over its socket (rlm_tui/remote/), which do what the app's keys do there.
Leaving the watch changes nothing for the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from rlm_tui.config import Settings
from rlm_tui.errors import RlmTuiError
from rlm_tui.remote.client import send_command
from rlm_tui.transcript.follow import TranscriptFollower
from rlm_tui.tui.relay import FLUSH_INTERVAL_S
from rlm_tui.tui.replay import ReplayPosition
from rlm_tui.tui.replay_app import ReplayApp
from rlm_tui.tui.screens.prompt import PromptScreen
from rlm_tui.tui.session_app import SESSION_BINDINGS, SessionApp

# How often a quiet transcript's writer is checked for having gone (a stat and a kill(0)).
WRITER_CHECK_S = 0.5
OVER_SOCKET = " (sent to the run over its control socket)"
STEERING_ACTIONS = frozenset({"toggle_pause", "step", "halt", "note"})


class WatchApp(ReplayApp, inherit_bindings=False):
    """Follow a run written elsewhere, and steer it over its control socket."""

    SHOWN_AS: ClassVar[str] = "watch"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pause", "Pause/resume",
                tooltip="Pause the run after the step in hand, or resume it" + OVER_SOCKET),
        Binding("n", "step", "Step",
                tooltip="Run exactly one more iteration, then pause" + OVER_SOCKET),
        Binding("x", "halt", "Halt", tooltip="Stop the run now, keeping what it found"
                + OVER_SOCKET),
        Binding("i", "note", "Note",
                tooltip="Write a note the model reads before its next call" + OVER_SOCKET),
        *SESSION_BINDINGS,
        Binding("ctrl+c", "help_quit", show=False, system=True),
    ]

    def __init__(self, follower: TranscriptFollower, settings: Settings | None = None, *,
                 preferences_path: Path | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(follower.transcript, settings, preferences_path=preferences_path)
        self._live_clock = clock  # elapsed time while the run goes on (then: its own)
        self.follower = follower
        socket = follower.transcript.header.get("control_socket")
        self.socket: Path | None = Path(socket) if isinstance(socket, str) and socket else None
        self.ended: str | None = None  # why the run is over, once it is
        self._checked = 0.0

    # -- following -------------------------------------------------------------------------

    def open_session(self) -> None:
        super().open_session()
        self._follow_timer = self.set_interval(FLUSH_INTERVAL_S, self._follow_tick)

    def opening_position(self) -> int:
        return self.cursor.total  # all that is written: the run as it stands now

    @property
    def record_complete(self) -> bool:
        return self.ended is not None

    def _recorded_time(self) -> float:
        return self._live_clock() if self.ended is None else super()._recorded_time()

    async def _follow_tick(self) -> None:
        if self.ended is not None or not self.is_running or self._seek_lock.locked():
            return  # ended, closing (its panes are being taken down), or a move under way
        new = self.follower.poll()
        gone = None
        if not new and time.monotonic() - self._checked >= WRITER_CHECK_S:
            self._checked = time.monotonic()
            gone = self.follower.writer_gone()
            if gone is not None:
                new = self.follower.finish()
        if new:
            async with self._seek_lock:
                self.cursor.extend(new)
                batch = self.cursor.take_to(self.cursor.total)
                with self.batch_update():  # one frame for the batch, as a replay's move
                    self.feed(batch)
                    await self.flush_events()
        if gone is not None:
            self._run_ended(gone)
        elif self.follower.stop is not None:  # a line that is not JSON: no more to read
            self._run_ended("its transcript cannot be read further")
        elif new:
            self._show_status()

    def _run_ended(self, why: str) -> None:
        self.ended = why
        self._follow_timer.stop()
        self.follower.close()
        summary = self.summary
        what = summary.state + (f": {summary.reason}" if summary.reason else "")
        self.notify(f"The run has ended ({why}); it stands {what}.", title="Watch",
                    timeout=12)
        if self.follower.stop is not None:
            self.notify(self.follower.stop.describe(), title="The transcript ends here",
                        severity="warning", timeout=20)
        self._after_move()

    def _show_status(self) -> None:
        self.show_status()
        cursor = self.cursor
        self.session.status_bar.replay = ReplayPosition(
            iteration=cursor.iteration, iterations=cursor.iterations, event=cursor.position,
            events=cursor.total, playing=False, speed=1.0, cut=self.follower.stop is not None,
            watch="live" if self.ended is None else "ended")

    # -- steering over the socket ------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in STEERING_ACTIONS:
            return True  # when it cannot be done, the key says why in one line
        if action in ("new_query", "previous_iteration", "to_start", "to_end", "faster",
                      "slower"):
            return False
        return SessionApp.check_action(self, action, parameters)

    def cannot_steer(self) -> str | None:
        """Why the keys cannot reach the run now (one line), or None."""
        if self.ended is not None:
            return f"The run has ended ({self.ended}): there is nothing to steer."
        if self.socket is None:
            return ("This run has no control socket (control_socket = false, or it could not "
                    "be made): it can be watched, not steered.")
        return None

    def send(self, cmd: str, done: str | None = None, **args: Any) -> None:
        """Send `cmd` to the run in a worker; `done`: what to say once it is sent."""
        problem = self.cannot_steer()
        if problem is not None:
            self.notify(problem, severity="warning", timeout=6)
            return
        self.run_worker(self._send(cmd, done, args), group="steer", exit_on_error=False)

    async def _send(self, cmd: str, done: str | None, args: dict[str, Any]) -> None:
        assert self.socket is not None
        try:
            reply = await send_command(self.socket, cmd, **args)
        except RlmTuiError as exc:
            self.notify(str(exc), title="Not sent", severity="error", timeout=8)
            return
        # One line of feedback: the run's state as it answered (a pause is "paused" at once,
        # while the step in hand finishes; a run between questions stays "done").
        said = done or f"{reply.get('cmd', cmd).capitalize()} sent: the run is " \
            f"{reply.get('state', 'unknown')}."
        self.notify(said, timeout=4)

    async def action_toggle_pause(self) -> None:
        self.send("toggle_pause")

    async def action_step(self) -> None:
        self.send("step")

    def action_halt(self) -> None:
        self.send("halt")

    def action_note(self) -> None:
        problem = self.cannot_steer()
        if problem is not None:
            self.notify(problem, severity="warning", timeout=6)
            return
        self.push_screen(PromptScreen("A note to the model", placeholder="e.g. check the "
                                      "tests before answering", hint="enter sends it to the "
                                      "run: the model reads it before its next call · escape "
                                      "cancels", input_id="note-input"),
                         self._note_written)

    def _note_written(self, text: str | None) -> None:
        if text:
            self.send("note", "Note sent: the model reads it before its next call.",
                      text=text)
