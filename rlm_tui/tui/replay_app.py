"""The app on a saved session (`rlm-tui replay FILE`): the same panes, relay and keys as a
live run, fed from a transcript instead of a run.

A replay has no workspace and no run: its events go through the session screen's `feed`
and `flush_events` exactly as a live run's do, so what is shown is what was shown live. Moving
forward feeds the events in between as one batch; going back clears the panes and feeds
everything up to the new position as one batch (one repaint however long the session).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.errors import RlmTuiError
from rlm_tui.forks import context_source
from rlm_tui.transcript import Transcript
from rlm_tui.transcript.export import export_read_transcript
from rlm_tui.tui.file_index import FileIndex
from rlm_tui.tui.forking import ForkPoint, ForkRequest
from rlm_tui.tui.relay import FLUSH_INTERVAL_S
from rlm_tui.tui.replay import DEFAULT_SPEED, SPEEDS, ReplayCursor, ReplayPosition, format_speed
from rlm_tui.tui.screens.fork import ForkChoice
from rlm_tui.tui.session_app import SESSION_BINDINGS, SESSION_HELP, SessionApp
from rlm_tui.tui.session_screen import PANE_ORDER
from rlm_tui.tui.widgets.keys_help import HelpSection
from rlm_tui.tui.widgets.reasoning import RootReasoning
from rlm_tui.units import estimate_tokens

NO_CONTENTS = ("File contents are not kept in a\ntranscript: a replay shows names,\n"
               "sizes and what the run read.")


class ReplayApp(SessionApp, inherit_bindings=False):
    """Step through a saved session: play it, or move one iteration at a time."""

    PANES: ClassVar[tuple[str, ...]] = tuple(p for p in PANE_ORDER if p != "query")
    SHOWN_AS: ClassVar[str] = "replay"  # what the context pane calls it (a watch too)
    # Space and n have the live app's action names, so the panes' own space bindings
    # (app.toggle_pause) play and pause here.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pause", "Play/pause",
                tooltip="At the session's own pace, sped up; at the end, again from the start"),
        Binding("n", "step", "Next", tooltip="Show one more iteration, then pause"),
        Binding("p", "previous_iteration", "Back", tooltip="One iteration earlier"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+",
                tooltip="Raise the playback speed"),
        Binding("minus", "slower", "Slower", key_display="-",
                tooltip="Lower the playback speed"),
        # Not home and end: the panes scroll with those.
        Binding("g", "to_start", "Start", show=False,
                tooltip="Back to the session's first iteration"),
        Binding("G", "to_end", "End", show=False, tooltip="Jump to the session's last event"),
        *SESSION_BINDINGS,
        Binding("ctrl+c", "help_quit", show=False, system=True),
    ]

    HELP_SECTIONS = (
        HelpSection("Play it back", "A saved session, shown as it ran: nothing runs again and "
                    "no model is called.", ("toggle_pause", "step", "previous_iteration",
                                            "faster", "slower", "to_start", "to_end")),
        *SESSION_HELP,
    )

    def __init__(self, transcript: Transcript, settings: Settings | None = None, *,
                 speed: float = DEFAULT_SPEED, preferences_path: Path | None = None) -> None:
        self.settings = settings or Settings()
        # Elapsed time on screen is the session's own.
        super().__init__(theme=self.settings.theme, preferences_path=preferences_path,
                         clock=self._recorded_time)
        self.transcript = transcript
        self.cursor = ReplayCursor(transcript.events)
        self.playing = False
        self.speed = speed
        self._paced = 0.0  # the paced clock playback has reached (see ReplayCursor.times)
        self._last_tick = 0.0
        self._seek_lock = asyncio.Lock()
        self.fork_request: ForkRequest | None = None  # launch.py starts it live on exit

    # -- opening ---------------------------------------------------------------------------

    def open_session(self) -> None:
        header = self.transcript.header
        settings = header.get("settings") or {}
        started = next((e for e in self.transcript.events if isinstance(e, ev.SessionStarted)),
                       None)
        session = self.session
        session.status_bar.model = (settings.get("model") or (
            started.root_model if started else "") or "unknown model")
        session.status_bar.max_cost = settings.get("max_cost")
        self._show_context(header.get("context") or {})
        session.preview.show_unavailable(NO_CONTENTS)
        session.query_bar.set_query(header.get("query") or (started.query if started else ""))
        session.query_bar.input.disabled = True  # a replay runs nothing
        for note in self.transcript.notes():
            cut = self.transcript.stop is not None and note == self.transcript.stop.describe()
            self.notify(note, title="Transcript cut short" if cut else "Replay",
                        severity="warning" if cut else "information", timeout=20 if cut else 8)
        self._player = self.set_interval(FLUSH_INTERVAL_S, self._play_tick, pause=True)
        session.focus_run()  # at 80x24, the reply it plays in front
        self.call_later(self.seek, self.opening_position())

    @property
    def record_complete(self) -> bool:
        """Whether the events read are all the record will hold (a watch: once the run has
        ended)."""
        return True

    def opening_position(self) -> int:
        """Where the session opens: before its first iteration (a watch: at its end)."""
        return self.cursor.first_stop

    def _show_context(self, meta: dict[str, Any]) -> None:
        """The header's context summary: its files by name where it lists some (there is
        no pack on disk), with coverage as the events bring it."""
        name = str(meta.get("name") or meta.get("source") or "context")
        files_read: dict[str, Any] = {}
        for event in self.transcript.events:
            if isinstance(event, ev.CoverageUpdated):
                files_read.update(event.coverage.get("files") or {})
        browser = self.session.context_browser
        if not files_read:
            browser.unread_text = "no coverage recorded"
        index = FileIndex.from_summary(meta, name, files_read)
        if index is not None:
            # A directory counts the files listed beneath it, skipped ones too: the note
            # says how many of each the summary names.
            note = f"{self.SHOWN_AS}: {index.listed:,} of {index.file_count:,} files listed"
            if index.skipped_count:
                note += f", {index.skipped_listed:,} of {index.skipped_count:,} skipped"
            browser.show_index(index, note=f"{note}, no contents")
            return
        chars = int(meta.get("chars", 0) or 0)
        if not meta:
            headline = "no context summary in this transcript"
        elif meta.get("kind") == "text":
            headline = f"one text · {chars:,} chars · {estimate_tokens(chars)} tokens"
        else:
            files = f"{meta['files']:,} files · " if meta.get("files") else ""
            headline = f"{files}{chars:,} chars · {estimate_tokens(chars)} tokens"
        note = ("an rlms log records no file list" if self.transcript.source_format == "rlms"
                else f"{self.SHOWN_AS}: no file list, no contents")
        browser.show_summary(name, headline, note)

    def _recorded_time(self) -> float:
        shown = self.cursor.recorded_time()
        return shown if shown is not None else float(self.transcript.header.get("created") or 0)

    # -- moving ----------------------------------------------------------------------------

    async def seek(self, position: int) -> None:
        """Show the session as it stood after its first `position` events."""
        # One frame for the move: no half-cleared panes on screen while they are refed.
        async with self._seek_lock:
            with self.batch_update():
                cursor = self.cursor
                if position < cursor.position:
                    await self.session.reset_views()
                    cursor.rewind()
                batch = cursor.take_to(position)
                if batch:
                    self.feed(batch)
                    await self.flush_events()
            self._paced = cursor.paced_time()
        self._after_move()

    async def _play_tick(self) -> None:
        if not self.playing or self._seek_lock.locked():
            return
        now = time.monotonic()
        self._paced += (now - self._last_tick) * self.speed
        self._last_tick = now
        async with self._seek_lock:
            batch = self.cursor.take_to(self.cursor.due(self._paced))
            if batch:
                self.feed(batch)
                await self.flush_events()
        if self.cursor.at_end:
            self._set_playing(False)
            if self.transcript.stop is not None:
                self.notify(self.transcript.stop.describe(), title="The transcript ends here",
                            severity="warning", timeout=20)
        self._show_status()

    def _set_playing(self, playing: bool) -> None:
        self.playing = playing
        if playing:
            self._last_tick = time.monotonic()
            self._player.resume()
        else:
            self._player.pause()
        self._after_move()

    def _after_move(self) -> None:
        if self.cursor.at_end and self.record_complete:
            self.session.query_one(RootReasoning).settle()  # a reply cut off goes no further
        self._show_status()
        self.refresh_bindings()

    def _show_status(self) -> None:
        self.show_status()
        cursor = self.cursor
        self.session.status_bar.replay = ReplayPosition(
            iteration=cursor.iteration, iterations=cursor.iterations, event=cursor.position,
            events=cursor.total, playing=self.playing, speed=self.speed,
            cut=self.transcript.truncated)

    # -- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        cursor = self.cursor
        if action in ("halt", "new_query"):
            return False  # nothing runs in a replay: hidden
        if action == "toggle_pause":
            return True if cursor.total else None
        if action in ("step", "to_end"):
            return True if not cursor.at_end else None
        if action in ("previous_iteration", "to_start"):
            return True if cursor.previous_stop() is not None else None
        if action == "faster":
            return True if self.speed < SPEEDS[-1] else None
        if action == "slower":
            return True if self.speed > SPEEDS[0] else None
        return super().check_action(action, parameters)

    async def action_toggle_pause(self) -> None:
        if self.playing:
            self._set_playing(False)
            return
        if self.cursor.at_end:
            await self.seek(0)  # played through: again from the start
        self._set_playing(True)

    async def action_step(self) -> None:
        self._set_playing(False)
        target = self.cursor.next_stop()
        if target is not None:
            await self.seek(target)

    async def action_previous_iteration(self) -> None:
        self._set_playing(False)
        target = self.cursor.previous_stop()
        if target is not None:
            await self.seek(target)

    async def action_to_start(self) -> None:
        self._set_playing(False)
        await self.seek(self.cursor.first_stop)

    async def action_to_end(self) -> None:
        self._set_playing(False)
        await self.seek(self.cursor.total)

    def action_faster(self) -> None:
        self._change_speed(+1)

    def action_slower(self) -> None:
        self._change_speed(-1)

    def _change_speed(self, step: int) -> None:
        index = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - self.speed))
        self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, index + step))]
        self.notify(f"Playing at {format_speed(self.speed)}", timeout=1.5)
        self._after_move()

    # -- fork ------------------------------------------------------------------------------

    def fork_chosen(self, point: ForkPoint, choice: ForkChoice) -> None:
        """Leave the replay for the live app, forking the session from `point` on the
        context it was run on (launch.py); a fork that cannot be planned says why here."""
        from rlm_tui.forks import fork_sources, load_fork  # deferred: the engine's imports

        path = self.transcript.path
        problem = None
        if path is None:
            problem = "this session was not read from a file"
        elif context_source(self.transcript.header) is None:
            try:  # why, in its words: stdin, data given in code, or no record
                fork_sources(self.transcript.header, None)
                problem = "its context is not recorded"
            except RlmTuiError as exc:
                problem = str(exc).split(": pass --context")[0]
            problem += ": fork it with rlm-tui fork FILE --at K --context PATH"
        else:
            try:
                load_fork(path, point.at)
            except RlmTuiError as exc:
                problem = str(exc)
        if problem is not None:
            self.notify(problem, title="Not forked", severity="error", timeout=12)
            return
        assert path is not None
        self.fork_request = ForkRequest(path, point, choice)
        self.exit()

    # -- export ----------------------------------------------------------------------------

    @property
    def has_session(self) -> bool:
        return True

    def export_to(self, path: Path) -> int:
        return export_read_transcript(path, self.transcript)
