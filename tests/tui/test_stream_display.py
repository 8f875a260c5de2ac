"""A long reply streamed from the local server: the Reasoning pane shows all of it once the
deltas are coalesced, and every view shows a running estimate while it streams."""

from __future__ import annotations

import time

import pytest
from textual.css.query import NoMatches

from rlm_tui.tui.relay import EventRelay
from rlm_tui.tui.widgets.reasoning import RootReasoning
from rlm_tui.tui.widgets.status_bar import RunStatusBar
from rlm_tui.tui.widgets.subcall_tree import SubCallTree
from tests.integration.openai_server import Reply
from tests.integration.test_engine import Scripted
from tests.tui.conftest import ended, loaded, make_app, wait_for
from tests.tui.event_script import EventScript

PARAGRAPH = ("The sandbox stops a runaway cell with a timeout; the host reads what it printed "
             "and the worker starts again.")
TEXT = "\n\n".join(f"Step {i}: {PARAGRAPH}" for i in range(60)) + "\n\nFINAL(done)\n"


def live_app(server, sample, **settings):
    return make_app(sample, model="openai/root-model", sub_model="openai/sub-model",
                    api_base=server.base_url, max_retries=0, **settings)


async def test_the_reasoning_pane_shows_the_whole_streamed_reply_and_a_running_estimate(
        openai_server, sample):
    # 1,400 chunks at full speed, then the server reports no usage (as llama.cpp does).
    openai_server.responder = Scripted(
        [Reply(text=TEXT, chunks=len(TEXT) // 5, chunk_delay=0.002, send_usage=False)])
    app = live_app(openai_server, sample, query="q")
    async with app.run_test(size=(160, 40)) as pilot:
        reasoning = app.query_one(RootReasoning)
        await wait_for(pilot, lambda: reasoning.sections and len(reasoning.sections[0].text)
                       > 1500, what="the reply streaming")
        section = reasoning.sections[0]
        bar = str(app.query_one(RunStatusBar).render())
        assert "~" in bar and "tokens" in bar
        assert "streaming… ~" in str(section.title)
        assert "~" in str(app.query_one(SubCallTree).border_title)
        await ended(pilot)
        section = reasoning.sections[0]
        assert section.text == TEXT
        shown = "\n".join(section.reply.text_lines)
        words = [w for w in TEXT.split() if w.isalpha()]
        assert all(f"Step {i}:" in shown for i in range(60))
        assert all(w in shown for w in words[-8:])
        assert "~" in str(section.title) and "streaming" not in str(section.title)


async def test_the_flush_timer_sleeps_while_no_event_waits(sample):
    # An idle app's 30-a-second flush timer took 0.8% of a core: it runs only while events
    # wait, woken by the relay, and a relay put in place later wakes it too.
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.pause(0.2)
        screen = app.session
        timer = screen._flush_timer
        assert timer is not None and not timer._active.is_set()
        script = EventScript()
        script.start()
        screen.feed(script.take())
        assert timer._active.is_set()
        await wait_for(pilot, lambda: not timer._active.is_set(), what="the timer asleep")
        assert not len(screen.relay) and screen.summary.tree.nodes  # the events were shown
        screen.relay = EventRelay()
        script.iteration(1, "Hello", done=False)
        for event in script.take():
            screen.relay(event)
        await wait_for(pilot, lambda: not len(screen.relay), what="the new relay's flush")


async def test_streamed_text_alone_waits_asleep_and_any_other_event_wakes_the_flush(sample):
    # Streamed text is taken at the stream's pace (STREAM_FLUSH_S): until then the flush
    # timer sleeps instead of ticking 30 times a second; an event that is not streamed text
    # (a cell starting) wakes it at once.
    from rlm_tui import events as ev
    from tests.tui.test_panes import start_reply

    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        screen = app.session
        timer = screen._flush_timer
        script, node = await start_reply(pilot, "The first words")
        await pilot.pause(0.2)
        assert screen._stream_wake is None and not timer._active.is_set()
        screen._flushed_at = time.monotonic() + 60  # the next stream flush is a minute away
        script.emit(ev.RootDelta, node, script.run, text=" and more")
        screen.feed(script.take())
        for _ in range(20):
            await pilot.pause(0.05)  # (not wait_for: it flushes)
        assert screen._stream_wake is not None  # the wake-up is set for the stream's pace
        assert not timer._active.is_set() and len(screen.relay) == 1  # asleep, the text waits
        script.emit(ev.RootDelta, node, script.run, text=" words")
        screen.feed(script.take())
        assert not timer._active.is_set()  # more text does not wake it
        script.emit(ev.RootDone, node, script.run, text="The first words and more words",
                    model="openai/root-model", usage=ev.Usage.of_call(1200, 8, None),
                    latency_s=1.5)
        screen.feed(script.take())
        assert timer._active.is_set()  # the call's end does
        await wait_for(pilot, lambda: not len(screen.relay), what="the flush")
        section = app.query_one(RootReasoning).sections[0]
        assert "The first words and more words" in "\n".join(section.reply.text_lines)


async def test_a_flush_while_the_app_closes_raises_nothing(sample):
    # The app closing prunes the panes' parts while a timer's flush may still be under way
    # (watch's follow tick did, in CI): the flush stops there; a running app still raises.
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await app.query_one("#queued-notes").remove()
        script = EventScript()
        script.start()
        script.iteration(1, "Hello", done=False)
        app.feed(script.take())
        app._running = False  # as App._shutdown sets it first
        try:
            await app.flush_events()
            await app.session._flush_tick()
        finally:
            app._running = True
        script.iteration(2, "Again", done=False)
        app.feed(script.take())
        with pytest.raises(NoMatches):
            await app.flush_events()


async def test_the_query_boxs_cursor_holds_still_while_the_run_runs(sample):
    # Each blink of the query box's cursor was a frame of its own beside a slow stream's
    # (2 a second, for minutes): it holds still, shown, while the run runs, and blinks again
    # once the run waits for the person (paused) or has ended.
    from tests.tui.test_panes import feed, start_reply

    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        box = app.session.query_bar.input
        box.focus()

        async def seen() -> set[bool]:  # the cursor's states over three blinks' time
            states = set()
            for _ in range(16):
                await pilot.pause(0.1)
                states.add(box._cursor_visible)
            return states

        assert await seen() == {True, False}
        script, _ = await start_reply(pilot, "The first words")
        assert box.held and await seen() == {True}
        script.state("paused")
        await feed(pilot, script)
        assert not box.held and await seen() == {True, False}
        script.state("running")
        await feed(pilot, script)
        assert box.held and await seen() == {True}
        script.finish("done")
        await feed(pilot, script)
        assert not box.held


async def test_a_streamed_reply_that_outgrows_the_pane_shows_its_scrollbar_once(sample):
    # The reply keeps blank lines below it while it streams; drawn again at the narrower
    # width the scrollbar leaves, it dropped them, fitted the pane again, lost the scrollbar,
    # and was drawn again wider: at every draw while the reply was about the pane's height.
    from rlm_tui import events as ev
    from tests.tui.test_panes import feed, start_reply

    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot, "Step 0.")
        pane = app.query_one(RootReasoning)
        section = pane.sections[0]
        drawn_whole = 0
        show_text = section.show_text

        async def counted() -> None:
            nonlocal drawn_whole
            drawn_whole += 1
            await show_text()

        section.show_text = counted  # type: ignore[method-assign]
        shown: list[bool] = []
        for step in range(1, 3 * pane.size.height):
            script.emit(ev.RootDelta, node, script.run, text=f"\n\nStep {step}.")
            await feed(pilot, script)
            await pilot.pause()
            if not shown or shown[-1] != pane.show_vertical_scrollbar:
                shown.append(pane.show_vertical_scrollbar)
        assert shown == [False, True]
        assert drawn_whole <= 1  # once, at the width the scrollbar left
        assert section.reply.text_lines[-1].rstrip() == f"Step {step}."


def painted_blank_tail(section) -> int:
    """The blank lines the reply keeps below its text (for the text to come while it streams)."""
    reply = section.reply
    return reply.get_content_height(reply.size, reply.size, reply.size.width) - len(
        reply.text_lines)


async def test_a_reply_its_session_ended_without_keeps_no_room_below_it(sample):
    # A session that finishes while its reply never did (no root_done): nothing more comes.
    from tests.tui.test_panes import feed, start_reply

    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, _ = await start_reply(pilot, "Step 0.")
        section = app.query_one(RootReasoning).sections[0]
        assert painted_blank_tail(section) > 0  # streaming: room kept
        script.finish(None, status="halted", reason="the worker died")
        await feed(pilot, script)
        assert not section.streaming
        assert painted_blank_tail(section) == 0
        assert section.reply.text_lines[-1].strip() == "Step 0."


async def test_a_streaming_reply_drawn_again_wider_keeps_its_text_in_sight(sample):
    # Zoomed (or the terminal widened) while it streams: the reply takes fewer lines. Its
    # height only grew, so the pane, kept at its bottom, showed hundreds of blank lines.
    from rlm_tui import events as ev
    from rlm_tui.tui.widgets.iteration_section import RESERVE_LINES
    from tests.tui.test_panes import feed, start_reply

    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot, "The sandbox stops a runaway cell. " * 120)
        section = app.query_one(RootReasoning).sections[0]
        await pilot.pause(0.1)
        narrow = len(section.reply.text_lines)
        await pilot.resize_terminal(240, 40)
        await wait_for(pilot, lambda: section._drawn_width == section.draw_width,
                       what="drawn again at the new width")
        await pilot.pause(0.1)
        assert len(section.reply.text_lines) < narrow - RESERVE_LINES
        assert 0 < painted_blank_tail(section) <= RESERVE_LINES
        script.emit(ev.RootDelta, node, script.run, text="And more.")
        await feed(pilot, script)
        assert painted_blank_tail(section) <= RESERVE_LINES
