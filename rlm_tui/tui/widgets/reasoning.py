"""Pane 2: the root model's replies as Markdown, streamed while they arrive, one section
per iteration; earlier iterations fold away and can be opened again."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from rlm_tui import events as ev
from rlm_tui.units import format_duration, format_tokens
from rlm_tui.printable import printable
from rlm_tui.transcript.model import IterationNode
from rlm_tui.tui.relay import SessionBatch
from rlm_tui.tui.widgets.compaction_line import show_compaction

PLACEHOLDER = "The root model's reasoning streams here, one section per iteration."
# Sections kept in the pane: the newest iterations. Earlier ones are counted in a line at
# the top (each one's reply stays in Calls, Call tab): a 1,000-iteration session would
# otherwise hold 1,000 Markdown documents, and every repaint would lay them all out.
MAX_SECTIONS = 20
# A reply is drawn as Rich draws Markdown, not with Textual's Markdown widget: that one is a
# widget per block, and mounting, styling and laying out a widget per paragraph, at 2,000
# tokens/s, stalled the app for 60-110 ms at a time (up to 480 ms before replies were cut
# into chunks; bench/bench_tui.py). A reply is a few Statics holding lines drawn once: its
# paragraphs up to the last SEAL_CHARS or so are sealed into chunks, a chunk at a time, and
# the live tail after them is drawn again at most every REDRAW_S while it streams (each
# batch of a slow stream draws it again: kept short, it costs a third of what 1,500 did).
SEAL_CHARS = 500
REDRAW_S = 0.05
# While it streams, the live tail keeps this many blank lines below it for the lines to
# come: a tail that grows lays the pane out again and repaints it whole (a slow model's reply
# grows ~5 lines a second), one that fills its room repaints its own lines only
# (bench/bench_stream_cpu.py).
RESERVE_LINES = 4
ESTIMATE_S = 2.0  # the title's running estimate (a new title lays the pane out again)
REPL_FENCE = re.compile(r"^( {0,3}```)repl[ \t]*$", re.MULTILINE)  # highlighted as Python


def seal_point(text: str) -> int:
    """Where to seal `text`: just after its last blank line outside a code fence (0: none)."""
    end = len(text)
    while (blank := text.rfind("\n\n", 0, end)) > 0:
        if text.count("```", 0, blank) % 2 == 0:
            return blank + 2
        end = blank
    return 0


def _tokens(usage: ev.Usage) -> str:
    """'1.2k → 300 tokens', each '~' when estimated."""
    prompt, reply = (format_tokens(n, estimated=not usage.reported)
                     for n in (usage.prompt_tokens, usage.completion_tokens))
    return f"{prompt} → {reply} tokens"


def describe_fork(fork_of: dict) -> str:
    """'↳ forked from run.jsonl after iteration 3 (turn 2): its REPL rebuilt from the record'."""
    name = str(fork_of.get("transcript") or "a transcript").replace("\\", "/").rsplit("/", 1)[-1]
    where = f"after iteration {fork_of.get('iteration', '?')}"
    if int(fork_of.get("turn") or 1) > 1:
        where += f" of turn {fork_of['turn']}"
    return f"↳ forked from {printable(name)} {where}: its REPL rebuilt from the record"


class IterationSection(Collapsible):
    """One root turn: its reply as Markdown, its tokens and time in the title.

    While folded (or not yet mounted) it only keeps the text: the reply is drawn when the
    section is opened, so a batch of many turns (a replay) draws only what is shown."""

    DEFAULT_CSS = """
    IterationSection {
        border-top: none;
        padding-bottom: 0;
        background: transparent;
        & > Contents { padding: 0 0 0 1; }
        .sealed { padding: 0 0 1 0; }
        .iteration-error { color: $error; padding: 0 1; }
        .rejection { color: $error; padding: 0 1 1 1; }
        .note { color: $accent; text-style: bold; padding: 0 0 1 0; }
    }
    """

    def __init__(self, iteration: int, forced: bool, *, turn: int = 1, rebuilt: bool = False,
                 collapsed: bool = False) -> None:
        self.turn = turn
        label = "Forced final turn" if forced else f"Iteration {iteration}"
        if turn > 1:
            label = f"Turn {turn} · {label[0].lower()}{label[1:]}"
        if rebuilt:
            label += " (rebuilt)"
        self.label = label
        self.live = Static(classes="live")
        self.notes: list[str] = []  # the person's notes the model read before this turn
        super().__init__(self.live, title=f"{self.label} — streaming…", collapsed=collapsed)
        self.text = ""
        self._sealed = 0  # characters of `text` shown in sealed chunks, before the live tail
        self._stale = False  # what is drawn is behind `text` (drawn again when opened)
        self._drawn_width = 0  # the width the chunks were drawn at
        self._redraw: Timer | None = None  # the live tail's pending redraw
        self._drawn_at = 0.0  # monotonic, of the live tail's last draw
        self._live_plain = ""  # the live tail's text as last drawn
        self._estimated_at = 0.0  # monotonic, of the title's last running estimate
        self._live_lines = -1  # the live tail's height when last drawn
        self._error: str | None = None
        self.rejections: list[str] = []  # its answers sent back, as shown

    @property
    def shown(self) -> bool:
        return self.is_mounted and not self.collapsed

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if self._error is not None:
            yield self._error_line(self._error)
        for text in self.rejections:
            yield Static(text, classes="rejection", markup=False)

    async def add_rejection(self, event: ev.AnswerRejected) -> None:
        """An answer of this turn that did not match the schema, sent back with its errors
        (at the forced turn: the run ends without an answer)."""
        then = ("the run stops without an answer" if event.forced
                else "the model was sent the errors")
        text = printable("\n".join([f"✗ answer rejected ({event.source}): it does not match "
                                    f"the schema; {then}", *(f"  - {e}" for e in event.errors)]))
        self.rejections.append(text)
        if self.is_mounted:
            await self.mount(Static(text, classes="rejection", markup=False))

    @staticmethod
    def _note_line(text: str) -> Static:
        return Static(f"✎ you: {printable(text)}", classes="note", markup=False)

    async def add_note(self, text: str) -> None:
        """A note the person wrote, delivered to the model before this turn's call: shown
        first, as the person's."""
        self.notes.append(text)
        line = self._note_line(text)
        if self.is_mounted:
            notes = self.contents.query(".note")
            after = notes.last() if notes else None
            if after is not None:
                await self.contents.mount(line, after=after)
            else:
                await self.contents.mount(line, before=0)
        else:
            self._contents_list.insert(len(self.notes) - 1, line)

    @staticmethod
    def _error_line(error: str) -> Static:
        return Static(error, classes="iteration-error", markup=False)

    async def write(self, text: str) -> None:
        if not text:
            return
        self.text += text
        if not self.shown:
            self._stale = True
            return
        if len(self.text) - self._sealed > SEAL_CHARS and await self._seal():
            return  # the live tail was drawn with the seal
        if self._redraw is None:
            # Drawn with the batch that brought the text (one frame, not two), unless the
            # last draw was under REDRAW_S ago: then once that time is up.
            wait = REDRAW_S - (time.monotonic() - self._drawn_at)
            if wait <= 0:
                self._draw_live(whole=False)
            else:
                self._redraw = self.set_timer(wait, lambda: self._draw_live(whole=False))

    async def _seal(self) -> bool:
        """Move the live tail's text, up to its last paragraph, into a sealed chunk, and draw
        what is left of the tail; False if it has no paragraph to seal yet."""
        live = self.text[self._sealed:]
        cut = seal_point(live)
        if not cut:
            return False
        await self.contents.mount(self._chunk(live[:cut]), before=self.live)
        self._sealed += cut
        self._draw_live(whole=False)
        return True

    def _draw_live(self, *, whole: bool = True) -> None:
        """Draw the live tail; `whole` False (while it streams): drawn with RESERVE_LINES
        blank lines below it, which the next lines fill without moving anything."""
        if self._redraw is not None:
            self._redraw.stop()
            self._redraw = None
        self._drawn_at = time.monotonic()
        drawn = self._draw(self.text[self._sealed:])
        lines = drawn.plain.count("\n") + 1 if drawn else 0
        height = lines
        if not whole:
            height = self._live_lines if lines <= self._live_lines else lines + RESERVE_LINES
            if height > lines:
                drawn.append("\n" * (height - lines))
        if drawn.plain == self._live_plain:
            return  # nothing new to show (the text grew by spaces the drawing drops)
        self._live_plain = drawn.plain
        # Only a tail that changed height moves what is around it: a new layout of the
        # pane, which repaints it whole, for those draws alone (one in RESERVE_LINES lines).
        self.live.update(drawn, layout=height != self._live_lines)
        self._live_lines = height

    def _chunk(self, text: str) -> Static:
        return Static(self._draw(text), classes="sealed")

    @property
    def draw_width(self) -> int:
        """The width replies are drawn at: the section's, or before its first layout, the
        pane's less the section's indent."""
        width = self.contents.content_region.width
        if not width and self.parent is not None:
            width = (self.parent.scrollable_content_region.width - self.styles.gutter.width
                     - self.contents.styles.gutter.width)
        return max(20, width)

    def _draw(self, text: str) -> Text:
        """`text` drawn once, at the section's width, as Rich draws Markdown (kept as Rich's
        markup, it would be drawn again at each layout, to measure its height)."""
        console = self.app.console
        self._drawn_width = width = self.draw_width
        code_theme = "one-dark" if self.app.current_theme.dark else "friendly"
        markdown = RichMarkdown(REPL_FENCE.sub(r"\1python", printable(text)), code_theme=code_theme)
        lines = console.render_lines(markdown, console.options.update(width=width), pad=False)
        drawn = Text()
        for number, line in enumerate(lines):
            if number:
                drawn.append("\n")
            for segment in line:
                drawn.append(segment.text, segment.style)
        return drawn

    def show_estimate(self, usage: ev.Usage) -> None:
        """While the reply streams: its running estimate (~) in the title, ESTIMATE_S apart."""
        now = time.monotonic()
        if now - self._estimated_at < ESTIMATE_S:
            return
        title = f"{self.label} — streaming… {_tokens(usage)}"
        if title != self.title:
            self._estimated_at = now
            self.title = title

    @property
    def contents(self) -> Collapsible.Contents:
        return self.query_one(Collapsible.Contents)

    async def restart(self) -> None:
        """A retried stream: what was shown of this turn is dropped."""
        self.text = ""
        await self.show_text()
        self.title = f"{self.label} — retrying…"

    async def finish(self, done: ev.RootDone) -> None:
        if done.text and done.text != self.text:
            self.text = done.text
            await self.show_text()
        elif self.shown:  # the last text, and no room kept below it now
            self._draw_live()
        self.title = f"{self.label} — {_tokens(done.usage)} · {format_duration(done.latency_s)}"
        if done.attempts > 1:
            self.title += f" · {done.attempts} attempts"
        if done.stopped:
            self.title += " · stopped"
        if done.error:
            self.title = f"{self.label} — failed"
            self._error = done.error
            if self.is_mounted:
                await self.mount(self._error_line(done.error))

    async def show_text(self) -> None:
        """Draw the reply again from `text` if the section is open; else when it opens."""
        if not self.shown:
            self._stale = True
            return
        self._stale = False
        await self.contents.query(".sealed").remove()
        chunks: list[Static] = []
        self._sealed = 0
        while len(self.text) - self._sealed > SEAL_CHARS:
            cut = seal_point(self.text[self._sealed : len(self.text) - SEAL_CHARS // 2])
            if not cut:
                break
            chunks.append(self._chunk(self.text[self._sealed : self._sealed + cut]))
            self._sealed += cut
        if chunks:
            await self.contents.mount_all(chunks, before=self.live)
        self._live_plain = ""  # drawn again whatever it was (a new width, a new theme)
        self._draw_live()

    async def redraw_if_resized(self) -> None:
        """Draw the reply again if the pane's width is no longer the one it was drawn at."""
        if self.shown and self._drawn_width and self._drawn_width != self.draw_width:
            await self.show_text()

    async def on_resize(self) -> None:
        await self.redraw_if_resized()

    async def _on_collapsible_expanded(self, event: Collapsible.Expanded) -> None:
        if event.collapsible is self and self._stale:
            await self.show_text()


class RootReasoning(VerticalScroll):
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
        await write_pending()
        if created:
            await self._show_new(created)
        for node in batch.tree.totals.streaming.values():
            streaming = self._sections.get(node.node_id)
            live = node.live_usage
            if streaming is not None and live is not None:
                streaming.show_estimate(live)
        self._show_queued(tuple(batch.tree.pending_notes))

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
