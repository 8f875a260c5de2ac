"""A long reply streams into the Reasoning pane without growing its live tail: its earlier
paragraphs are sealed into chunks drawn once (rlm_tui/tui/widgets/iteration_section.py), kept as
lines in one widget (reply_lines.py), drawn again when the pane's width changes.""" 

from __future__ import annotations


from rlm_tui import events as ev
from rlm_tui.tui.widgets.iteration_section import SEAL_CHARS, seal_point
from rlm_tui.tui.widgets.reasoning import RootReasoning
from tests.tui.conftest import loaded, make_app, wait_for
from tests.tui.test_panes import feed, start_reply

PARAGRAPH = "The sandbox stops a runaway cell with a wall-clock timeout. " * 3 + "\n\n"
FENCE = "```repl\nprint(context.grep('timeout'))\n\nprint('still code')\n```\n\n"


def test_a_reply_is_sealed_after_its_last_blank_line_outside_code():
    assert seal_point("one\n\ntwo") == len("one\n\n")
    assert seal_point("no blank line at all") == 0
    # The blank line inside the open fence is not a place to cut: the one before it is.
    assert seal_point("intro\n\n```repl\nx = 1\n\ny = 2") == len("intro\n\n")
    assert seal_point("```repl\nx = 1\n\ny = 2") == 0


async def test_a_long_streamed_reply_keeps_a_short_live_tail(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot)
        reply = ""
        for index in range(60):
            piece = FENCE if index % 5 == 4 else PARAGRAPH
            reply += piece
            script.emit(ev.RootDelta, node, script.run, text=piece)
            if index % 10 == 9:
                await feed(pilot, script)
        await feed(pilot, script)
        section = app.query_one(RootReasoning).sections[0]
        sealed = section.reply.sealed_lines
        assert section.text == reply and len(reply) > 3 * SEAL_CHARS
        assert sealed.count("") >= 2  # two chunks at least, each ending in a blank line
        assert len(reply) - section._sealed <= SEAL_CHARS + len(PARAGRAPH) * 10
        assert sealed[0].startswith("The sandbox stops")
        # What is painted is the sealed lines, then the tail's.
        assert section.reply.text_lines == sealed + section.reply.tail_lines
        # The whole reply arrives in RootDone: drawn again the same way, from the start.
        script.emit(ev.RootDone, node, script.run, text=reply, model="m",
                    usage=ev.Usage.of_call(10, 10, 0.0), latency_s=1.0)
        await feed(pilot, script)
        assert section.text == reply
        # A retried stream drops every sealed chunk with the rest.
        again = script.iteration(2, "", done=False)
        script.emit(ev.RootDelta, again, script.run, text=PARAGRAPH * 60)
        await feed(pilot, script)
        second = app.query_one(RootReasoning).sections[1]
        assert second.reply.sealed_lines
        script.emit(ev.RootDelta, again, script.run, text="", restart=True)
        script.emit(ev.RootDelta, again, script.run, text="Short retry.")
        await feed(pilot, script)
        assert second.text == "Short retry." and not second.reply.sealed_lines
        await pilot.pause(0.1)  # the live tail's redraw, REDRAW_S after the last
        assert [line.rstrip() for line in second.reply.text_lines] == ["Short retry."]


async def test_a_reply_is_drawn_again_at_a_new_width(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot, PARAGRAPH * 30 + FENCE)
        await pilot.pause(0.1)  # the live tail's redraw
        section = app.query_one(RootReasoning).sections[0]
        before = section._drawn_width
        tail = section.reply.tail_lines
        widest = max(len(line.rstrip()) for line in section.reply.text_lines)
        assert widest <= before and any("print('still code')" in line for line in tail)
        await pilot.resize_terminal(200, 40)
        await pilot.pause(0.1)
        assert section._drawn_width > before
        sealed = section.reply.sealed_lines
        assert sealed and max(len(line.rstrip()) for line in sealed) > before
        assert section.text == PARAGRAPH * 30 + FENCE


async def test_a_section_being_taken_down_keeps_the_text_and_draws_nothing(sample):
    # The app exiting prunes a section's children before the section: a tick that still
    # feeds it (watch's follow timer did, in CI) must not look for its contents.
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot, PARAGRAPH)
        section = app.query_one(RootReasoning).sections[0]
        await section.contents.remove()
        assert section.is_mounted and not section.shown
        await section.write(PARAGRAPH * 20)
        await section.add_note("still here")
        await section.show_text()
        section._draw_live()
        assert section.text == PARAGRAPH * 21 and section.notes == ["still here"]


