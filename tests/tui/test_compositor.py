"""The app's compositor (rlm_tui/tui/compositor.py) writes to the terminal what Textual's own
writes, frame for frame, while it renders only the widgets and rows a frame changed."""

from __future__ import annotations

import random

from textual._compositor import Compositor
from textual.geometry import Region

from rlm_tui.tui.compositor import LineCropCompositor
from rlm_tui.tui.widgets.reasoning import RootReasoning
from tests.tui.conftest import loaded, make_app
from tests.tui.test_panes import start_reply

PARAGRAPH = "The sandbox stops a runaway cell with a wall-clock timeout. " * 3 + "\n\n"


def written(compositor: Compositor, regions: list[Region], console, *, textual: bool) -> str:
    """What a partial update of `regions` writes to the terminal: with the app's compositor
    or, `textual`, with Textual's own method on the same arrangement."""
    compositor._dirty_regions.update(regions)
    if textual:
        compositor.__class__ = Compositor
    try:
        update = compositor.render_update()
    finally:
        compositor.__class__ = LineCropCompositor
    return "" if update is None else update.render_segments(console)


def shown(compositor: Compositor, widget) -> Region:
    """The part of `widget` on the screen."""
    region, clip = compositor.visible_widgets[widget]
    return region.intersection(clip)


def random_regions(rng: random.Random, width: int, height: int) -> list[Region]:
    regions = []
    for _ in range(rng.randint(1, 5)):
        x, y = rng.randrange(width), rng.randrange(height)
        regions.append(Region(x, y, rng.randint(1, width - x), rng.randint(1, min(4, height - y))))
    return regions


async def test_every_partial_update_writes_what_textuals_own_writes(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot, PARAGRAPH * 12)
        await pilot.pause(0.1)
        compositor = app.screen._compositor
        assert isinstance(compositor, LineCropCompositor)
        width, height = app.size
        reply = shown(compositor, app.query_one(RootReasoning).sections[0].reply)
        status = app.query_one("#status").region
        cases = [
            [Region(reply.x, reply.bottom - 1, reply.width, 1)],  # a streamed reply's last line
            [status],  # the status bar
            [Region(reply.x, reply.y, reply.width, 2), status],  # the two, far apart
            [Region(35, 4, 2, 12), Region(reply.x, reply.bottom - 2, reply.width, 2)],
            [app.screen.region],  # everything
        ]
        rng = random.Random(28)
        cases += [random_regions(rng, width, height) for _ in range(150)]
        for regions in cases:
            ours = written(compositor, regions, app.console, textual=False)
            theirs = written(compositor, regions, app.console, textual=True)
            assert ours == theirs, regions
            assert ours  # something was written: the cases are not empty updates


async def test_a_streamed_line_renders_the_reply_and_not_the_other_panes(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot, PARAGRAPH * 4)
        await pilot.pause(0.1)
        compositor = app.screen._compositor
        reply = shown(compositor, app.query_one(RootReasoning).sections[0].reply)
        line = Region(reply.x, reply.bottom - 1, reply.width, 1)
        compositor._changed = [line]
        try:
            rendered = [widget for widget, (region, clip) in compositor.visible_widgets.items()
                        if region.intersection(clip).overlaps(line)]
            renders = list(compositor._get_renders(line))
        finally:
            compositor._changed = None
        assert len(renders) == len(rendered)
        assert all(len(strips) == 1 for _, _, strips in renders)  # one row of each
        names = {type(widget).__name__ for widget in rendered}
        assert "Footer" not in names and "RunStatusBar" not in names
        assert "ContextBrowser" not in names and "SubCallTree" not in names
