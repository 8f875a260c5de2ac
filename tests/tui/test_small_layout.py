"""The small layout (below session_screen.SMALL_WIDTH x SMALL_HEIGHT, an 80x24 terminal): one
pane at a time, 1-6 to bring each in front, tab showing the pane it focuses, the contents kept
when the window grows, and the answer in front when a run ends."""

from __future__ import annotations

from rlm_tui.tui.session_screen import NUMBERED_PANES
from tests.tui.conftest import loaded, make_app, wait_for
from tests.tui.event_script import EventScript, mid_run
from tests.tui.snapshot_scenes import answered, held_final
from tests.tui.test_replay import demo_transcript, opened, replay_app  # noqa: F401 (fixture)


def shown(app) -> list[str]:
    """The ids of the panes on screen."""
    return [pane.id for pane in app.session.query(".pane") if pane.display
            and pane.region.area > 0]


async def test_at_80x24_one_pane_shows_and_each_key_brings_its_own(sample):
    app = make_app(sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        assert app.session.small
        app.query_one("#calls").focus()
        await pilot.pause()
        for number, pane_id in enumerate(NUMBERED_PANES, 1):
            await pilot.press(str(number))
            await pilot.pause()
            assert shown(app) == [pane_id]
            assert app.session.pane_of(app.focused).id == pane_id
        assert app.query_one("#status").region.area > 0
        assert app.query_one("#query").region.area > 0


async def test_tab_shows_the_pane_it_focuses(sample):
    app = make_app(sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("escape", "1")  # out of the query box, where 1 is text
        await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        assert shown(app) == ["preview"]
        await pilot.press("tab")
        await pilot.pause()
        assert shown(app) == ["reasoning"]


async def test_a_digit_typed_in_the_query_box_is_text(sample):
    app = make_app(sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("r")  # Ask: the focus in the query box
        await pilot.pause()
        assert app.session.pane_of(app.focused).id == "query"
        before = shown(app)
        await pilot.press("3")
        await pilot.pause()
        assert shown(app) == before


async def test_growing_the_window_shows_every_pane_with_its_content(sample):
    app = make_app(sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        script = EventScript()
        mid_run(script)
        app.feed(script.take())
        await app.flush_events()
        await pilot.press("escape", "5")
        await pilot.pause()
        calls = app.query_one("#calls")
        nodes = len(list(calls.walk_children()))
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert not app.session.small
        assert len(shown(app)) == 6
        assert app.query_one("#calls") is calls  # the same widget, not a new one
        assert len(list(calls.walk_children())) == nodes
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert shown(app) == ["calls"]


async def test_an_answer_comes_to_the_front_without_taking_the_query_box(sample):
    app = make_app(sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        focused = app.focused
        script = EventScript()
        answered(script)
        app.feed(script.take())
        await app.flush_events()
        await pilot.pause()
        assert shown(app) == ["inspector"]
        assert app.focused is focused


async def test_an_answer_comes_to_the_front_and_takes_the_focus_from_a_pane(sample):
    app = make_app(sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("escape", "3")
        await pilot.pause()
        script = EventScript()
        answered(script)
        app.feed(script.take())
        await app.flush_events()
        await pilot.pause()
        assert shown(app) == ["inspector"]
        assert app.session.pane_of(app.focused).id == "inspector"


async def test_at_100x30_the_six_panes_share_the_screen(sample):
    app = make_app(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        assert not app.session.small
        assert len(shown(app)) == 6


async def test_a_replay_at_80x24_plays_to_the_answer_in_front(demo_transcript):
    app = replay_app(demo_transcript)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.press("3")
        await pilot.pause()
        assert shown(app) == ["reasoning"]
        await pilot.press("space")
        await wait_for(pilot, lambda: app.cursor.at_end and not app.playing, timeout=10,
                       what="the end")
        await pilot.pause()
        assert shown(app) == ["inspector"]


async def test_a_run_given_with_query_streams_in_front_at_80x24(sample):
    """`rlm-tui app --query ...` on an 80x24 terminal: the reply streams in the pane shown
    (Calls took the focus, and so the front, before)."""
    app = make_app(sample, query="What does main do?", start_paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.pause()
        assert app.session.small
        assert shown(app) == ["reasoning"]
        assert app.session.pane_of(app.focused).id == "reasoning"


async def test_a_question_asked_at_80x24_brings_the_reasoning_in_front(sample):
    app = make_app(sample, start_paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press(*"What does main do?", "enter")
        await pilot.pause()
        assert shown(app) == ["reasoning"]
        assert app.session.pane_of(app.focused).id == "reasoning"


async def test_a_question_asked_in_the_wide_layout_focuses_calls(sample):
    app = make_app(sample, start_paused=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        await pilot.press(*"What does main do?", "enter")
        await pilot.pause()
        assert len(shown(app)) == 6
        assert app.session.pane_of(app.focused).id == "calls"


async def test_a_held_cell_comes_to_the_front_with_the_focus_from_a_pane(sample):
    """--approve at 80x24: the held cell's code is the pane shown, and a, c or s act on it."""
    app = make_app(sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("escape", "3")  # the Reasoning pane in front, focused
        await pilot.pause()
        script = EventScript()
        held_final(script)
        app.feed(script.take())
        await app.flush_events()
        await pilot.pause()
        assert shown(app) == ["cells"]
        assert app.session.pane_of(app.focused).id == "cells"


async def test_a_held_cell_comes_to_the_front_without_taking_the_query_box(sample):
    app = make_app(sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        focused = app.focused
        script = EventScript()
        held_final(script)
        app.feed(script.take())
        await app.flush_events()
        await pilot.pause()
        assert shown(app) == ["cells"]
        assert app.focused is focused