async def test_a_list_after_a_sealed_paragraph_is_parted_by_one_blank_line(sample):
    # Rich draws a list drawn alone with a blank line first: after a sealed chunk (which ends
    # with its own blank line) the reply showed two, where the whole reply drawn at once has one.
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        items = "".join(f"- **item {i}**: what it does\n" for i in range(3))
        # Sealed up to the blank line before the list: the live tail is the list.
        script, node = await start_reply(pilot, PARAGRAPH * 4)
        pane = app.query_one(RootReasoning)
        section = pane.sections[0]
        # Drawn again once at the width its scrollbar leaves (a busy machine: after the list
        # came, which a reply drawn whole seals with the paragraph before it).
        await wait_for(pilot, lambda: pane.show_vertical_scrollbar
                       and section._drawn_width == section.draw_width, what="the scrollbar")
        script.emit(ev.RootDelta, node, script.run, text=items)
        await feed(pilot, script)
        await pilot.pause(0.1)
        reply = app.query_one(RootReasoning).sections[0].reply
        # The tail is the list's last item (the items before it sealed one at a time).
        assert reply.sealed_lines and reply.tail_lines[0].startswith(" • item 2")
        lines = reply.text_lines
        first = next(i for i, line in enumerate(lines) if line.startswith(" • item 0"))
        assert lines[first - 1] == "" and lines[first - 2].strip()
        assert len(lines) > 8 and "" not in {lines[0]}
        for index, line in enumerate(lines[:-1]):
            assert line or lines[index + 1], f"two blank lines at {index}: {lines}"


def test_a_list_without_blank_lines_is_sealed_before_its_last_item():
    items = "Intro:\n- `a` one\n  - nested\n- b\nlazily going on\n- c"
    assert seal_point(items) == items.rfind("- c")
    # Not before a list's first item, another list's (another marker), a rule, or in code.
    assert seal_point("Intro:\n- first") == 0
    assert seal_point("* a\n- b") == 0
    assert seal_point("- a\n- - -") == 0
    assert seal_point("- a\n- b\n- - -") == len("- a\n")
    assert seal_point("- a\n```\n- b\n- c") == 0
    assert seal_point("- a\n# Heading\n- b") == 0
    # A blank line later than the last item is the cut.
    assert seal_point("- a\n- b\n\nafter") == len("- a\n- b\n\n")


ITEMS = ("Here is what the REPL holds:\n" + "".join(
    f"- `item_{i}(prompt, model=None)`: ask a sub-model; it sees only that prompt and reads "
    f"about {i},000 characters well\n" + ("  - nested detail of it\n" if i % 3 == 0 else "")
    for i in range(14)) + "After the list, a paragraph that goes on for a while. " * 4)


async def test_a_streamed_list_sealed_an_item_at_a_time_is_drawn_as_the_whole(sample):
    app = make_app(sample)
    async with app.run_test(size=(100, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot, "")
        section = app.query_one(RootReasoning).sections[0]
        for start in range(0, len(ITEMS), 23):
            script.emit(ev.RootDelta, node, script.run, text=ITEMS[start:start + 23])
            if start % 92 == 0:
                await feed(pilot, script)
        await feed(pilot, script)
        await pilot.pause(0.1)  # the live tail's redraw
        await wait_for(pilot, lambda: section._drawn_width == section.draw_width,
                       what="drawn at the width the pane's scrollbar leaves")
        assert section.text == ITEMS
        assert section.reply.sealed_lines  # sealed while it streamed, with no blank line
        whole = [line.rstrip() for line in section._draw(ITEMS)[1]]
        assert [line.rstrip() for line in section.reply.text_lines] == whole


def test_backticks_in_a_line_of_text_open_no_fence():
    # A model quoting its prompt writes "each ```repl block runs" in prose: no code follows.
    prose = "Every ```repl block in your reply runs.\n\nNext paragraph.\n\nAnd more"
    assert seal_point(prose) == prose.rfind("And more")
    # A fence of tildes, and one of four backticks that three do not close.
    assert seal_point("~~~\na\n\nb") == 0
    assert seal_point("````\na\n```\n\nb") == 0
    assert seal_point("````\na\n````\n\nb") == len("````\na\n````\n\n")
