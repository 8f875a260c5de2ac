"""An answer the schema rejects, in the app: the Reasoning pane and the cell log say so, live
and in the replay of its transcript; the accepted answer is the validated JSON."""

from __future__ import annotations

import json

from rlm_tui.transcript import read_transcript
from rlm_tui.tui.replay_app import ReplayApp
from rlm_tui.tui.widgets.cell_log import CellLog
from rlm_tui.tui.widgets.final_answer import FinalAnswer
from rlm_tui.tui.widgets.reasoning import RootReasoning
from rlm_tui.tui.widgets.subcall_tree import SubCallTree
from tests.integration.test_engine import Scripted, repl
from tests.tui.conftest import ended, make_app, wait_for

SCHEMA = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
SIZE = (120, 40)


def rejection_shown(app) -> tuple[list[str], list[str], str]:
    """The Reasoning pane's rejection lines, the cell headers, the first cell's output, the
    iterations' labels in Calls."""
    sections = app.query_one(RootReasoning).sections
    cells = app.query_one(CellLog).cells
    output = str(cells[0].query_one(".cell-output").render()) if cells else ""
    tree = app.query_one(SubCallTree)
    calls = [tree.render_label(node, tree.rich_style, tree.rich_style).plain
             for node in tree._by_id.values() if node.data.kind == "iteration"]
    return ([text for s in sections for text in s.rejections],
            [str(c.query_one(".cell-header").render()) for c in cells], output, calls)


async def test_a_rejected_answer_shows_live_and_in_the_replay(openai_server, sample, tmp_path):
    schema = tmp_path / "ok.json"
    schema.write_text(json.dumps(SCHEMA))
    openai_server.responder = Scripted([repl('FINAL({"ok": "yes"})'),
                                        repl('FINAL({"ok": True})')])
    app = make_app(sample, model="openai/root-model", api_base=openai_server.base_url,
                   max_retries=0, query="ok?", schema=str(schema))
    async with app.run_test(size=SIZE) as pilot:
        await ended(pilot)
        rejections, headers, output, calls = rejection_shown(app)
        assert len(rejections) == 1 and "answer rejected (FINAL)" in rejections[0]
        assert "'yes' is not of type 'boolean'" in rejections[0]
        assert "answer rejected" in headers[0] and "answer rejected" not in headers[1]
        assert "FINAL rejected" in output and "'yes' is not of type" in output
        assert ["✗ rejected" in label for label in calls] == [True, False]
        assert app.query_one(FinalAnswer).answer == '{"ok": true}'
        assert "validated: it matches the schema" in app.query_one(FinalAnswer).status_line
        seen_live = rejection_shown(app)
        path = app.live_run.transcript_path
    replay = ReplayApp(read_transcript(path))
    async with replay.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: replay.cursor.position >= replay.cursor.first_stop,
                       what="the replay to open")
        await pilot.press("G")
        await wait_for(pilot, lambda: replay.cursor.at_end and not replay._seek_lock.locked(),
                       what="the replay's end")
        assert rejection_shown(replay) == seen_live
