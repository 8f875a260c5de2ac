"""The MCP server's progress notifications (rlm_tui/mcp/progress.py), from a session's event
stream: the start with the transcript, each root iteration, sub-calls within it; progress
only grows (MCP requires it), and a child RLM's iterations are not the root's."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from rlm_tui import events as ev
from rlm_tui.mcp import progress as progress_module
from rlm_tui.mcp.progress import report_progress
from rlm_tui.transcript import SessionModel


async def test_progress_follows_the_root_iterations_and_only_grows(monkeypatch):
    monkeypatch.setattr(progress_module, "SUBCALL_INTERVAL_S", 0.0)
    tree = SessionModel(track_changes=False)
    session = SimpleNamespace(run=SimpleNamespace(run_id="r"), tree=tree,
                              transcript=Path("/data/t.jsonl"))
    stream = [
        ev.SessionStarted(session_id="r", node_id="r", query="q", root_model="m",
                          sub_model="m", max_iterations=5),
        ev.IterationStarted(session_id="r", node_id="r.i1", parent_id="r", iteration=1,
                            max_iterations=5),
        ev.SubcallFinished(session_id="r", node_id="r.i1.s1", parent_id="r.i1", model="m"),
        ev.SubcallFinished(session_id="r", node_id="r.i1.s2", parent_id="r.i1", model="m"),
        ev.IterationStarted(session_id="r.i1.c1.s", node_id="x.i1", parent_id="x",
                            iteration=1, max_iterations=5),  # a child RLM's: not reported
        ev.IterationStarted(session_id="r", node_id="r.i2", parent_id="r", iteration=2,
                            max_iterations=5, forced=True),
    ]

    async def events():
        for event in stream:
            yield event

    sent: list[tuple[float, float | None, str | None]] = []

    async def report(value, total, message):
        sent.append((value, total, message))

    await report_progress(events(), session, report)
    values = [value for value, _, _ in sent]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert values[0] == 0 and values[1] == 1 and 1 < values[2] < values[3] < 2
    assert values[-1] == 2 and len(sent) == 5
    assert sent[0][2] == "started; transcript /data/t.jsonl"
    assert sent[1][2].startswith("iteration 1/5 · 0 sub-calls · ")
    assert sent[-1][2].startswith("iteration 2/5 (asked for a final answer) · ")
    assert {total for _, total, _ in sent} == {5.0}
