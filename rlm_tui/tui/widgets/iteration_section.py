"""One iteration's section of the Reasoning pane: the root model's reply drawn as Markdown while
it streams (sealed chunks and a live tail), its notes, errors and running estimate."""

from __future__ import annotations

import re
import time

from markdown_it import MarkdownIt
from rich.console import ConsoleOptions
from rich.markdown import Markdown as RichMarkdown
from textual.strip import Strip
from textual.app import ComposeResult
from textual.timer import Timer
from textual.content import Content
from textual.widgets import Collapsible, Static
from textual.widgets._collapsible import CollapsibleTitle

from rlm_tui import events as ev
from rlm_tui.units import format_duration, format_tokens
from rlm_tui.printable import printable
from rlm_tui.tui.compositor import OneLayoutPass
from rlm_tui.tui.widgets.plain_tail import PlainTail
from rlm_tui.tui.widgets.reply_lines import ReplyLines

# A reply is drawn as Rich draws Markdown, not with Textual's Markdown widget: that one is a
# widget per block, and mounting, styling and laying out a widget per paragraph, at 2,000
# tokens/s, stalled the app for 60-110 ms at a time (up to 480 ms before replies were cut
# into chunks; bench/bench_tui.py). A reply is one widget of lines drawn once (ReplyLines):
# its paragraphs up to the last SEAL_CHARS or so are sealed into chunks, a chunk at a time,
# and the live tail after them is drawn again at most every REDRAW_S while it streams (each
# batch of a slow stream draws it again: kept short, it costs a third of what 1,500 did).
# A tail that is one plain paragraph is drawn without Markdown, from its last line (PlainTail).
SEAL_CHARS = 200
REDRAW_S = 0.05
# While it streams, the reply keeps this many blank lines below it for the lines to come: a
# reply that grows lays the screen out again and repaints the pane whole (a slow model's reply
# grows ~5 lines a second in a 40-column pane), one that fills its room repaints the lines
# that changed only (bench/bench_stream_cpu.py).
RESERVE_LINES = 8
ESTIMATE_S = 2.0  # the title's running estimate (a wider title lays the screen out again)
REPL_FENCE = re.compile(r"^( {0,3}```)repl[ \t]*$", re.MULTILINE)  # highlighted as Python


class ReplyMarkdown(RichMarkdown):
    """Rich's Markdown with one parser for every drawing: Rich builds a new MarkdownIt for
    each, which was a quarter of the cost of drawing a streamed tail ten times a second."""

    parser = MarkdownIt().enable("strikethrough").enable("table")

    def __init__(self, markup: str, code_theme: str) -> None:
        self.markup = markup
        self.parsed = self.parser.parse(markup)
        self.code_theme = self.inline_code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = True
        self.inline_code_lexer = None


_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$", re.MULTILINE)
_ITEM = re.compile(r"\n([-*+]) +\S")  # a bullet item's first line
_LAZY = re.compile(r"[A-Za-z0-9(\"']")  # a line that can only go on an item's paragraph


def seal_point(text: str) -> int:
    """Where to seal `text`, outside a code fence (0: nowhere): just after its last blank line,
    or before its last bullet item that goes on the list of the item before it, whichever
    is later (a list a model writes without blank lines is sealed an item at a time: Rich
    draws the two parts as it draws the whole, without the blank line a chunk ends with)."""
    end = len(text)
    after_blank = 0
    while (blank := text.rfind("\n\n", 0, end)) > 0:
        if not _in_fence(text, blank):
            after_blank = blank + 2
            break
        end = blank
    for match in reversed(list(_ITEM.finditer(text, after_blank))):
        cut = match.start() + 1
        line = text[cut:].partition("\n")[0]
        if (not _in_fence(text, cut) and set(line) > {match.group(1), " "}
                and _goes_on_a_list(text, cut, match.group(1))):
            return cut
    return after_blank


def _in_fence(text: str, at: int) -> bool:
    """`at` is inside a fenced code block: one opened by a line of ``` or ~~~ (at most 3
    spaces in) and not yet closed by a line of the same, at least as long. Backticks in a
    line's text (a model quoting "the ```repl block") open nothing."""
    opened = None
    for match in _FENCE_LINE.finditer(text, 0, at):
        fence, rest = match.groups()
        if opened is None:
            if not (fence[0] == "`" and "`" in rest):  # an info string holds no backtick
                opened = fence
        elif fence[0] == opened[0] and len(fence) >= len(opened) and not rest.strip():
            opened = None
    return opened is not None


