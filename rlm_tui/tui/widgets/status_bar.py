"""The bar at the top: the run's state, iteration, elapsed time, tokens and cost."""

from __future__ import annotations

import time

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from rlm_tui import events as ev
from rlm_tui.printable import printable
from rlm_tui.units import format_clock, format_cost, format_tokens
from rlm_tui.tui.replay import ReplayPosition, format_speed
from rlm_tui.tui.run_summary import RunSummary
from rlm_tui.tui.drawing import shorten

# The badge's colour per state: a theme variable, so every theme colours it its own way.
_STATE_COLOURS = {
    "idle": "$panel-lighten-2", "loading": "$panel-lighten-2", "starting": "$secondary",
    "running": "$success", "paused": "$warning", "stepping": "$accent", "held": "$warning",
    "halted": "$warning", "done": "$primary", "failed": "$error",
}


def _shown(usage: ev.Usage, cost_known: bool) -> tuple[str, str]:
    return (format_tokens(usage.total_tokens, estimated=not usage.reported),
            format_cost(usage, known=cost_known))


class RunStatusBar(Widget):
    """State badge, then 'iteration 3/30 · 00:42 · 12.3k tokens · $0.0123 / $1.00'. In a
    replay: a REPLAY badge, playback and position, then the recorded state and figures."""

    DEFAULT_CSS = """
    RunStatusBar {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    state: reactive[str] = reactive("idle")
    reason: reactive[str | None] = reactive(None)
    iteration: reactive[int] = reactive(0)
    turn: reactive[int] = reactive(1)
    max_iterations: reactive[int] = reactive(0)
    elapsed: reactive[int] = reactive(0)  # whole seconds: the bar repaints once a second
    usage: reactive[ev.Usage] = reactive(ev.Usage)
    sub_calls: reactive[int] = reactive(0)
    cost_known: reactive[bool] = reactive(True)  # False: a model of the run has no price
    max_cost: reactive[float | None] = reactive(None)
    model: reactive[str] = reactive("")
    source: reactive[str] = reactive("")
    replay: reactive[ReplayPosition | None] = reactive(None)
    _estimated_at = 0.0  # monotonic, of the last running estimate shown

    def show(self, summary: RunSummary, now: float) -> None:
        """Take the values shown from `summary` (`now`: the clock, for elapsed time)."""
        self.state = summary.state
        self.reason = summary.reason
        self.iteration = summary.iteration
        self.turn = summary.turn
        self.max_iterations = summary.max_iterations
        self.elapsed = int(summary.elapsed(now))
        usage = summary.live_usage  # a streaming call's running estimate too (~)
        cost_known = summary.tree.totals.cost_known
        # A running estimate changes with every chunk: the bar is drawn again when what it
        # shows does, once a second while a call streams (as its clock).
        if _shown(usage, cost_known) != _shown(self.usage, self.cost_known):
            clock = time.monotonic()
            if not summary.tree.totals.streaming or clock - self._estimated_at >= 1.0:
                self._estimated_at = clock
                self.usage = usage
        self.sub_calls = summary.sub_calls
        self.cost_known = cost_known

    def render(self) -> Content:
        colour = _STATE_COLOURS.get(self.state, "$panel-lighten-2")
        replay = self.replay
        parts: list[Content | tuple[str, str] | str]
        if replay is None:
            parts = [(f" {self.state.upper()} ", f"bold $background on {colour}"), " "]
        elif replay.watch is not None:  # rlm-tui watch: a run elsewhere, shown as it goes
            live = replay.watch == "live"
            parts = [(" WATCH " if live else " ENDED ",
                      f"bold $background on {'$success' if live else '$secondary'}"), " ",
                     (self.state.upper(), f"bold {colour}"), " · ", ("event ", "$text-muted"),
                     f"{replay.event:,}"]
            if replay.cut:
                parts += [(" (file cut)", "$warning")]
            parts += [" · "]
        else:
            parts = [(" REPLAY ", "bold $background on $secondary"), " ",
                     ("▶ " if replay.playing else "❚❚ ", "bold"), format_speed(replay.speed),
                     " · ", ("iteration ", "$text-muted"),
                     f"{replay.iteration} of {replay.iterations}", " · ",
                     ("event ", "$text-muted"), f"{replay.event:,} of {replay.events:,}"]
            if replay.cut:
                parts += [(" (file cut)", "$warning")]
            parts += [" · ", (self.state, f"bold {colour}"), " · "]
        if self.state == "held" and replay is None:
            parts += [("awaits approval: ", f"bold {colour}"), ("a", "bold"), " run · ",
                      ("c", "bold"), " edit · ", ("s", "bold"), " skip · "]
        elif self.state in ("halted", "failed", "paused") and self.reason and (
                replay is None or replay.watch is not None or self.state != "paused"):
            parts += [(shorten(self.reason, 48), colour), " · "]
        if self.turn > 1:
            parts += [("turn ", "$text-muted"), str(self.turn), " · "]
        if self.max_iterations and (replay is None or replay.watch is not None):
            parts += [("iteration ", "$text-muted"), f"{self.iteration}/{self.max_iterations}",
                      " · "]
        parts += [format_clock(self.elapsed), " · ",
                  format_tokens(self.usage.total_tokens, estimated=not self.usage.reported),
                  (" tokens", "$text-muted"), " · ",
                  format_cost(self.usage, known=self.cost_known)]
        if self.max_cost:
            parts += [(f" / ${self.max_cost:.2f}", "$text-muted")]
        parts += [" · ", str(self.sub_calls), (" sub-calls", "$text-muted")]
        line = Content.assemble(*parts)
        right = Content.assemble((printable(self.model), "$text-muted"), "  ",
                                 ("rlm-tui ", "bold $primary"))
        room = self.size.width - line.cell_length - right.cell_length
        if room < 1:
            return line
        return Content.assemble(line, " " * room, right)
