"""How the app draws small things that are not numbers (numbers: rlm_tui/units.py)."""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget

BAR_CELLS = 5


def bar(fraction: float, cells: int = BAR_CELLS) -> str:
    """A small bar: '▰▰▱▱▱' for 40%; any non-zero fraction shows at least one cell."""
    fraction = min(1.0, max(0.0, fraction))
    full = round(fraction * cells)
    if fraction > 0 and full == 0:
        full = 1
    return "▰" * full + "▱" * (cells - full)


def shorten(text: str, width: int) -> str:
    """One line of at most `width` characters, with an ellipsis when cut."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


def component_style(widget: Widget, name: str) -> Style:
    """A component class's colour as a Rich style for text drawn in `widget`, blended over the
    widget's background: a colour with alpha (`$foreground-muted`) given to Rich as it is comes
    out opaque. (Component classes take `$foreground-muted`, not `$text-muted`: that one is
    "auto 60%", resolved against the component's own transparent background, so white on
    every theme, near invisible on a light one.)"""
    cache: dict[tuple[str, str], Style] = widget.__dict__.setdefault("_blended_styles", {})
    key = (name, widget.app.theme)  # labels are drawn often: once per theme is enough
    style = cache.get(key)
    if style is None:
        colour = widget.get_component_styles(name).color
        background = widget.background_colors[1]
        if colour.a < 1:
            colour = background + colour
        style = cache[key] = Style(color=colour.rich_color)
    return style
