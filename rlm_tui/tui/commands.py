"""The command palette (ctrl+p): the app's bindings that have a tooltip, its commands with no
key (PALETTE_ACTIONS), and Textual's own (Theme, Screenshot), from one provider in one fixed
order (PALETTE_ORDER), so the palette reads the same at every launch. The footer, the help
(F1) and the palette all read from one table: the app's BINDINGS.

Textual gathers each provider of `App.COMMANDS` (a set) in a task of its own and lists
equal matches in the order they arrive: with two providers, that order changed from launch
to launch. One provider yields everything, in order; the palette's sort by score is stable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

# The order with nothing typed, and among equal matches: what a newcomer looks for first
# (ask, which cells are held, the models, export, themes), the run's and the replay's
# controls, the panes, and quitting last. Names are actions, or Textual's system commands by
# title; one not named here comes just before Quit.
PALETTE_ORDER: tuple[str, ...] = (
    "new_query", "choose_model", "set_approve_mode", "switch_model", "export", "Theme",
    "toggle_pause", "step", "previous_iteration", "faster", "slower", "to_start", "to_end",
    "halt", "note", "approve_cell", "edit_cell", "skip_cell", "fork", "new_session",
    "zoom", "timeline", "focus_filter", "toggle_help", "Screenshot", "show_pane", "quit",
)
_LAST = PALETTE_ORDER.index("quit")


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str  # markup: escaped
    run: Callable[[], Any]
    rank: float


def action_name(action: str) -> str:
    """An action string's name, without its parameters: "switch_model('root')" -> ..."""
    return action.partition("(")[0]


def action_parameters(action: str) -> tuple[str, ...]:
    _, _, args = action.partition("(")
    return tuple(a.strip().strip("'\"") for a in args.rstrip(")").split(",") if a.strip())


def _rank(name: str) -> float:
    return PALETTE_ORDER.index(name) if name in PALETTE_ORDER else _LAST - 0.5


def palette_commands(app: Any, screen: Any) -> list[PaletteCommand]:
    """Every command that applies now, in the palette's order."""
    found: list[PaletteCommand] = []
    for binding in app.BINDINGS:
        if not isinstance(binding, Binding) or not binding.tooltip:
            continue
        if app.check_action(binding.action, ()) is not True:
            continue
        key = app.get_key_display(binding)
        # Help is read as markup: unescaped, "[r]" would be a style tag, not the key.
        found.append(PaletteCommand(binding.description,
                                    escape(f"{binding.tooltip}  [{key}]"),
                                    partial(app.run_action, binding.action),
                                    _rank(action_name(binding.action))))
    # Commands with no key of their own (an action string may carry its parameters).
    for title, help_text, action in getattr(app, "PALETTE_ACTIONS", ()):
        if app.check_action(action_name(action), action_parameters(action)) is True:
            found.append(PaletteCommand(title, escape(help_text),
                                        partial(app.run_action, action),
                                        _rank(action_name(action))))
    for command in app.get_system_commands(screen):
        if command.discover:
            found.append(PaletteCommand(command.title, escape(command.help),
                                        command.callback, _rank(command.title)))
    return sorted(found, key=lambda c: c.rank)  # stable: a group keeps its own order


class SessionCommands(Provider):
    """Ask, hold cells, switch models, export, themes, the run's controls, ... quit: those
    that apply right now."""

    def _commands(self) -> Iterator[PaletteCommand]:
        yield from palette_commands(self.app, self.screen)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run,
                          help=command.help)
