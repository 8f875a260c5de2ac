"""Pane 2: the root model's replies as Markdown, streamed while they arrive, one section
per iteration; earlier iterations fold away and can be opened again."""

from __future__ import annotations

from collections.abc import Sequence

from textual.containers import VerticalScroll
from textual.widgets import Collapsible, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from rlm_tui import events as ev
from rlm_tui.progress import format_tokens
from rlm_tui.tui.units import format_duration

PLACEHOLDER = "The root model's reasoning streams here, one section per iteration."


class IterationSection(Collapsible):
    """One root turn: its reply as Markdown, its tokens and time in the title."""

    DEFAULT_CSS = """
    IterationSection {
        border-top: none;
        padding-bottom: 0;
        background: transparent;
        & > Contents { padding: 0 0 0 1; }
        Markdown { margin: 0; padding: 0; background: transparent; }
        .iteration-error { color: $error; padding: 0 1; }
    }
    """

    def __init__(self, iteration: int, forced: bool) -> None:
        self.label = "Forced final turn" if forced else f"Iteration {iteration}"
        self.markdown = Markdown("")
        super().__init__(self.markdown, title=f"{self.label} — streaming…", collapsed=False)
        self.text = ""
        self._stream: MarkdownStream | None = None

    async def write(self, text: str) -> None:
        if not text:
            return
        self.text += text
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
        await self._stream.write(text)

    async def restart(self) -> None:
        """A retried stream: what was shown of this turn is dropped."""
        await self._stop_stream()
        self.text = ""
        await self.markdown.update("")
        self.title = f"{self.label} — retrying…"

    async def finish(self, done: ev.RootDone) -> None:
        await self._stop_stream()
        if done.text and done.text != self.text:
            self.text = done.text
            await self.markdown.update(done.text)
        usage = done.usage
        self.title = (f"{self.label} — {format_tokens(usage.prompt_tokens)} → "
                      f"{format_tokens(usage.completion_tokens)} tokens · "
                      f"{format_duration(done.latency_s)}")
        if done.attempts > 1:
            self.title += f" · {done.attempts} attempts"
        if done.error:
            self.title = f"{self.label} — failed"
            await self.mount(Static(done.error, classes="iteration-error", markup=False))

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
        .placeholder { color: $text-muted; padding: 0 1; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._root: str | None = None
        self._sections: dict[str, IterationSection] = {}
        self._current: IterationSection | None = None

    def compose(self):
        yield Static(PLACEHOLDER, classes="placeholder")

    def on_mount(self) -> None:
        self.anchor()

    @property
    def sections(self) -> list[IterationSection]:
        return list(self._sections.values())

    async def reset(self) -> None:
        for section in self._sections.values():
            await section._stop_stream()
        self._root = None
        self._sections = {}
        self._current = None
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

        for event in events:
            if isinstance(event, ev.SessionStarted):
                if event.depth == 0 and self._root is None:
                    self._root = event.session_id
                continue
            if event.session_id != self._root:
                continue
            if isinstance(event, ev.IterationStarted):
                await write_pending()
                await self._start_section(event)
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

    async def _start_section(self, event: ev.IterationStarted) -> None:
        if self._current is not None:
            self._current.collapsed = True
        else:
            await self.query_children(".placeholder").remove()
        section = IterationSection(event.iteration, event.forced)
        self._sections[event.node_id] = section
        self._current = section
        await self.mount(section)
        self.border_title = f"Reasoning · {section.label.lower()}"
