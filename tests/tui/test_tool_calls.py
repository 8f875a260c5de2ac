"""A host tool's call in the app's Calls pane and its detail, from a fixed event stream."""

from __future__ import annotations

from rlm_tui import events as ev
from rlm_tui.tui.widgets.call_detail import CallDetail
from rlm_tui.tui.widgets.subcall_tree import SubCallTree
from tests.tui.conftest import loaded, make_app
from tests.tui.event_script import REPLY_2, EventScript
from tests.tui.test_panes import feed, label


def tool_call(script: EventScript, cell: str, n: int, *, result: str = "",
              error: str | None = None, finished: bool = True) -> str:
    node = f"{cell}.tool{n}"
    script.emit(ev.ToolStarted, node, cell, name="lookup_issue",
                arguments='{"args":[24],"kwargs":{"fields":["title"]}}', arguments_chars=42)
    if finished:
        script.emit(ev.ToolFinished, node, cell, name="lookup_issue", result=result,
                    result_chars=len(result), seconds=0.25, error=error)
    return node


async def test_the_calls_pane_shows_a_tool_call_and_its_result(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        script.start()
        i1 = script.iteration(1, REPLY_2)
        c1 = script.cell(i1, 1, "issue = lookup_issue(24, fields=['title'])", finished=False)
        q1 = script.subcall(c1, 1)
        t1 = tool_call(script, c1, 1, result='{"title":"Tools from the host"}')
        t2 = tool_call(script, c1, 2, error="lookup_issue: KeyError: 99")
        await feed(pilot, script)
        tree = app.query_one(SubCallTree)
        cell = tree._by_id[c1]
        assert [child.data.node_id for child in cell.children] == [q1, t1, t2]
        assert label(tree, tree._by_id[t1]) == "✓ tool lookup_issue  0.2s"
        assert label(tree, tree._by_id[t2]).startswith("✗ tool lookup_issue")
        assert tree.model.totals.calls_done == 2  # the root call and the sub-call: no tools
        tree.focus()
        tree.move_cursor(tree._by_id[t1])
        await pilot.pause()
        detail = app.query_one(CallDetail)
        assert detail.call.node_id == t1
        assert detail.query_one("#call-prompt").text == 'lookup_issue(24, fields=["title"])'
        assert '"title": "Tools from the host"' in detail.query_one("#call-response").text
        assert "a host tool" in str(detail.query_one("#call-header").render())
        tree.move_cursor(tree._by_id[t2])
        await pilot.pause()
        assert "KeyError: 99" in str(detail.query_one("#call-header").render())


async def test_a_tool_call_in_flight_when_the_run_halts_is_stopped(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        script.start()
        i1 = script.iteration(1, REPLY_2)
        c1 = script.cell(i1, 1, "lookup_issue(24)", finished=False)
        t1 = tool_call(script, c1, 1, finished=False)
        script.finish(None, status="halted", reason="halted by the user")
        await feed(pilot, script)
        tree = app.query_one(SubCallTree)
        assert label(tree, tree._by_id[t1]).startswith("■ tool lookup_issue")
