"""A compositor whose partial updates render only what they update.

Textual's compositor answers a frame that changed a few lines (a streamed reply's tail) by
rendering, from each widget's line cache, every line of every widget whose *clip* (its
container's visible area) touches the changed area: the footer, the status bar, the query bar
and each pane of the grid, whole, at every frame. A slow local model streams for minutes at
~10 frames a second, and that was most of the app's CPU (bench/bench_stream_cpu.py).

`LineCropCompositor` renders, for a frame, only the widgets whose visible region touches one
of the regions that changed, and of each only the rows those regions span; a widget whose part
of the changes lies under a widget in front of it (a pane's containers, under a reply's line)
is not rendered at all: the frontmost strip wins. What reaches the terminal is the same:
Textual writes only the changed spans, and a widget outside the changed area has nothing in
them (tests/tui/test_compositor.py compares the two on the app's own screens). Full renders
(a screenshot, a resize) render every widget, as Textual's do.

It overrides two private methods of textual 8.2 (pinned in pyproject.toml); the test fails first
if a new Textual changes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import Compositor
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.widget import Widget
from textual.strip import Strip


MAX_REGIONS = 64  # past this many changed regions in a frame, their bounding box is used


class LineCropCompositor(Compositor):
    _changed: list[Region] | None = None  # the regions of the partial update being rendered

    def render_partial_update(self):  # type: ignore[no-untyped-def]
        self._changed = list(self._dirty_regions)
        try:
            return super().render_partial_update()
        finally:
            self._changed = None

    def _get_renders(
        self, crop: Region | None = None
    ) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None:  # the whole screen: Textual's own
            yield from super()._get_renders(crop)
            return
        changed = self._changed
        if not changed or len(changed) > MAX_REGIONS:
            changed = [crop]
        intersection = Region.intersection
        rendered: list[Region] = []  # what the widgets in front rendered, front first
        for widget, (region, clip) in self.visible_widgets.items():
            shown = intersection(region, clip)
            if not (shown.width and shown.height):
                continue
            needed = [intersection(part, shown) for part in changed if part.overlaps(shown)]
            if not needed:
                continue
            if all(any(front.contains_region(part) for front in rendered) for part in needed):
                continue  # a widget in front paints all of it: what this would paint is unseen
            top = max(shown.y, min(part.y for part in needed))
            bottom = min(shown.bottom, max(part.bottom for part in needed))
            x, width = shown.x, shown.width
            painted = Region(x, top, width, bottom - top)
            rendered.append(painted)
            yield region, painted, widget.render_lines(
                Region(x - region.x, top - region.y, width, bottom - top))


def use_line_crop(screen: Screen) -> None:
    """Give `screen` the compositor above (before it is first laid out)."""
    screen._compositor = LineCropCompositor()


class OneLayoutPass:
    """A mixin for a widget whose size its container's layout decides: the
    size a layout gives it is taken as it is. Textual's `virtual_size` is a reactive that
    lays the screen out again when set, so every widget a layout resizes asks for a second
    layout, which finds nothing to change: a streamed reply that grew a line paid for two
    (8-10 ms the second, bench/bench_stream_cpu.py).

    A widget that only grew or shrank in height keeps the lines it drew above its bottom edge
    (its border and padding there are drawn again): Textual draws every line again, and a
    streamed reply grows while the lines above its last stay as they were.
    """

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size,
                      layout: bool = True) -> bool:
        widget: Widget = self  # type: ignore[assignment]
        old = widget._size
        if (old.width == size.width and old.height and size.height != old.height
                and widget.styles.overflow_y not in ("auto", "scroll")
                and not widget.scroll_offset.y
                and widget.styles.content_align_vertical == "top"):
            keep = max(0, min(old.height, size.height) - widget.styles.gutter.bottom)
            widget._size = size  # so that Textual's own does not mark every line
            super()._size_updated(  # type: ignore[misc]
                size, virtual_size, container_size, layout=False)
            widget._styles_cache.set_dirty(Region(0, keep, size.width, size.height - keep))
            return True
        return super()._size_updated(  # type: ignore[misc]
            size, virtual_size, container_size, layout=False)


class SteadyScrollbars:
    """A mixin for a Textual ScrollView (a Tree): a layout that leaves its size as it was
    leaves its scrollbars alone. Textual's compares the container's size with the view's own
    inner size, finds them different every time, and draws the scrollbars again at every
    layout of the screen (the context tree's, while a reply streams in another pane)."""

    _steady_virtual: Size | None = None  # the virtual size its scrollbars last showed

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size,
                      layout: bool = True) -> bool:
        view: Widget = self  # type: ignore[assignment]
        if (size == view._size and view.virtual_size == self._steady_virtual
                and view._container_size == size - view.styles.gutter.totals):
            return False
        self._steady_virtual = view.virtual_size  # its own: the lines a tree shows
        return super()._size_updated(  # type: ignore[misc]
            size, virtual_size, container_size, layout)


def retitle(widget: Widget, title: str) -> None:
    """Set `widget`'s border title, repainting only its top row: Textual's setter repaints the
    whole widget (the Calls tree, every line of it, once a second while a call streams)."""
    if not widget.size or not widget.styles.border_top[0]:
        widget.border_title = title
        return
    widget._border_title = widget.render_str(title).expand_tabs(4).split()[0]
    offset = widget.content_offset  # a refreshed region is the content's: the border is above
    widget.refresh(Region(-offset.x, -offset.y, widget.outer_size.width, 1))
