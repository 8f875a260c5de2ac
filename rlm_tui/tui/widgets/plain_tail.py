"""A streamed reply's tail while it is one plain paragraph: drawn as Rich draws it as Markdown,
without parsing it, and only from its last line on.

Most of a slow model's reply streams as paragraphs, and the tail is drawn again ten times a
second; Rich wraps a paragraph greedily, so text added to it moves nothing before its last
line. `PlainTail` keeps the lines drawn last time and draws again only from the start of the
last one. A paragraph is plain when nothing in it is Markdown: ASCII, no character that
marks up inline text (emphasis, code, links, HTML, entities, escapes, tables, strikes), each
line starting with a letter, a quote or a parenthesis (no heading, list, quote, fence, rule
or indented code), no hard break, no word wider than the pane. Anything else is drawn by
Markdown, as before (tests/tui/test_plain_tail.py draws both ways and compares).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

_LINE = r"[A-Za-z(\"'][^\n\r\t\\`*_\[\]<>&~|]*"
_PLAIN = re.compile(rf"{_LINE}(?:\n{_LINE})*")


def plain_body(text: str) -> str | None:
    """The paragraph `text` is as Markdown draws it (soft breaks as spaces, no trailing
    space), or None if `text` is not one plain paragraph."""
    body = text.rstrip(" \n")
    if not (body.isascii() and _PLAIN.fullmatch(body)) or " \n" in body:
        return None
    return body.replace("\n", " ")


@dataclass
class _Drawn:
    body: str
    width: int
    style: Style
    starts: list[int]  # where each line's text starts in `body`
    strips: list[Strip]
    plain: list[str]


class PlainTail:
    """The tail's last drawing, while it is a plain paragraph."""

    def __init__(self) -> None:
        self._last: _Drawn | None = None

    def draw(self, console: Console, options: ConsoleOptions,
             text: str) -> tuple[list[Strip], list[str]] | None:
        """`text`'s lines and their plain text at `options`' width, or None if it is not
        one plain paragraph (then drawn by Markdown)."""
        body = plain_body(text)
        width = options.max_width
        if body is None or max(map(len, body.split(" ")), default=0) > width:
            self._last = None
            return None
        style = (console.get_style("none", default="none")
                 + console.get_style("markdown.paragraph", default="none"))
        last = self._last
        if (last is not None and last.width == width and last.style == style
                and body.startswith(last.body) and len(last.starts) > 1):
            keep = len(last.starts) - 1  # every line but the last is as it was
            start = last.starts[keep]
            strips, plain, starts = last.strips[:keep], last.plain[:keep], last.starts[:keep]
        else:
            start, strips, plain, starts = 0, [], [], []
        paragraph = Text(justify="left")  # as Markdown builds it: the style a span, not the
        paragraph.append(body[start:], style)  # base (the padding after each line unstyled)
        lines = console.render_lines(paragraph, options.update(height=None), pad=False)
        for line in lines:
            line_plain = "".join(segment.text for segment in line)
            starts.append(start)
            strips.append(Strip(line))
            plain.append(line_plain)
            start += len(line_plain.rstrip(" "))
            while start < len(body) and body[start] == " ":
                start += 1  # the next line starts at the next word
        self._last = _Drawn(body, width, style, starts, strips, plain)
        return list(strips), list(plain)
