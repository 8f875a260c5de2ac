"""The help beside the panes (F1): what the app does, part by part, in a newcomer's words,
with the keys and palette commands of each part; then the keys of the pane in focus.

It writes itself from the app's data: `HELP_SECTIONS` (which actions each part gathers, and a
line on what the part is for), the app's BINDINGS (each key's description and tooltip, as
the footer and the palette show them) and its PALETTE_ACTIONS. A binding no section names
is listed under "More keys", so a new key is never missing here. Textual's HelpPanel lists
the focused widget's keys first (an input's 30 editing keys, right after launch), and has no
room for a part's purpose: hence this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

PALETTE = "command_palette"  # Textual's action for ctrl+p


@dataclass(frozen=True)
class HelpSection:
    """One part of the app: its title, a line on what it is for, and its actions (binding
    or palette command names, without parameters), in the order shown."""

    title: str
    text: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class KeyRow:
    key: str
    description: str
    tooltip: str = ""


def _action_name(action: str) -> str:
    return action.partition("(")[0].removeprefix("app.")


def app_rows(app: Any, action: str) -> list[KeyRow]:
    """The rows of `action`: its bindings, else its palette commands (those sharing a title
    before a colon in one row: "Hold cells: none · every cell · ...")."""
    if action == PALETTE:
        key = app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, PALETTE))
        return [KeyRow(key, "Commands", "Every command by name, themes too: type a few "
                       "letters of one, enter runs it")]
    rows = [KeyRow(app.get_key_display(b), b.description, b.tooltip or "")
            for b in app.BINDINGS if isinstance(b, Binding) and not b.system
            and _action_name(b.action) == action]
    if rows:
        return rows
    palette_key = app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, PALETTE))
    grouped: dict[str, list[tuple[str, str]]] = {}
    for title, help_text, palette_action in getattr(app, "PALETTE_ACTIONS", ()):
        if _action_name(palette_action) == action:
            head, colon, tail = title.partition(": ")
            grouped.setdefault(head if colon else title, []).append((tail, help_text))
    for head, entries in grouped.items():
        if len(entries) == 1 and not entries[0][0]:
            rows.append(KeyRow(palette_key, head, entries[0][1]))
        else:
            rows.append(KeyRow(palette_key, f"{head}: " + " · ".join(t for t, _ in entries),
                               "in the palette"))
    return rows


def unsorted_rows(app: Any, sections: Iterable[HelpSection]) -> list[KeyRow]:
    """The app's keys that no section names."""
    named = {action for section in sections for action in section.actions}
    rows: list[KeyRow] = []
    seen: set[str] = set()
    for binding in app.BINDINGS:
        if not isinstance(binding, Binding) or binding.system:
            continue
        name = _action_name(binding.action)
        if name not in named and name not in seen and binding.description:
            seen.add(name)
            rows.append(KeyRow(app.get_key_display(binding), binding.description,
                               binding.tooltip or ""))
    return rows


def focused_rows(screen: Any) -> tuple[str, list[KeyRow]]:
    """The keys of the focused widget and the widgets around it (not the app's, not the
    screen's), and what to call them: the pane's title."""
    focused = screen.focused
    if focused is None:
        return "", []
    name = ""
    for node in focused.ancestors_with_self:
        if node is screen:
            break
        # A pane's name, not its figures ("Calls · 3 done · ..."), or a group's.
        shown = str(getattr(node, "border_title", "") or "").split(" · ")[0]
        title = getattr(node, "BORDER_TITLE", "") or shown or node.BINDING_GROUP_TITLE or ""
        if title:
            name = title
            break
    app = screen.app
    rows: list[KeyRow] = []
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if active.node in (app, screen) or binding.system or not binding.description:
            continue
        if binding.action.startswith("app.") or binding.action in seen:
            continue
        seen.add(binding.action)
        rows.append(KeyRow(app.get_key_display(binding), binding.description,
                           binding.tooltip or ""))
    return name or type(focused).__name__, rows


class KeysTable(Static):
    """Rows of keys: the key, then its description and (dimmer) what it does."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"keys-table--key", "keys-table--tooltip"}
    DEFAULT_CSS = """
    KeysTable {
        width: 1fr;
        height: auto;
        & > .keys-table--key { color: $text-accent; text-style: bold; }
        & > .keys-table--tooltip { color: $text-muted; }
    }
    """

    def __init__(self, rows: list[KeyRow], key_width: int) -> None:
        super().__init__()
        self.rows = rows
        self.key_width = key_width

    def render(self) -> Table:
        table = Table(box=box.SIMPLE, show_header=False, show_edge=False, pad_edge=False,
                      padding=(0, 1, 0, 0), expand=True)
        table.add_column(justify="right", width=self.key_width, no_wrap=True)
        table.add_column(ratio=1)
        key_style = self.get_component_rich_style("keys-table--key")
        tooltip_style = self.get_component_rich_style("keys-table--tooltip")
        for row in self.rows:
            text = Text(row.description)
            if row.tooltip:
                text.append("  ")
                text.append(row.tooltip, tooltip_style)
            table.add_row(Text(row.key, key_style), text)
        return table


def _section_widgets(title: str, text: str, rows: list[KeyRow],
                     key_width: int) -> Iterator[Widget]:
    yield Static(title, classes="keys-help--title", markup=False)
    if text:
        yield Static(text, classes="keys-help--text", markup=False)
    if rows:
        yield KeysTable(rows, key_width)


class FocusedKeys(Vertical):
    """The last part of the help: the focused pane's own keys, recomposed as focus moves."""

    def __init__(self, key_width: int) -> None:
        super().__init__(id="focused-keys")
        self.key_width = key_width

    def compose(self) -> ComposeResult:
        name, rows = focused_rows(self.screen)
        if rows:
            yield from _section_widgets(f"Keys in {name}", "", rows, self.key_width)


class KeysHelp(VerticalScroll, can_focus=False):
    """Docked beside the panes, as Textual's HelpPanel is; the app's `HELP_SECTIONS`, its
    remaining keys, then the focused pane's."""

    DEFAULT_CSS = """
    KeysHelp {
        split: right;
        width: 36%;
        min-width: 36;
        max-width: 60;
        height: 100%;
        border-left: vkey $foreground 30%;
        padding: 0 1;
        background: $background;
        .keys-help--title { color: $text-primary; text-style: bold; margin-top: 1; }
        .keys-help--text { color: $text-muted; }
        #focused-keys { height: auto; }
    }
    """
    KEY_WIDTH = 6  # at least: the focused pane's keys may be longer than the app's

    def compose(self) -> ComposeResult:
        app = self.app
        sections: tuple[HelpSection, ...] = tuple(getattr(app, "HELP_SECTIONS", ()))
        parts = [(s.title, s.text, [row for action in s.actions
                                    for row in app_rows(app, action)]) for s in sections]
        parts.append(("More keys", "", unsorted_rows(app, sections)))
        width = max([self.KEY_WIDTH, *(len(row.key) for *_, rows in parts for row in rows)])
        for title, text, rows in parts:
            if rows:
                yield from _section_widgets(title, text, rows, width)
        yield FocusedKeys(width)

    def on_mount(self) -> None:
        self.watch(self.screen, "focused", self._focus_moved, init=False)

    async def _focus_moved(self, _focused: Widget | None) -> None:
        if self.is_attached:
            await self.query_one(FocusedKeys).recompose()
