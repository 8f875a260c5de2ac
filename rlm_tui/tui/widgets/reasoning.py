"""Pane 2: the root model's replies as Markdown, streamed while they arrive, one section
per iteration; earlier iterations fold away and can be opened again."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Collapsible, Markdown, Static
from textual.widgets.markdown import MarkdownFence, MarkdownStream

from rlm_tui import events as ev
from rlm_tui.progress import format_tokens
from rlm_tui.tui.units import format_duration

PLACEHOLDER = "The root model's reasoning streams here, one section per iteration."
# Sections kept in the pane: the newest iterations. Earlier ones are counted in a line at
# the top (each one's reply stays in Calls, Call tab): a 1,000-iteration session would
# otherwise hold 1,000 Markdown documents, and every repaint would lay them all out.
MAX_SECTIONS = 20
# Textual's Markdown is a widget per block, and the layout's work and the garbage collector's
# walks grow with the blocks: a 30,000-character reply streamed at 2,000 tokens/s stalled
# the app for up to 300-480 ms (bench/bench_tui.py). So a reply's live Markdown holds its
# last SEAL_CHARS or so; the paragraphs before are sealed, a chunk at a time, into Statics
# holding Rich's drawing of that Markdown (one widget each, drawn once). Longest stalls
# with 1,500 / 2,500 / 4,000: 61-148 / 61-93 / 69-91 ms (five runs each).
SEAL_CHARS = 2_500


def seal_point(text: str) -> int:
    """Where to seal `text`: just after its last blank line outside a code fence (0: none)."""
    end = len(text)
    while (blank := text.rfind("\n\n", 0, end)) > 0:
        if text.count("```", 0, blank) % 2 == 0:
            return blank + 2
        end = blank
    return 0


class ReplyFence(MarkdownFence):
    """A code block of a reply: ```repl is Python; a block with no language is plain text
    (Textual would otherwise guess it with Pygments, ~5 ms a block, again as it streams)."""

    @classmethod
    def highlight(cls, code: str, language: str, ansi: bool = False,
                  dark: bool = False) -> Content:
        language = {"repl": "python", "": "text"}.get(language, language)
        return super().highlight(code, language, ansi=ansi, dark=dark)


class ReplyMarkdown(Markdown):
    BLOCKS = {**Markdown.BLOCKS, "fence": ReplyFence, "code_block": ReplyFence}


class IterationSection(Collapsible):
    """One root turn: its reply as Markdown, its tokens and time in the title.

    While folded (or not yet mounted) it only keeps the text: the Markdown is written when
    the section is opened, so a batch of many turns (a replay) parses only what is shown."""

    DEFAULT_CSS = """
    IterationSection {
        border-top: none;
        padding-bottom: 0;
        background: transparent;
        & > Contents { padding: 0 0 0 1; }
        Markdown { margin: 0; padding: 0; background: transparent; }
        .sealed { padding: 0 0 1 0; }
        .iteration-error { color: $error; padding: 0 1; }
    }
    """

    def __init__(self, iteration: int, forced: bool, *, collapsed: bool = False) -> None:
        self.label = "Forced final turn" if forced else f"Iteration {iteration}"
        self.markdown = ReplyMarkdown("")
        super().__init__(self.markdown, title=f"{self.label} — streaming…", collapsed=collapsed)
        self.text = ""
        self._sealed = 0  # characters of `text` shown in sealed chunks, before the Markdown
        self._stale = False  # the Markdown is behind `text` (written when opened)
        self._error: str | None = None
        self._stream: MarkdownStream | None = None

    @property
    def shown(self) -> bool:
        return self.is_mounted and not self.collapsed

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if self._error is not None:
            yield self._error_line(self._error)

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
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
        await self._stream.write(text)
        if len(self.text) - self._sealed > SEAL_CHARS:
            await self._seal()

    async def _seal(self) -> None:
        """Move the live Markdown's text, up to its last paragraph, into a sealed chunk."""
        live = self.text[self._sealed:]
        cut = seal_point(live)
        if not cut:
            return
        await self._stop_stream()
        await self.contents.mount(self._chunk(live[:cut]), before=self.markdown)
        self._sealed += cut
        await self.markdown.update(live[cut:])

    def _chunk(self, text: str) -> Static:
        """A sealed chunk: `text` drawn once, at the pane's width, as Rich draws Markdown
        (kept as Rich's markup would re-draw it at each layout, to measure its height)."""
        console = self.app.console
        width = max(20, self.contents.content_region.width or self.app.size.width - 4)
        code_theme = "one-dark" if self.app.current_theme.dark else "friendly"
        lines = console.render_lines(RichMarkdown(text, code_theme=code_theme),
                                     console.options.update(width=width), pad=False)
        drawn = Text()
        for number, line in enumerate(lines):
            if number:
                drawn.append("\n")
            for segment in line:
                drawn.append(segment.text, segment.style)
        return Static(drawn, classes="sealed")

    @property
    def contents(self) -> Collapsible.Contents:
        return self.query_one(Collapsible.Contents)

    async def restart(self) -> None:
        """A retried stream: what was shown of this turn is dropped."""
        await self._stop_stream()
        self.text = ""
        await self.show_text()
        self.title = f"{self.label} — retrying…"

    async def finish(self, done: ev.RootDone) -> None:
        await self._stop_stream()
        if done.text and done.text != self.text:
            self.text = done.text
            await self.show_text()
        usage = done.usage
        self.title = (f"{self.label} — {format_tokens(usage.prompt_tokens)} → "
                      f"{format_tokens(usage.completion_tokens)} tokens · "
                      f"{format_duration(done.latency_s)}")
        if done.attempts > 1:
            self.title += f" · {done.attempts} attempts"
        if done.error:
            self.title = f"{self.label} — failed"
            self._error = done.error
            if self.is_mounted:
                await self.mount(self._error_line(done.error))

    async def show_text(self) -> None:
        """Bring the Markdown up to `text` if the section is open; else when it opens."""
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
            await self.contents.mount_all(chunks, before=self.markdown)
        await self.markdown.update(self.text[self._sealed :])

    async def _on_collapsible_expanded(self, event: Collapsible.Expanded) -> None:
        if event.collapsible is self and self._stale:
            await self.show_text()

    async def _stop_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()


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
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._root: str | None = None
        self._sections: dict[str, IterationSection] = {}  # node id -> section, oldest first
        self._current: IterationSection | None = None
        self._earlier = 0  # iterations no longer (or never) shown as sections
        self._earlier_line: Static | None = None

    def compose(self):
        yield Static(PLACEHOLDER, classes="placeholder")

    def on_mount(self) -> None:
        self.anchor()

    @property
    def sections(self) -> list[IterationSection]:
        """The sections in the pane, oldest first (at most MAX_SECTIONS)."""
        return list(self._sections.values())

    async def reset(self) -> None:
        for section in self._sections.values():
            await section._stop_stream()
        self._root = None
        self._sections = {}
        self._current = None
        self._earlier = 0
        self._earlier_line = None
        await self.remove_children()
        await self.mount(Static(PLACEHOLDER, classes="placeholder"))
        self.border_title = "Reasoning"
        self.anchor()

    async def show_events(self, events: Sequence[ev.EventBase]) -> None:
        pending: dict[IterationSection, list[str]] = {}

        async def write_pending(only: IterationSection | None = None) -> None:
            # Deltas of one batch are written at once: one Markdown update per batch.
            for target in [only] if only is not None else list(pending):
                pieces = pending.pop(target, None)
                if pieces:
                    await target.write("".join(pieces))

        # Turns of this batch beyond the pane's room are never built (a replay's jump).
        unbuilt = max(0, self._count_new_turns(events) - MAX_SECTIONS)
        created: list[IterationSection] = []
        for event in events:
            if isinstance(event, ev.SessionStarted):
                if event.depth == 0 and self._root is None:
                    self._root = event.session_id
                continue
            if event.session_id != self._root:
                continue
            if isinstance(event, ev.IterationStarted):
                await write_pending()
                if unbuilt:
                    unbuilt -= 1
                    self._earlier += 1
                    continue
                section = IterationSection(event.iteration, event.forced, collapsed=True)
                self._sections[event.node_id] = section
                created.append(section)
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
        await write_pending()
        if created:
            await self._show_new(created)

    def _count_new_turns(self, events: Sequence[ev.EventBase]) -> int:
        root, count = self._root, 0
        for event in events:
            if isinstance(event, ev.SessionStarted) and event.depth == 0 and root is None:
                root = event.session_id
            elif isinstance(event, ev.IterationStarted) and event.session_id == root:
                count += 1
        return count

    async def _show_new(self, created: list[IterationSection]) -> None:
        """Mount this batch's sections at once, the newest open and the rest folded, and
        drop the oldest beyond MAX_SECTIONS."""
        newest = created[-1]
        if self._current is not None:
            self._current.collapsed = True
        else:
            await self.query_children(".placeholder").remove()
        newest.collapsed = False
        self._current = newest
        surplus = len(self._sections) - MAX_SECTIONS
        if surplus > 0:
            dropped = list(self._sections)[:surplus]
            old = [self._sections.pop(node) for node in dropped]
            for section in old:
                await section._stop_stream()
            self._earlier += len(old)
            await self.remove_children(old)
        if self._earlier:
            text = (f"… {self._earlier:,} earlier iterations are not shown here: "
                    "each one's reply is in Calls (Call tab)")
            if self._earlier_line is None:
                self._earlier_line = Static(text, classes="earlier", markup=False)
                await self.mount(self._earlier_line, before=0 if self.children else None)
            else:
                self._earlier_line.update(text)
        await self.mount_all(created)
        await newest.show_text()
        self.border_title = f"Reasoning · {newest.label.lower()}"
