"""Host tools called from the REPL: real workers, the root model scripted by the local
OpenAI-compatible server. A tool runs in the host process; only JSON crosses the pipe."""

from __future__ import annotations

import asyncio
import json
import threading
import tracemalloc

import pytest

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine import Run, RunContext
from rlm_tui.engine.tools import MAX_TOOL_JSON_CHARS, ToolSet
from rlm_tui.errors import UsageError
from rlm_tui.forks import plan_fork
from rlm_tui.lm import ModelClient
from rlm_tui.transcript import SessionModel, ToolCallNode
from rlm_tui.transcript.html import render_html
from rlm_tui.transcript.markdown import render_markdown
from tests.integration.test_engine import FAST_RETRY, Scripted, repl


def tool_run(server, tools: dict, **overrides) -> tuple[Run, list]:
    settings = Settings(model="openai/root-model", sub_model="openai/sub-model",
                        api_base=server.base_url, max_retries=0, **overrides)
    bus = ev.EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    run = Run(settings, ModelClient(retry=FAST_RETRY), bus,
              tools=ToolSet.from_callables(tools))
    return run, seen


def cell_outputs(seen: list) -> list[ev.CellFinished]:
    return [e for e in seen if e.type == "cell_finished"]


def tool_nodes(seen: list) -> list[ToolCallNode]:
    tree = SessionModel.from_events(seen)
    return [t for it in tree.root.iterations for cell in it.cells for t in cell.tools]


def lookup_issue(number: int, *, fields: list[str] | None = None) -> dict:
    """Fetch an issue of the tracker by its number.

    A second paragraph the prompt leaves out."""
    issue = {"number": number, "title": f"issue {number}", "state": "open"}
    return {k: issue[k] for k in fields} if fields else issue


async def test_a_tool_called_with_args_and_kwargs_returns_a_dict_to_the_cell(openai_server):
    script = Scripted([
        repl("issue = lookup_issue(24, fields=['number', 'title'])\n"
             "print(isinstance(issue, dict), issue['title'], sorted(issue))"),
        repl("FINAL(issue['number'])"),
    ])
    openai_server.responder = script
    run, seen = tool_run(openai_server, {"lookup_issue": lookup_issue})
    outcome = await run.start("Which issue?", RunContext.from_value("ctx"))
    assert outcome.answer == "24"
    assert cell_outputs(seen)[0].stdout == "True issue 24 ['number', 'title']\n"
    # The system prompt lists the tool: its name, signature and first paragraph.
    system = script.root_requests[0]["messages"][0]["content"]
    assert ("`lookup_issue(number: int, *, fields: list[str] | None = None) -> dict`: "
            "Fetch an issue of the tracker by its number.") in system
    assert "second paragraph" not in system
    started = [e for e in seen if e.type == "tool_started"][0]
    assert started.name == "lookup_issue" and started.parent_id.endswith(".i1.c1")
    assert json.loads(started.arguments) == {"args": [24],
                                             "kwargs": {"fields": ["number", "title"]}}
    (node,) = tool_nodes(seen)
    assert node.status == "done" and node.error is None
    assert json.loads(node.result) == {"number": 24, "title": "issue 24"}
    assert node.call_text == 'lookup_issue(24, fields=["number", "title"])'
    assert SessionModel.from_events(seen).totals.tool_calls == 1


async def test_an_async_tool_is_awaited_on_the_hosts_loop(openai_server):
    loops = []

    async def fetch(key: str) -> list:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0.01)
        return [key, key.upper()]

    openai_server.responder = Scripted([repl("FINAL(fetch('ab'))")])
    run, seen = tool_run(openai_server, {"fetch": fetch})
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.answer == '["ab", "AB"]'  # a list given to FINAL answers JSON
    assert loops == [asyncio.get_running_loop()]


async def test_a_tool_that_raises_reaches_the_cell_as_its_message_and_the_run_goes_on(
        openai_server):
    def broken(x: int) -> int:
        raise ValueError(f"no such record: {x}\nsecond line")

    openai_server.responder = Scripted([
        repl("try:\n    broken(3)\nexcept RuntimeError as exc:\n    print('caught:', exc)"),
        repl("broken(4)"),
        repl("FINAL('still here')"),
    ])
    run, seen = tool_run(openai_server, {"broken": broken})
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.answer == "still here"
    first, second = cell_outputs(seen)[:2]
    assert first.stdout == "caught: broken: ValueError: no such record: 3\n"
    assert second.error == "RuntimeError: broken: ValueError: no such record: 4"
    assert [n.status for n in tool_nodes(seen)] == ["error", "error"]
    assert tool_nodes(seen)[0].error == "broken: ValueError: no such record: 3"


