"""Pane 2: the root model's replies as Markdown, streamed while they arrive, one section
per iteration; earlier iterations fold away and can be opened again."""

from __future__ import annotations

from collections.abc import Sequence

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from rlm_tui.tui.compositor import OneLayoutPass
from rlm_tui import events as ev
from rlm_tui.printable import printable
from rlm_tui.transcript.model import IterationNode
from rlm_tui.tui.relay import SessionBatch
from rlm_tui.tui.widgets.compaction_line import show_compaction
from rlm_tui.tui.widgets.iteration_section import IterationSection, describe_fork

PLACEHOLDER = "The root model's reasoning streams here, one section per iteration."
# Sections kept in the pane: the newest iterations. Earlier ones are counted in a line at
# the top (each one's reply stays in Calls, Call tab): a 1,000-iteration session would
# otherwise hold 1,000 Markdown documents, and every repaint would lay them all out.
MAX_SECTIONS = 20


class RootReasoning(OneLayoutPass, VerticalScroll):
    """The root session's turns (child sessions show under their sub-call instead)."""

    ALLOW_MAXIMIZE = True
    BORDER_TITLE = "Reasoning"
    DEFAULT_CSS = """
    RootReasoning {
        /* Bottom-aligned like a chat: Textual 8's anchor scrolls a shorter-than-the-pane
           content to a negative offset (blank lines on top); aligned, it stays at 0. */
        align-vertical: bottom;
        .placeholder, .earlier { color: $text-muted; padding: 0 1; }
        .fork-of, .compaction { color: $accent; padding: 0 1; }
        .turn-header { color: $primary; text-style: bold; padding: 0 1; margin-top: 1;
                       border-top: hkey $primary; }
        #queued-notes { color: $accent; padding: 0 1; display: none; }
        #queued-notes.-shown { display: block; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._root: str | None = None
        self._sections: dict[str, IterationSection] = {}  # node id -> section, oldest first
        self._current: IterationSection | None = None
        self._earlier = 0  # iterations no longer (or never) shown as sections
        self._earlier_line: Static | None = None
        self._turn_headers: dict[int, Static] = {}  # follow-up questions' headers, by turn
        self._queued: tuple[str, ...] = ()  # the notes shown as queued

    def compose(self):
        yield Static(PLACEHOLDER, classes="placeholder")
        yield self._queued_line()

    @staticmethod
    def _queued_line() -> Static:
        return Static("", id="queued-notes", markup=False)

    @property
    def queued_notes(self) -> Static:
        """The notes the person queued that the model has not read yet (last in the pane)."""
        return self.query_one("#queued-notes", Static)

    def on_mount(self) -> None:
        self.anchor()

    @property
    def sections(self) -> list[IterationSection]:
        """The sections in the pane, oldest first (at most MAX_SECTIONS)."""
        return list(self._sections.values())

    async def reset(self) -> None:
        self._root = None
        self._sections = {}
        self._current = None
        self._earlier = 0
        self._earlier_line = None
        self._turn_headers = {}
        self._queued = ()
        await self.remove_children()
        await self.mount_all([Static(PLACEHOLDER, classes="placeholder"), self._queued_line()])
        self.border_title = "Reasoning"
        self.anchor()

    async def show_events(self, batch: SessionBatch) -> None:
        events = batch.events
        pending: dict[IterationSection, list[str]] = {}

        async def write_pending(only: IterationSection | None = None) -> None:
            # Deltas of one batch are written at once: one write per batch.
            for target in [only] if only is not None else list(pending):
                pieces = pending.pop(target, None)
                if pieces:
                    await target.write("".join(pieces))

        # Turns of this batch beyond the pane's room are never built (a replay's jump).
        unbuilt = max(0, self._count_new_turns(events) - MAX_SECTIONS)
        created: list[Static | IterationSection] = []
        for event in events:
            if isinstance(event, ev.SessionStarted):
                if event.depth == 0 and self._root is None:
                    self._root = event.session_id
                    if event.fork_of:
                        created.append(Static(describe_fork(event.fork_of), classes="fork-of",
                                              markup=False))
                continue
            if event.session_id != self._root:
                continue
            if isinstance(event, ev.TurnStarted):
                if 1 not in self._turn_headers and batch.tree.root is not None:
                    await self._head_first_turn(batch.tree.root.query, created)
                header = self._turn_header(event.turn, event.query)
                created.append(header)
            elif isinstance(event, ev.IterationStarted):
                await write_pending()
                if unbuilt:
                    unbuilt -= 1
                    self._earlier += 1
                    continue
                section = IterationSection(event.iteration, event.forced, turn=event.turn,
                                           rebuilt=event.rebuilt, collapsed=True)
                self._sections[event.node_id] = section
                created.append(section)
            elif isinstance(event, ev.MessageAdded) and event.kind == "note":
                noted = self._sections.get(event.node_id)
                iteration = batch.tree.nodes.get(event.node_id)
                if noted is not None and isinstance(iteration, IterationNode):
                    # The tree has the person's words (the message wraps them).
                    for text in iteration.notes[len(noted.notes):]:
                        await noted.add_note(text)
            elif isinstance(event, ev.RootDelta):
                section = self._sections.get(event.node_id)
                if section is None:
                    continue
                if event.restart:
                    pending.pop(section, None)
                    await section.restart()
                else:
                    pending.setdefault(section, []).append(event.text)
            elif isinstance(event, ev.RootDone):
                section = self._sections.get(event.node_id)
                if section is not None:
                    await write_pending(section)
                    await section.finish(event)
            elif isinstance(event, ev.AnswerRejected):
                section = self._sections.get(event.node_id)
                if section is not None:
                    await section.add_rejection(event)
            elif isinstance(event, ev.Compacted):
                await show_compaction(self, self._sections.get(event.node_id), created, event)
            elif isinstance(event, ev.SessionFinished):
                await write_pending()
                self.settle()  # a reply cut off with its session streams no more
        await write_pending()
        if created:
            await self._show_new(created)
        for node in batch.tree.totals.streaming.values():
            streaming = self._sections.get(node.node_id)
            live = node.live_usage
            if streaming is not None and live is not None:
                streaming.show_estimate(live)
        self._show_queued(tuple(batch.tree.pending_notes))

    def settle(self) -> None:
        """The run shown goes no further (it ended, or its transcript ends here): a reply
        that never finished keeps no blank lines for text to come."""
        for section in self._sections.values():
            section.settle()

    def _turn_header(self, turn: int, query: str) -> Static:
        header = Static(f"Turn {turn} · {printable(query)}", classes="turn-header",
                        markup=False)
        self._turn_headers[turn] = header
        return header

    async def _head_first_turn(self, query: str, created: list[Static | IterationSection],
                               ) -> None:
        """Once there is a follow-up question, the first question heads its turn too."""
        first = next((s for s in self._sections.values() if s.turn == 1), None)
        if first is None:
            return
        header = self._turn_header(1, query)
        if first in created:
            created.insert(created.index(first), header)
        elif first.is_mounted:
            await self.mount(header, before=first)

    def _show_queued(self, notes: tuple[str, ...]) -> None:
        if notes == self._queued:
            return
        self._queued = notes
        line = self.queued_notes
        line.update("\n".join(f"✎ you (queued for the model's next call): {printable(n)}"
                              for n in notes))
        line.set_class(bool(notes), "-shown")

    def _count_new_turns(self, events: Sequence[ev.EventBase]) -> int:
        root, count = self._root, 0
        for event in events:
            if isinstance(event, ev.SessionStarted) and event.depth == 0 and root is None:
                root = event.session_id
            elif isinstance(event, ev.IterationStarted) and event.session_id == root:
                count += 1
        return count

    async def _show_new(self, created: list[Static | IterationSection]) -> None:
        """Mount this batch's sections (and follow-up questions' headers) at once, the newest
        open and the rest folded, and drop the oldest beyond MAX_SECTIONS."""
        sections = [w for w in created if isinstance(w, IterationSection)]
        newest = sections[-1] if sections else None
        await self.query_children(".placeholder").remove()
        if newest is not None:
            if self._current is not None:
                self._current.collapsed = True
            newest.collapsed = False
            self._current = newest
        surplus = len(self._sections) - MAX_SECTIONS
        if surplus > 0:
            dropped = list(self._sections)[:surplus]
            old: list[Widget] = [self._sections.pop(node) for node in dropped]
            self._earlier += len(old)
            first_turn = next(iter(self._sections.values())).turn
            old += [self._turn_headers.pop(t) for t in list(self._turn_headers)
                    if t < first_turn]
            await self.remove_children([w for w in old if w.is_mounted])
        if self._earlier:
            text = (f"… {self._earlier:,} earlier iterations are not shown here: "
                    "each one's reply is in Calls (Call tab)")
            if self._earlier_line is None:
                self._earlier_line = Static(text, classes="earlier", markup=False)
                await self.mount(self._earlier_line, before=0 if self.children else None)
            else:
                self._earlier_line.update(text)
        await self.mount_all(created, before=self.queued_notes)
        if newest is None:
            return
        if newest._stale:  # not yet drawn when it opened
            await newest.show_text()
        self.border_title = f"Reasoning · {newest.label.lower()}"
