"""The app's actions in the command palette (ctrl+p): every app binding with a tooltip, so
the footer, the help panel and the palette all read from one table (RlmApp.BINDINGS)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape


class RunCommands(Provider):
    """Pause, step, halt, run, export, zoom, help, quit, and the steering commands (which
    cells are held, switching models): whichever apply right now."""

    def _commands(self) -> Iterator[tuple[str, str, str]]:
        app = self.app
        for binding in app.BINDINGS:
            if not isinstance(binding, Binding) or not binding.tooltip:
                continue
            if app.check_action(binding.action, ()) is not True:
                continue
            key = app.get_key_display(binding)
            # Help is read as markup: unescaped, "[r]" would be a style tag, not the key.
            yield binding.description, escape(f"{binding.tooltip}  [{key}]"), binding.action
        # Commands with no key of their own (an action string may carry its parameters).
        for title, help_text, action in getattr(app, "PALETTE_ACTIONS", ()):
            name, _, args = action.partition("(")
            parameters = tuple(a.strip().strip("'\"") for a in args.rstrip(")").split(",")
                               if a.strip())
            if app.check_action(name, parameters) is True:
                yield title, escape(help_text), action

    async def discover(self) -> Hits:
        for title, help_text, action in self._commands():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action),
                          help=help_text)
