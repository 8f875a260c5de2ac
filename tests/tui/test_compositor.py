"""The app's compositor (rlm_tui/tui/compositor.py) writes to the terminal what Textual's own
writes, frame for frame, while it renders only the widgets and rows a frame changed."""

from __future__ import annotations

import random
import re

from textual._compositor import Compositor
from textual.geometry import Region

from rlm_tui.tui.compositor import LineCropCompositor
from rlm_tui.tui.widgets.reasoning import RootReasoning
from tests.tui.conftest import loaded, make_app
from rlm_tui import events as ev
from tests.tui.test_panes import feed, start_reply

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


# A cursor move that nothing is written after: Textual writes one for a chop that starts where
# a changed span ends (cropped to nothing); a widget not rendered leaves that chop empty.
IDLE_MOVE = re.compile(r"\x1b\[\d+;\d+H(?=\x1b\[\d+;\d+H|\n|$)")


def same_on_screen(ours: str, theirs: str) -> bool:
    """The two writes leave the same cells on the terminal, byte for byte but for idle moves."""
    return IDLE_MOVE.sub("", ours) == IDLE_MOVE.sub("", theirs)


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
            assert same_on_screen(ours, theirs), regions
            assert ours  # something was written: the cases are not empty updates


async def test_a_streamed_line_renders_the_reply_alone(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot, PARAGRAPH * 4)
        await pilot.pause(0.1)
        compositor = app.screen._compositor
        reply = app.query_one(RootReasoning).sections[0].reply
        line = Region(shown(compositor, reply).x, shown(compositor, reply).bottom - 1,
                      shown(compositor, reply).width, 1)
        under = {type(widget).__name__ for widget, (region, clip)
                 in compositor.visible_widgets.items()
                 if region.intersection(clip).overlaps(line) and widget is not reply}
        assert {"RootReasoning", "IterationSection"} <= under  # the pane and its section
        compositor._changed = [line]
        try:
            renders = list(compositor._get_renders(line))
        finally:
            compositor._changed = None
        # The reply's one row: the containers under it and the other panes are not rendered.
        assert [(painted, len(strips)) for _, painted, strips in renders] == [(line, 1)]


def screen_lines(app) -> list[str]:
    """The screen as the widgets' line caches paint it, styles included."""
    return ["".join(segment.text + repr(segment.style) for segment in strip)
            for strip in app.screen._compositor.render_strips()]


async def test_a_reply_that_grows_keeps_no_stale_line(sample):
    """A reply and its section keep the lines they drew when they grow taller: what the
    screen shows is what drawing every line again shows."""
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot, "# A heading\n\n")
        words = ("the **sandbox** stops a `runaway` cell ").split(" ")
        for step in range(60):
            text = " ".join(words[step % len(words):] + words[:step % 3]) + (
                "\n\n" if step % 7 == 6 else " ")
            script.emit(ev.RootDelta, node, script.run, text=text)
            await feed(pilot, script)
            await pilot.pause(0.06)
            if step % 10 == 9:
                painted = screen_lines(app)
                for widget in app.screen.walk_children(with_self=True):
                    widget._styles_cache.clear()
                assert painted == screen_lines(app), step


async def test_a_tree_keeps_its_scrollbar_true_and_other_panes_layouts_leave_it_alone(
        tmp_path, monkeypatch):
    """The context tree's scrollbar follows the tree as it grows, and a layout made for
    another pane (a streamed reply growing) does not draw it again (Textual's did, each
    layout)."""
    root = tmp_path / "many"
    for i in range(60):
        (root / "pkg" / f"m{i:02}.py").parent.mkdir(parents=True, exist_ok=True)
        (root / "pkg" / f"m{i:02}.py").write_text("x = 1\n")
        (root / f"top{i:02}.py").write_text("y = 2\n")
    monkeypatch.chdir(tmp_path)
    app = make_app("many")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.pause(0.1)
        tree = app.query_one("#context-tree")
        bar = tree.vertical_scrollbar
        assert tree.show_vertical_scrollbar
        assert bar.window_virtual_size == tree.virtual_size.height
        before = tree.virtual_size.height
        package = next(node for node in tree.root.children if "pkg" in str(node.label))
        package.expand()
        await pilot.pause(0.2)
        assert tree.virtual_size.height > before  # the package's 60 files shown
        assert bar.window_virtual_size == tree.virtual_size.height
        drawn = []
        original = bar.refresh
        bar.refresh = lambda *a, **k: drawn.append(1) or original(*a, **k)
        screen, layouts = app.screen, []
        layout = screen._refresh_layout
        screen._refresh_layout = lambda *a, **k: layouts.append(1) or layout(*a, **k)
        script, node = await start_reply(pilot, "The first words.\n\n")
        for step in range(8):  # the reply grows line by line: the screen is laid out again
            script.emit(ev.RootDelta, node, script.run, text="A line of a paragraph. " * 4
                        + "\n\n")
            await feed(pilot, script)
            await pilot.pause(0.05)
        assert layouts and not drawn


async def test_a_new_title_repaints_the_calls_panes_top_row_alone(sample):
    """The Calls tree's title (its totals, once a second while a call streams) repaints the
    top border row; what the screen shows is what drawing every line again shows."""
    from rlm_tui.tui.compositor import retitle

    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script, node = await start_reply(pilot, "The first words.\n\n")
        await pilot.pause(0.1)
        tree = app.query_one("#calls")
        repainted = []
        update = app.screen._compositor.update_widgets

        def updated(widgets):
            repainted.extend(set(tree._repaint_regions) if tree in widgets else [])
            return update(widgets)

        app.screen._compositor.update_widgets = updated
        retitle(tree, "Calls · 7 done · ~12.3k tokens · $0.42")
        await pilot.pause(0.1)
        assert "7 done" in str(tree.border_title)
        assert [(region.y, region.height) for region in repainted] == [(0, 1)]
        painted = screen_lines(app)
        for widget in app.screen.walk_children(with_self=True):
            widget._styles_cache.clear()
        assert painted == screen_lines(app)
        assert any("7 done" in line for line in painted)