async def test_a_tool_that_hangs_is_stopped_by_the_cell_timeout_and_the_run_goes_on(
        openai_server):
    release = threading.Event()

    returned: list[bool] = []

    def hangs() -> str:
        release.wait(30)  # a sync tool: its thread is abandoned, not killed
        returned.append(True)
        return "late"

    openai_server.responder = Scripted([
        repl("kept = 1\nhangs()"),
        repl("FINAL(kept + 1)"),
    ])
    run, seen = tool_run(openai_server, {"hangs": hangs}, cell_timeout=1.0)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert returned == []  # the run went on while the tool still hung: it never waited for it
    release.set()
    assert outcome.answer == "2"  # the REPL kept its variables: no restart
    cell = cell_outputs(seen)[0]
    assert cell.error_kind == "timeout" and not cell.worker_restarted
    (node,) = tool_nodes(seen)
    assert node.status == "error" and "time limit" in node.error
    assert node.seconds >= 0.8  # stopped by the cell's 1 s limit, not before (speed: bench/)


async def test_time_in_a_tool_counts_toward_the_cells_time(openai_server):
    async def slow() -> int:
        await asyncio.sleep(0.4)
        return 1

    openai_server.responder = Scripted([repl("for _ in range(5):\n    slow()"),
                                        repl("FINAL('x')")])
    run, seen = tool_run(openai_server, {"slow": slow}, cell_timeout=1.0)
    await run.start("q", RunContext.from_value("ctx"))
    assert cell_outputs(seen)[0].error_kind == "timeout"
    assert len(tool_nodes(seen)) <= 3


