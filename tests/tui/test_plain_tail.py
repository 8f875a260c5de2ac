"""A plain paragraph's tail, drawn without Markdown and from its last line on, is drawn as
Markdown draws it: the same lines, the same text in the same styles, at every step of a
stream and at every width."""

from __future__ import annotations

import random

import pytest
from rich.console import Console
from rich.segment import Segment
from rich.theme import Theme

from rlm_tui.tui.widgets.iteration_section import ReplyMarkdown
from rlm_tui.tui.widgets.plain_tail import PlainTail, plain_body

WORDS = ("the sandbox stops a runaway cell with timeout and host reads what it printed, before "
         "worker restarts; so that nothing (the model wrote) can hold run: while 'person' "
         "watches \"every\" call and its cost 50% $3.20 @home #tag a+b=c well-known / path/to "
         "x y z! why? ok. supercalifragilisticexpialidocious internationalization").split()


def console(theme: Theme | None = None) -> Console:
    return Console(width=120, force_terminal=True, color_system="truecolor", theme=theme)


def by_markdown(con: Console, text: str, width: int) -> tuple[list[str], list[list[Segment]]]:
    lines = con.render_lines(ReplyMarkdown(text, "one-dark"), con.options.update(width=width),
                             pad=False)
    return ["".join(s.text for s in line) for line in lines], [
        list(Segment.simplify(line)) for line in lines]


def by_tail(tail: PlainTail, con: Console, text: str, width: int):
    drawn = tail.draw(con, con.options.update(width=width), text)
    if drawn is None:
        return None
    strips, plain = drawn
    return plain, [list(Segment.simplify(list(strip))) for strip in strips]


def paragraph(rng: random.Random, words: int) -> str:
    out = [rng.choice([w for w in WORDS if w[0].isalpha()])]
    for _ in range(words - 1):
        joint = rng.choices([" ", "  ", "\n"], weights=[90, 4, 6])[0]
        word = rng.choice(WORDS)
        if joint == "\n" and not word[0].isalpha():
            word = "and " + word
        out += [joint, word]
    return "".join(out)


@pytest.mark.parametrize("width", [20, 36, 57, 80])
@pytest.mark.parametrize("seed", range(6))
def test_a_streamed_paragraph_is_drawn_as_markdown_draws_it(width: int, seed: int) -> None:
    rng = random.Random(seed * 100 + width)
    con = console()
    tail = PlainTail()
    text = paragraph(rng, 90)
    drawn_plain = 0
    end = 0
    while end < len(text):
        end = min(len(text), end + rng.choice([1, 3, 8, 8, 8, 21]))
        part = text[:end]
        fast = by_tail(tail, con, part, width)
        if fast is None:
            body = plain_body(part)
            assert body is None or max(len(w) for w in body.split(" ")) > width
            continue
        drawn_plain += 1
        assert fast == by_markdown(con, part, width), (end, part)
    assert drawn_plain > 10


def test_its_lines_are_kept_when_text_is_added_and_drawn_again_from_the_last() -> None:
    con = console()
    tail = PlainTail()
    text = " ".join(WORDS[:40])
    first = tail.draw(con, con.options.update(width=30), text[:150])
    second = tail.draw(con, con.options.update(width=30), text[:158])
    assert first is not None and second is not None
    kept = len(first[0]) - 1
    assert kept > 2
    assert all(a is b for a, b in zip(first[0][:kept], second[0][:kept]))


def test_a_new_width_or_theme_draws_it_whole_again() -> None:
    text = " ".join(WORDS[:30])
    tail = PlainTail()
    con = console()
    tail.draw(con, con.options.update(width=30), text)
    assert by_tail(tail, con, text + " more", 25) == by_markdown(con, text + " more", 25)
    styled = console(Theme({"markdown.paragraph": "italic red"}))
    assert by_tail(tail, styled, text + " more", 25) == by_markdown(styled, text + " more", 25)


@pytest.mark.parametrize("text", [
    "# A heading", "- an item", "+ item", "1. first", "2) second", "a\n- b", "a\n1. b",
    "some *emphasis*", "snake_case", "a `code` span", "[a link](x)", "an ![image](x)",
    "a  \nhard break", "a\\\nbackslash break", "two\n\nparagraphs", "a\n===", "a\n---",
    "    indented code", "> a quote", "a | b", "&amp; entity", "<b>html</b>", "~~struck~~",
    "caf\u00e9", "tab\there", "\nleading newline", " leading space", "12 starts with a digit",
    "```python", "a\r\nb", "\u241b[31m",
])
def test_markdown_is_not_plain(text: str) -> None:
    assert plain_body(text) is None


@pytest.mark.parametrize("text, body", [
    ("Hello, world.", "Hello, world."),
    ("a\nb", "a b"),
    ("trailing  ", "trailing"),
    ("ends a line\n", "ends a line"),
    ("(paren) 'q' \"dq\" 50% $5 @x #tag a+b=c a-b /path: yes! why?",
     "(paren) 'q' \"dq\" 50% $5 @x #tag a+b=c a-b /path: yes! why?"),
])
def test_plain_paragraphs(text: str, body: str) -> None:
    assert plain_body(text) == body
    con = console()
    assert by_tail(PlainTail(), con, text, 40) == by_markdown(con, text, 40)
