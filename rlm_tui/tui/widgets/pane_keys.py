"""The line of the small layout (session_screen.SMALL_WIDTH) above its one pane: each pane's
key and name, the one in front highlighted, so the keys are on screen where the footer (full
at 80 columns, and keyless in the query box) has no room for them."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

# The names the strip shows, in the order of the keys 1-6 (session_screen.NUMBERED_PANES).
PANE_NAMES = ("Context", "Preview", "Reasoning", "Cells", "Calls", "Answer")


class PaneKeys(Static):
    """`1 Context  2 Preview ...  tab next`, the pane in front in reverse."""

    DEFAULT_CSS = """
    PaneKeys { height: 1; padding: 0 1; color: $text-muted; display: none; }
    """

    def show_front(self, number: int) -> None:
        """Highlight pane `number` (1-6)."""
        line = Text()
        for n, name in enumerate(PANE_NAMES, 1):
            front = n == number
            line.append(f" {n} ", style="reverse bold" if front else "bold")
            line.append(f"{name} ", style="reverse bold" if front else "")
            line.append(" ")
        line.append(" tab next", style="dim")
        self.update(line)
