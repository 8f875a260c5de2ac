"""Forking from the app: which iteration the Calls pane has selected, and the request a
replay hands the live app when it exits to fork (see launch.py).

Reading the transcript, the plan and where the context comes from are rlm_tui/forks.py's
(shared with `rlm-tui fork`); the live app starts the plan on a new run with its own
transcript, and the original is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rlm_tui.transcript.model import Node
from rlm_tui.tui.screens.fork import ForkChoice
from rlm_tui.tui.widgets.subcall_tree import SubCallTree, root_iteration


@dataclass(frozen=True)
class ForkPoint:
    """After iteration `iteration` of turn `turn` (1 for the first question)."""

    turn: int
    iteration: int

    @property
    def at(self) -> tuple[int, int]:
        return (self.turn, self.iteration)


@dataclass(frozen=True)
class ForkRequest:
    """A fork to start live: from `point` of the session recorded in `transcript`."""

    transcript: Path
    point: ForkPoint
    choice: ForkChoice


def selected_point(calls: SubCallTree) -> ForkPoint | None:
    """The root iteration the Calls pane's cursor is on (or beneath), if it is on one."""
    node = calls.cursor_node
    data: Node | None = node.data if node is not None else None
    iteration = root_iteration(data)
    if iteration is None:
        return None
    return ForkPoint(getattr(iteration, "turn", 1), getattr(iteration, "iteration", 0))