def _goes_on_a_list(text: str, cut: int, marker: str) -> bool:
    """The lines before `cut` (an item's, indented under it, or a paragraph's going on) go
    back to an item of `marker` before a blank line or any other block."""
    end = cut - 1
    while end > 0:
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end]
        if line.startswith(marker + " "):
            return True
        if not (line[:1] == " " and line.strip() or _LAZY.match(line)):
            return False
        end = start - 1
    return False


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


class SectionTitle(OneLayoutPass, CollapsibleTitle):
    """A section's title, laid out again only when its width changes: a running estimate
    that keeps its length repaints its own line, not the screen's layout."""

    _shown_width = -1

    def _update_label(self) -> None:
        symbol = self.collapsed_symbol if self.collapsed else self.expanded_symbol
        label = Content.assemble(symbol, " ", self.label)
        self.update(label, layout=label.cell_length != self._shown_width)
        self._shown_width = label.cell_length


class SectionContents(OneLayoutPass, Collapsible.Contents):
    pass


class IterationSection(OneLayoutPass, Collapsible):
    """One root turn: its reply as Markdown, its tokens and time in the title.

    While folded (or not yet mounted) it only keeps the text: the reply is drawn when the
    section is opened, so a batch of many turns (a replay) draws only what is shown."""

    Contents = SectionContents

    DEFAULT_CSS = """
    IterationSection {
        border-top: none;
        padding-bottom: 0;
        background: transparent;
        & > Contents { padding: 0 0 0 1; }
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
        self.reply = ReplyLines()
        self.notes: list[str] = []  # the person's notes the model read before this turn
        super().__init__(self.reply, title=f"{self.label} — streaming…", collapsed=collapsed)
        self._title = SectionTitle(label=self.title, collapsed_symbol=self._title.collapsed_symbol,
                                   expanded_symbol=self._title.expanded_symbol,
                                   collapsed=collapsed)
        self.text = ""
        self._sealed = 0  # characters of `text` shown in sealed chunks, before the live tail
        self._stale = False  # what is drawn is behind `text` (drawn again when opened)
        self._drawn_width = 0  # the width the chunks were drawn at
        self._redraw: Timer | None = None  # the live tail's pending redraw
        self._drawn_at = 0.0  # monotonic, of the live tail's last draw
        self._estimated_at = 0.0  # monotonic, of the title's last running estimate
        self._error: str | None = None
        self.rejections: list[str] = []  # its answers sent back, as shown
        self.streaming = True  # its reply still streams (until `finish`)
        self._plain_tail = PlainTail()  # the tail's last drawing, while a plain paragraph
        self._contents_pane: Collapsible.Contents | None = None
        self._options: tuple[int, ConsoleOptions] | None = None  # the last width's

    @property
    def attached(self) -> bool:
        """Mounted with its contents: not yet composed, or being taken down (the app exiting
        while a tick still feeds it), it only keeps the text."""
        return self.is_mounted and self.reply.parent is not None

    @property
    def shown(self) -> bool:
        return self.attached and not self.collapsed

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
        if self.attached:
            await self.mount(Static(text, classes="rejection", markup=False))

    @staticmethod
    def _note_line(text: str) -> Static:
        return Static(f"✎ you: {printable(text)}", classes="note", markup=False)

    async def add_note(self, text: str) -> None:
        """A note the person wrote, delivered to the model before this turn's call: shown
        first, as the person's."""
        self.notes.append(text)
        line = self._note_line(text)
        if self.attached:
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
                self._draw_live()
            else:
                self._redraw = self.set_timer(wait, self._draw_live)

    async def _seal(self) -> bool:
        """Move the live tail's text, up to its last paragraph, into a sealed chunk, and draw
        what is left of the tail; False if it has no paragraph to seal yet."""
        if self._width_moved(self.draw_width):
            self._draw_whole()
            return True
        live = self.text[self._sealed:]
        cut = seal_point(live)
        if not cut:
            return False
        self._seal_chunk(live[:cut])
        self._draw_live()
        return True

    def _draw_live(self) -> None:
        """Draw the live tail; while the reply streams, with RESERVE_LINES blank lines kept
        below it, which the next lines fill without moving anything (drawn again whole at a
        new width too: dropping them there let a reply about the pane's height show and hide
        the pane's scrollbar, each a new width, at every draw)."""
        if self._redraw is not None:
            self._redraw.stop()
            self._redraw = None
        if not self.attached:
            self._stale = True
            return
        width = self.draw_width
        if self._width_moved(width):
            self._draw_whole()
            return
        self._drawn_at = time.monotonic()
        tail = self.text[self._sealed:]
        drawn = self._plain_tail.draw(self.app.console, self._options_at(width), printable(tail))
        if drawn is None:  # not one plain paragraph: drawn as Markdown
            drawn = self._draw(tail)
        else:
            self._drawn_width = width
        self.reply.show_tail(*drawn, reserve=RESERVE_LINES if self.streaming else 0)

    def _seal_chunk(self, chunk: str) -> None:
        """`chunk`, the tail's text up to a seal point, drawn once and sealed (with the blank
        line it ends with, if it ends a block; not if it ends a list's item)."""
        self.reply.seal(*self._draw(chunk), blank=chunk.endswith("\n\n"))
        self._sealed += len(chunk)

    def _width_moved(self, width: int) -> bool:
        """Chunks are sealed at a width other than `width`, the section's now (a draw at the
        new width came before the resize that would have drawn the whole reply again)."""
        return bool(self._sealed) and self._drawn_width != width

    @property
    def draw_width(self) -> int:
        """The width replies are drawn at: the section's, or before its first layout, the
        pane's less the section's indent."""
        width = self.contents.content_region.width
        if not width and self.parent is not None:
            width = (self.parent.scrollable_content_region.width - self.styles.gutter.width
                     - self.contents.styles.gutter.width)
        return max(20, width)

    def _draw(self, text: str) -> tuple[list[Strip], list[str]]:
        """`text` drawn once, at the section's width, as Rich draws Markdown: its lines, and
        their plain text."""
        if not text:
            return [], []
        console = self.app.console
        self._drawn_width = width = self.draw_width
        code_theme = "one-dark" if self.app.current_theme.dark else "friendly"
        markdown = ReplyMarkdown(REPL_FENCE.sub(r"\1python", printable(text)), code_theme)
        lines = console.render_lines(markdown, self._options_at(width), pad=False)
        return ([Strip(line) for line in lines],
                ["".join(segment.text for segment in line) for line in lines])

    def _options_at(self, width: int) -> ConsoleOptions:
        """The console's options at `width` (made once per width: each asked the terminal
        its size)."""
        if self._options is None or self._options[0] != width:
            self._options = (width, self.app.console.options.update(width=width))
        return self._options[1]

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
        contents = self._contents_pane
        if contents is None or contents.parent is not self:  # looked up once it is mounted
            contents = self._contents_pane = self.query_one(Collapsible.Contents)
        return contents

    async def restart(self) -> None:
        """A retried stream: what was shown of this turn is dropped."""
        self.text = ""
        await self.show_text()
        self.title = f"{self.label} — retrying…"

    def settle(self) -> None:
        """A reply that will not go on (its session ended, or its transcript ends, before its
        call did): no room kept below it for text to come."""
        if self.streaming:
            self.streaming = False
            if self.shown:
                self._draw_live()

    async def finish(self, done: ev.RootDone) -> None:
        self.streaming = False
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
            if self.attached:
                await self.mount(self._error_line(done.error))

    async def show_text(self) -> None:
        """Draw the reply again from `text` if the section is open; else when it opens."""
        if not self.shown:
            self._stale = True
            return
        self._stale = False
        self._draw_whole()

    def _draw_whole(self) -> None:
        self.reply.clear()
        self._sealed = 0
        while len(self.text) - self._sealed > SEAL_CHARS:
            cut = seal_point(self.text[self._sealed : len(self.text) - SEAL_CHARS // 2])
            if not cut:
                break
            self._seal_chunk(self.text[self._sealed : self._sealed + cut])
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
