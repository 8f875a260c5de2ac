"""The app keeps garbage-collector pauses short (rlm_tui/tui/heap.py): what lives as long as
the app is frozen once the first screen is up and the context is shown, and a new run
collects what the last one left."""

from __future__ import annotations

import gc

from rlm_tui.tui import app as app_module
from tests.tui.conftest import ended, loaded, make_app, wait_for

QUERY = "How does the sandbox stop a runaway cell?"


async def test_the_first_screen_and_the_context_are_frozen(sample):
    gc.unfreeze()
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.pause()
        assert gc.get_freeze_count() > 10_000  # Textual, our modules, the file index
        assert app.session.context_browser.index is not None


async def test_a_new_session_collects_what_the_last_left(sample, monkeypatch):
    collected: list[int] = []
    monkeypatch.setattr(app_module, "collect_for_new_run", lambda: collected.append(1))
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        assert collected == []  # the first run replaced nothing
        await app.start_run("And what stops a runaway sub-call?")
        await ended(pilot)
        assert collected == []  # a follow-up question: the same session, nothing replaced
        await pilot.press("ctrl+n")  # a new session: the panes are emptied
        await wait_for(pilot, lambda: app.live_run is None, what="the new session")
        assert collected == [1]
        await app.start_run("And what stops a runaway sub-call?")
        await ended(pilot)
        assert collected == [1]  # its first question: nothing left to collect
        assert app.summary.state == "done" and app.summary.turn == 1
