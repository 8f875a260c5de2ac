"""The Reasoning pane's line for a compaction: before the iteration whose call followed it."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from rlm_tui import events as ev
from rlm_tui.transcript.compaction import describe_compaction


async def show_compaction(pane: Any, section: Any, created: list[Any],
                          event: ev.Compacted) -> None:
    """`section`: the iteration's (None if not built); `created`: the widgets the pane's
    batch is about to mount, in order. The unknown-window note stays in the transcript."""
    if event.reason == "no_window" or section is None:
        return
    line = Static(describe_compaction(event), classes="compaction", markup=False)
    if section in created:
        created.insert(created.index(section), line)
    elif section.is_mounted:
        await pane.mount(line, before=section)
