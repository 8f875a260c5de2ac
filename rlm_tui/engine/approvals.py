"""Held cells: a cell waits for a person's decision before it runs (--approve).

The gate is an awaitable in the engine, like pause, so the app, a test or any other client
approves, edits or skips a held cell the same way: `run.approve_cell()`, `run.edit_cell(code)`,
`run.skip_cell()`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from rlm_tui import events as ev

APPROVE_MODES: tuple[ev.ApproveMode, ...] = ("none", "cells", "final")
_ENDS_RUN = re.compile(r"\bFINAL(?:_VAR)?\s*\(")


def hold_reasons(mode: ev.ApproveMode, blocks: list[str]) -> list[str | None]:
    """Why each cell of a reply is held (None: it runs at once). "final" holds the cells that
    call FINAL or FINAL_VAR, and every other cell of a reply that ends the run: the model
    wrote its answer before it saw what that code prints."""
    if mode == "cells":
        return ["every cell is held"] * len(blocks)
    if mode == "final":
        ends = [bool(_ENDS_RUN.search(code)) for code in blocks]
        if any(ends):
            return ["it calls FINAL" if end else "its reply ends the run in another cell"
                    for end in ends]
    return [None] * len(blocks)


@dataclass
class HeldCell:
    cell_id: str
    code: str
    reason: str
    decision: asyncio.Future[tuple[ev.CellDecision, str]] = field(repr=False)


class Approvals:
    """The approval mode and the cell held now (one at a time: the root's cells run in order)."""

    def __init__(self, mode: ev.ApproveMode = "none") -> None:
        self.mode: ev.ApproveMode = mode
        self.held: HeldCell | None = None

    async def wait(self, cell_id: str, code: str, reason: str) -> tuple[ev.CellDecision, str]:
        """Hold the cell until a decision: ("approved", code), ("edited", new code) or
        ("skipped", code). Cancelled (a halt): the cell stays undecided."""
        future: asyncio.Future[tuple[ev.CellDecision, str]] = \
            asyncio.get_running_loop().create_future()
        self.held = HeldCell(cell_id, code, reason, future)
        try:
            return await future
        finally:
            self.held = None

    def decide(self, decision: ev.CellDecision, code: str | None = None) -> bool:
        """Decide the held cell; False when no cell is held."""
        held = self.held
        if held is None or held.decision.done():
            return False
        if decision == "edited" and (code is None or code == held.code):
            decision, code = "approved", held.code  # an edit that changed nothing
        held.decision.set_result((decision, held.code if code is None else code))
        return True
