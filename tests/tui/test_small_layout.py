"""The small layout (below session_screen.SMALL_WIDTH x SMALL_HEIGHT, an 80x24 terminal): one
pane at a time, 1-6 to bring each in front, tab showing the pane it focuses, the contents kept
when the window grows, the reply in front when a run starts, a held cell and the answer when
they wait for the person."""

from __future__ import annotations

import pytest

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


# What the person must see next comes in front: the answer at a run's end, a held cell's
# code (--approve: a, c or s act on it).
IN_FRONT = pytest.mark.parametrize("scene, pane", [(answered, "inspector"),
                                                   (held_final, "cells")],
                                   ids=["an answer", "a held cell"])


@IN_FRONT
async def test_it_comes_to_the_front_without_taking_the_query_box(sample, scene, pane):
    app = make_app(sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        focused = app.focused
        script = EventScript()
        scene(script)
        app.feed(script.take())
        await app.flush_events()
        await pilot.pause()
        assert shown(app) == [pane]
        assert app.focused is focused


@IN_FRONT
async def test_it_comes_to_the_front_and_takes_the_focus_from_a_pane(sample, scene, pane):
    app = make_app(sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("escape", "3")
        await pilot.pause()
        script = EventScript()
        scene(script)
        app.feed(script.take())
        await app.flush_events()
        await pilot.pause()
        assert shown(app) == [pane]
        assert app.session.pane_of(app.focused).id == pane


async def test_at_100x30_the_six_panes_share_the_screen(sample):
    app = make_app(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        assert not app.session.small
        assert len(shown(app)) == 6


async def test_a_replay_at_80x24_plays_to_the_answer_in_front(demo_transcript):
    """It opens on the reply it plays, as a live run does, and ends on the answer."""
    app = replay_app(demo_transcript)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await pilot.pause()
        assert shown(app) == ["reasoning"]
        assert app.session.pane_of(app.focused).id == "reasoning"
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


@pytest.mark.parametrize("size, pane, panes", [((80, 24), "reasoning", 1),
                                               ((160, 48), "calls", 6)],
                         ids=["80x24: the reply in front", "wide: Calls focused"])
async def test_a_question_asked_moves_the_focus_to_the_run(sample, size, pane, panes):
    app = make_app(sample, start_paused=True)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        await pilot.press(*"What does main do?", "enter")
        await pilot.pause()
        assert len(shown(app)) == panes
        assert pane in shown(app)
        assert app.session.pane_of(app.focused).id == pane
