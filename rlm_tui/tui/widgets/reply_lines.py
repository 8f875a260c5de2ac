"""A reply drawn as lines: its sealed chunks, then its live tail, shown with Textual's Line API.

The section (iteration_section.py) draws a reply's Markdown once per chunk, as lines of Rich
segments at the pane's width. This widget keeps those lines and paints them: a new drawing of
the tail repaints only the lines that differ from the last one (most often the last line or
two), and a chunk sealed out of the tail is a move of lines, not a widget to mount and lay
out. Its height grows in steps while the reply streams (`reserve` blank lines below the text
that the next lines fill), so most new lines need no layout of the screen either.
"""

from __future__ import annotations

from rich.style import Style
from textual.geometry import Region, Size
from textual.selection import Selection
from textual.strip import Strip
from textual.widget import Widget

from rlm_tui.tui.compositor import OneLayoutPass

BLANK = Strip([], 0)


class ReplyLines(OneLayoutPass, Widget):
    ALLOW_SELECT = True
    DEFAULT_CSS = """
    ReplyLines { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._sealed: list[Strip] = []  # the sealed chunks' lines, each chunk's blank line too
        self._sealed_plain: list[str] = []
        self._lines: list[Strip] = []  # what is painted, the reserve's blank lines included
        self._plain: list[str] = []
        self._text_lines = 0  # the painted lines that hold text, before the reserve
        self._kept = 0  # the painted lines that are sealed lines, as they still are
        self._style: Style | None = None  # while a render draws lines

    # -- what the section draws ------------------------------------------------------------

    def clear(self) -> None:
        """No sealed lines (a reply drawn again from its start); painted at `show_tail`."""
        self._sealed, self._sealed_plain = [], []
        self._kept = 0

    def _after_sealed(self, strips: list[Strip],
                      plain: list[str]) -> tuple[list[Strip], list[str]]:
        """A drawing that follows a sealed chunk, without the blank lines it starts with: the
        chunk's own blank line parts the two (Rich starts a list drawn alone with a blank
        line, which made two)."""
        skip = 0
        if self._sealed:
            while skip < len(plain) and not plain[skip]:
                skip += 1
        return strips[skip:], plain[skip:]

    def seal(self, strips: list[Strip], plain: list[str], *, blank: bool = True) -> None:
        """A chunk sealed out of the tail, and the blank line that ends a chunk (not after a
        list's item: the next item follows it); painted with the tail drawn again after it
        (`show_tail`)."""
        strips, plain = self._after_sealed(strips, plain)
        self._sealed += [*strips, BLANK] if blank else strips
        self._sealed_plain += [*plain, ""] if blank else plain

    def show_tail(self, strips: list[Strip], plain: list[str], *, reserve: int = 0) -> None:
        """Paint the sealed lines and the live tail's after them. With `reserve` (while it
        streams) the height grows by `reserve` lines more than it needs when it must, and
        keeps what it has while that is at most `reserve` lines more than the text (drawn
        again at a wider width, the text takes fewer lines: the height follows it, or the
        pane, kept at its bottom, showed blank lines only); without, it is the text's
        height."""
        strips, plain = self._after_sealed(strips, plain)
        lines = self._sealed + strips
        texts = self._sealed_plain + plain
        self._text_lines = height = len(lines)
        if reserve:
            shown = len(self._lines)
            height = shown if height <= shown <= height + reserve else height + reserve
        blanks = height - len(lines)
        lines += [BLANK] * blanks
        texts += [""] * blanks
        old = self._lines
        self._lines, self._plain = lines, texts
        resized = len(old) != len(lines)
        # Sealed lines are only ever added to: those painted as sealed last time are the same
        # lines now, and only what follows them is compared (the tail's few, not the reply's
        # hundreds, at each draw of a long reply).
        kept, self._kept = min(self._kept, len(old)), len(self._sealed)
        changed = [y for y in range(kept, min(len(old), len(lines)))
                   if (was := old[y]) is not (now := lines[y]) and was != now]
        if resized:
            changed.append(min(len(old), len(lines)))  # and every line after the old end
        if not (changed and self.size.width):
            if resized:
                self.refresh(layout=True)
            return
        first = changed[0]
        last = max(changed[-1], len(lines) - 1) if resized else changed[-1]
        # A new height moves what is below: a layout too. These lines are all it repaints here.
        self.refresh(Region(0, first, self.size.width, last - first + 1), layout=resized)

    @property
    def text_lines(self) -> list[str]:
        """The plain text of each painted line that holds text (not the reserve's)."""
        return self._plain[:self._text_lines]

    @property
    def sealed_lines(self) -> list[str]:
        return self._sealed_plain

    @property
    def tail_lines(self) -> list[str]:
        return self._plain[len(self._sealed):self._text_lines]

    # -- painting --------------------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return max((line.cell_length for line in self._lines), default=0)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._style = self.rich_style  # the lines of one render share it (it walks the DOM)
        try:
            return super().render_lines(crop)
        finally:
            self._style = None

    def render_line(self, y: int) -> Strip:
        style = self._style or self.rich_style
        width = self.size.width
        line = self._lines[y] if y < len(self._lines) else BLANK
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y)) is not None:
            start, end = span
            end = line.cell_length if end == -1 else end
            chosen = self.screen.get_component_rich_style("screen--selection")
            line = Strip.join([line.crop(0, start), line.crop(start, end).apply_style(chosen),
                               line.crop(end, line.cell_length)])
        return line.crop_extend(0, width, style).apply_style(style)

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self.text_lines)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()
