"""Pane 5: the run's answer as Markdown, saying when it was forced, or why there is none."""

from __future__ import annotations

import json
import re

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Markdown, Static

from rlm_tui import events as ev
from rlm_tui.printable import printable
from rlm_tui.tui.relay import SessionBatch

PLACEHOLDER = "The answer appears here when the run ends."


class FinalAnswer(VerticalScroll):
    """The root session's final answer, or the reason the run stopped without one."""

    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    FinalAnswer {
        #answer-status { height: auto; padding: 0 1; color: $text-muted; }
        #answer-status.-forced { color: $warning; }
        #answer-status.-stopped { color: $warning; text-style: bold; }
        #answer-status.-error { color: $error; text-style: bold; }
        #answer-text { margin: 0; padding: 0 1; background: transparent; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._root: str | None = None
        self.answer: str | None = None
        self.turn = 1  # the question the answer shown is for
        self.status_line = PLACEHOLDER

    def compose(self) -> ComposeResult:
        yield Static(PLACEHOLDER, id="answer-status", markup=False)
        yield Markdown("", id="answer-text")

    def _set_status(self, text: str, kind: str | None = None) -> None:
        self.status_line = text
        status = self.query_one("#answer-status", Static)
        status.update(Content(printable(text)))
        for name in ("-forced", "-stopped", "-error"):
            status.set_class(kind == name, name)

    async def reset(self) -> None:
        self._root = None
        self.answer = None
        self.turn = 1
        self._set_status(PLACEHOLDER)
        await self.query_one("#answer-text", Markdown).update("")

    def show_error(self, message: str) -> None:
        """A run that could not start (no model, unknown model, missing key, ...)."""
        self._set_status(f"Error: {message}", "-error")

    async def show_events(self, batch: SessionBatch) -> None:
        events = batch.events
        for event in events:
            if isinstance(event, ev.SessionStarted) and event.depth == 0 and self._root is None:
                self._root = event.session_id
                self._set_status("Running… the answer appears here when the run ends.")
            elif isinstance(event, ev.TurnStarted) and event.session_id == self._root:
                # A follow-up question: its answer replaces the last one here (each turn's
                # stays in the reasoning pane and every export).
                self.answer, self.turn = None, event.turn
                self._set_status(f"Turn {event.turn} running… its answer appears here when "
                                 "it ends.")
                await self.query_one("#answer-text", Markdown).update("")
            elif isinstance(event, ev.FinalAnswer) and event.session_id == self._root:
                self.answer, self.turn = event.answer, max(self.turn, event.turn)
                checked = " · validated: it matches the schema" if event.validated else ""
                if event.forced:
                    self._set_status(self._of_turn("Answer (forced: the iteration limit was "
                                                   f"reached){checked}"), "-forced")
                else:
                    self._set_status(self._of_turn(f"Answer{checked}"))
                await self.query_one("#answer-text", Markdown).update(_shown(event))
            elif isinstance(event, ev.SessionFinished) and event.session_id == self._root:
                if event.rebuilt:
                    continue  # a fork's copy of its parent's turn end: nothing ended here
                if event.status == "halted":
                    self._set_status(self._of_turn(f"Halted: {event.reason or 'stopped'}"
                                     + ("" if self.answer is None else " (answer kept)")),
                                     "-stopped")
                elif event.status == "failed":
                    self._set_status(self._of_turn(f"Failed: {event.reason or 'the run failed'}"),
                                     "-error")

    def _of_turn(self, text: str) -> str:
        """'Answer', or 'Answer · turn 2' once there are follow-up questions."""
        return text if self.turn <= 1 else f"{text} · turn {self.turn}"


def _shown(event: ev.FinalAnswer) -> str:
    """The answer as the pane's Markdown: a validated value as indented JSON in a fence."""
    if not event.validated:
        return printable(event.answer)
    text = json.dumps(event.value, indent=2, ensure_ascii=False)
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return printable(f"{fence}json\n{text}\n{fence}")