async def test_a_tool_returning_100_mb_is_refused_without_the_host_copying_it(openai_server):
    def huge() -> str:
        return "x" * 100_000_000

    openai_server.responder = Scripted([
        repl("try:\n    huge()\nexcept RuntimeError as exc:\n    print(exc)"),
        repl("FINAL('done')"),
    ])
    run, seen = tool_run(openai_server, {"huge": huge})
    tracemalloc.start()
    try:
        outcome = await run.start("q", RunContext.from_value("ctx"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.answer == "done"
    assert peak < 100_000_000 + 30_000_000  # the tool's own string, and no copy of it
    text = cell_outputs(seen)[0].stdout
    assert f"over {MAX_TOOL_JSON_CHARS:,} characters of JSON" in text
    (node,) = tool_nodes(seen)
    assert node.status == "error" and node.result == ""


async def test_a_halt_during_a_tool_call_cancels_it_and_ends_the_run_halted(openai_server):
    entered = asyncio.Event()
    cancelled = []

    async def waits() -> None:
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    openai_server.responder = Scripted([repl("kept = 1\nwaits()")])
    run, seen = tool_run(openai_server, {"waits": waits})
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx"), keep_open=True))
    await asyncio.wait_for(entered.wait(), 20)
    run.control.halt("stop now")
    outcome = await asyncio.wait_for(task, 20)
    assert outcome.status == "halted" and cancelled == [True]  # cancelled, not waited out
    (node,) = tool_nodes(seen)
    assert node.status == "stopped"
    # The worker was told the call is over: it stopped the cell itself, and kept its REPL.
    sandbox = run.root.sandbox
    assert sandbox.alive and sandbox.restarts == 0
    assert (await sandbox.run_cell("print(kept)")).stdout == "1\n"
    await run.close()


async def test_a_fork_answers_tool_calls_from_the_record_without_calling_the_tool(
        openai_server):
    calls = []

    def count(label: str) -> dict:
        calls.append(label)
        return {"label": label, "n": len(calls)}

    openai_server.responder = Scripted([
        repl("a = count('first')\nprint(a)"),
        repl("b = count('second')\nprint(b)"),
        repl("FINAL(b['n'])"),
    ])
    run, seen = tool_run(openai_server, {"count": count})
    assert (await run.start("q", RunContext.from_value("ctx"))).answer == "2"
    assert calls == ["first", "second"]
    plan = plan_fork(seen, "2", transcript="parent.jsonl")
    assert plan.tool_names == ["count"]
    openai_server.reset()
    openai_server.responder = Scripted([repl("FINAL(a['n'] + b['n'])")])
    run, forked = tool_run(openai_server, {"count": count})
    outcome = await run.start_fork(plan, RunContext.from_value("ctx"))
    assert outcome.answer == "3"
    assert calls == ["first", "second"]  # answered from the record: not called again
    finished = [e for e in forked if e.type == "tool_finished"]
    assert [e.recorded for e in finished] == [True, True]
    assert all(e.rebuild_differs is None for e in cell_outputs(forked))


async def test_a_fork_rebuilds_tool_calls_even_without_the_tools(openai_server):
    openai_server.responder = Scripted([repl("a = pick(2)"), repl("FINAL(a)")])
    run, seen = tool_run(openai_server, {"pick": lambda n: n * 10})
    await run.start("q", RunContext.from_value("ctx"))
    plan = plan_fork(seen, "1", transcript="parent.jsonl")
    openai_server.reset()
    openai_server.responder = Scripted([repl("FINAL(a + 1)")])
    settings = Settings(model="openai/root-model", api_base=openai_server.base_url)
    run = Run(settings, ModelClient(retry=FAST_RETRY), ev.EventBus())
    assert (await run.start_fork(plan, RunContext.from_value("ctx"))).answer == "21"


async def test_the_tool_node_is_kept_in_the_transcript_tree_and_its_exports(openai_server):
    openai_server.responder = Scripted([
        repl("issue = lookup_issue(7)\nprint(issue['title'])"),
        repl("FINAL(issue['title'])"),
    ])
    run, seen = tool_run(openai_server, {"lookup_issue": lookup_issue})
    await run.start("q", RunContext.from_value("ctx"))
    # Through JSON, as a transcript holds them.
    events = [ev.parse_event(e.model_dump_json()) for e in seen]
    tree = SessionModel.from_events(events)
    cell = tree.root.iterations[0].cells[0]
    assert [c.kind for c in cell.children] == ["tool"]
    document = tree.to_dict()["session"]["iterations"][0]["cells"][0]["tools"][0]
    assert document["name"] == "lookup_issue" and document["status"] == "done"
    assert json.loads(document["result"])["title"] == "issue 7"
    markdown = render_markdown(tree)
    assert "lookup_issue(7)" in markdown and '"title": "issue 7"' in markdown.replace(
        '":"', '": "')
    html = render_html(tree)
    assert "lookup_issue(7)" in html and "tool" in html


def test_tool_names_are_checked_in_one_line():
    for name in ("llm_query", "FINAL", "context", "context_0", "print", "_private", "2x",
                 "class"):
        with pytest.raises(UsageError) as caught:
            ToolSet.from_callables({name: len})
        assert "\n" not in str(caught.value)
    with pytest.raises(UsageError, match="not a callable"):
        ToolSet.from_callables({"value": 3})


async def test_results_that_are_not_json_data_are_an_error_for_the_cell(openai_server):
    openai_server.responder = Scripted([
        repl("for f in (a_set, nan, deep):\n    try:\n        f()\n"
             "    except RuntimeError as exc:\n        print(exc)"),
        repl("FINAL('ok')"),
    ])
    deep: list = []
    inner = deep
    for _ in range(200):
        inner.append([])
        inner = inner[0]
    run, seen = tool_run(openai_server, {"a_set": lambda: {1, 2}, "nan": lambda: float("nan"),
                                         "deep": lambda: deep})
    await run.start("q", RunContext.from_value("ctx"))
    lines = cell_outputs(seen)[0].stdout.splitlines()
    assert lines[0].startswith("a_set: it returned a set, which is not JSON data")
    assert lines[1] == "nan: its result holds nan, which JSON has not"
    assert lines[2] == "deep: its result nests deeper than 100 levels"


async def test_a_fork_rebuilds_a_cell_whose_tool_ran_out_of_time_as_it_was(openai_server):
    calls = []

    async def hangs() -> None:
        calls.append(1)
        await asyncio.sleep(30)

    openai_server.responder = Scripted([repl("kept = 5\nhangs()"), repl("FINAL(kept)")])
    run, seen = tool_run(openai_server, {"hangs": hangs}, cell_timeout=1.0)
    await run.start("q", RunContext.from_value("ctx"))
    plan = plan_fork(seen, "1", transcript="parent.jsonl")
    openai_server.reset()
    openai_server.responder = Scripted([repl("FINAL(kept * 2)")])
    run, forked = tool_run(openai_server, {"hangs": hangs}, cell_timeout=1.0)
    assert (await run.start_fork(plan, RunContext.from_value("ctx"))).answer == "10"
    assert calls == [1]  # answered from the record: the hanging tool was not called again
    (cell,) = [e for e in cell_outputs(forked) if e.node_id.endswith(".i1.c1")]
    assert cell.error_kind == "timeout" and cell.rebuild_differs is None
