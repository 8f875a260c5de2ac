"""What each pane shows, from fixed event streams fed into the app and from live runs
against the local OpenAI-compatible server."""

from __future__ import annotations

import json

from pathlib import Path

from rlm_tui import events as ev
from rlm_tui.tui.widgets.call_detail import CallDetail
from rlm_tui.tui.widgets.cell_log import OUTPUT_CHARS, CellLog
from rlm_tui.tui.widgets.context_browser import ContextBrowser
from rlm_tui.tui.widgets.file_preview import FilePreview
from rlm_tui.tui.widgets.final_answer import FinalAnswer
from rlm_tui.tui.widgets.reasoning import RootReasoning
from rlm_tui.tui.widgets.status_bar import RunStatusBar
from rlm_tui.tui.widgets.subcall_tree import SubCallTree
from tests.integration.openai_server import Reply
from tests.integration.test_engine import Scripted, repl
from tests.tui.conftest import ended, loaded, make_app, wait_for
from tests.tui.event_script import ANSWER, REPLY_1, REPLY_2, T0, EventScript, mid_run


async def feed(pilot, script: EventScript) -> None:
    pilot.app.feed(script.take())
    await pilot.app.flush_events()
    await pilot.pause()


async def start_reply(pilot, text: str = "") -> tuple[EventScript, str]:
    """A run whose first iteration has streamed `text` so far, shown: its script and node."""
    script = EventScript()
    script.start()
    node = script.iteration(1, "", done=False)
    if text:
        script.emit(ev.RootDelta, node, script.run, text=text)
    await feed(pilot, script)
    return script, node


def label(tree, node) -> str:
    return tree.render_label(node, tree.rich_style, tree.rich_style).plain


# -- context browser -------------------------------------------------------------------------

async def test_the_context_tree_shows_sizes_tokens_and_skipped_files(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        tree = app.query_one("#context-tree")
        labels = {node.data.path: label(tree, node) for node in tree.root.children}
        assert labels["sandbox"].startswith("▶ sandbox/  2 files")
        assert "skipped: binary" in labels["logo.png"]
        assert "~" in labels["app.py"] and " B" in labels["app.py"]
        totals = str(app.query_one("#context-totals").render())
        assert "5 files" in totals and "1 skipped" in totals and "read 0%" in totals


async def test_a_directory_counts_the_files_skipped_beneath_it(sample):
    cache = Path(sample, "__pycache__")
    cache.mkdir()
    for name in ("app.cpython-311.pyc", "cli.cpython-311.pyc"):
        (cache / name).write_bytes(b"\xa7\r\r\n\x00\x00\x00\x00")
    Path(sample, "sandbox", "core").write_bytes(b"\x7fELF\x00\x00")
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        tree = app.query_one("#context-tree")
        labels = {node.data.path: label(tree, node) for node in tree.root.children}
        assert labels["__pycache__"] == "▶ __pycache__/  2 skipped"  # not "0 files · 0 B"
        assert labels["sandbox"].startswith("▶ sandbox/  2 files · ")
        assert labels["sandbox"].endswith(" · 1 skipped")


async def test_directories_open_on_demand_and_the_filter_narrows_the_tree(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        tree = app.query_one("#context-tree")
        sandbox = next(n for n in tree.root.children if n.data.path == "sandbox")
        assert not sandbox.children  # not built until opened
        sandbox.expand()
        await pilot.pause()
        assert [n.data.name for n in sandbox.children] == ["host.py", "limits.py"]
        tree.focus()
        await pilot.pause()
        await pilot.press("slash", *"limits")
        await pilot.pause(0.3)
        shown = [n.data.path for n in tree.root.children]
        assert shown == ["sandbox"]
        assert [n.data.path for n in tree.root.children[0].children] == ["sandbox/limits.py"]
        await pilot.press(*["backspace"] * 6)
        await pilot.pause(0.3)
        assert len(tree.root.children) == 5


async def test_slash_goes_to_the_filter_from_any_pane_but_types_in_a_query(sample):
    """`/` filters the files from every pane, the empty query box too; inside a query being
    typed, it is a `/`."""
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        query = app.query_one("#query-input")
        query.focus()
        await pilot.press(*"where", "slash")
        assert query.value == "where/" and app.focused is query
        app.query_one(FinalAnswer).focus()
        await pilot.press("slash", *"limits")
        await pilot.pause(0.3)
        assert app.focused is app.query_one("#context-filter")
        assert app.focused.value == "limits"
        # From a zoomed pane, the zoom ends: the filter must be in sight.
        app.query_one(FinalAnswer).focus()
        await pilot.press("z")
        assert app.screen.maximized is not None
        await pilot.press("slash")
        assert app.screen.maximized is None
        assert app.focused is app.query_one("#context-filter")


async def test_slash_right_after_launch_filters_rather_than_starting_a_query(sample):
    """The query box has the focus at start: `/`, "cost", enter must not run a query "/cost"."""
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        query = app.query_one("#query-input")
        assert app.focused is query and query.value == ""
        await pilot.press("slash", *"limits")
        assert app.focused is app.query_one("#context-filter")
        await pilot.press("enter")  # the filter's enter: on to the tree, not a run
        await pilot.pause()
        assert app.query_one("#context-filter").value == "limits"
        assert query.value == "" and app.live_run is None and app.summary.state == "idle"


async def test_coverage_shows_on_the_tree_and_as_a_total(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        script.start()
        size = app.workspace.pack.entry("sandbox/host.py").size
        script.coverage({"sandbox/host.py": (size, size // 2, size // 4)},
                        total_bytes=app.workspace.pack.total_bytes)
        await feed(pilot, script)
        tree = app.query_one("#context-tree")
        sandbox = next(n for n in tree.root.children if n.data.path == "sandbox")
        assert "50%" in label(tree, sandbox.children[0] if sandbox.children else sandbox) or \
            "%" in label(tree, sandbox)
        sandbox.expand()
        await pilot.pause()
        host = label(tree, sandbox.children[0])
        assert "▰▰▱▱ 50%" in host and "⇢25%" in host
        totals = str(app.query_one("#context-totals").render())
        assert "read " in totals and "% of " in totals and "sent " in totals


async def test_the_highlighted_file_is_previewed_with_highlighting(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        tree = app.query_one("#context-tree")
        tree.focus()
        app_py = next(n for n in tree.root.children if n.data.path == "app.py")
        tree.move_cursor(app_py)
        preview = app.query_one(FilePreview)
        await wait_for(pilot, lambda: preview.border_title == "Preview · app.py",
                       what="the preview")
        text = app.query_one("#preview-text").render()
        assert "hello from the sample app" in str(text)
        assert any(span.style for span in text.spans)  # highlighted, not plain


# -- reasoning, cells, calls, answer -----------------------------------------------------------

async def test_reasoning_streams_one_section_per_iteration(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        script.start()
        script.iteration(1, REPLY_1)
        node = script.iteration(2, REPLY_2, done=False)
        await feed(pilot, script)
        reasoning = app.query_one(RootReasoning)
        first, second = reasoning.sections
        assert first.collapsed and not second.collapsed  # the live one is open
        assert first.text == REPLY_1 and second.text == REPLY_2
        assert "streaming" in second.title
        script.emit(ev.RootDelta, node, script.run, text="", restart=True)
        script.emit(ev.RootDelta, node, script.run, text="Retried reply.")
        await feed(pilot, script)
        assert second.text == "Retried reply."  # restart dropped what was shown
        script.emit(ev.RootDone, node, script.run, text="Retried reply.", model="m",
                    usage=ev.Usage.of_call(1000, 10, 0.0), latency_s=2.0, attempts=2)
        await feed(pilot, script)
        assert second.title == "Iteration 2 — 1.0k → 10 tokens · 2.0s · 2 attempts"


async def test_cells_show_output_errors_and_when_output_was_cut(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        script.start()
        i1 = script.iteration(1, REPLY_1)
        script.cell(i1, 1, "print('x' * 10_000_000)", stdout="x" * 1_000_000,
                    total_chars=10_000_000)
        script.cell(i1, 2, "undefined_name", error="name 'undefined_name' is not defined")
        await feed(pilot, script)
        big, failed = app.query_one(CellLog).cells
        out = str(big.query_one(".cell-output").render())
        assert "output cut: printed 10,000,000 characters, 1,000,000 kept" in out
        assert len(out) < OUTPUT_CHARS + 500  # the pane shows a head, not a megabyte
        assert "✓ iteration 1 · cell 1 · 0.8s" in str(big.query_one(".cell-header").render())
        assert "NameError: name 'undefined_name'" in str(
            failed.query_one(".cell-output").render())
        assert failed.query_one(".cell-header").has_class("-error")


async def test_the_call_tree_rolls_up_usage_and_totals_equal_the_sum(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        mid_run(script)
        events = script.events[:]
        await feed(pilot, script)
        tree = app.query_one(SubCallTree)
        calls = [e for e in events if isinstance(e, (ev.RootDone, ev.SubcallFinished))]
        total = sum((e.usage for e in calls), ev.Usage())
        assert tree.model.totals.usage == total
        assert tree.model.totals.calls_running == 1 and tree.model.totals.calls_done == 4
        assert "4 done · 1 running" in tree.border_title
        iteration2 = tree.model.nodes["run0001.i2"]
        assert iteration2.rollup.calls == 3 and iteration2.running_below == 1
        cell = tree.model.nodes["run0001.i2.c1"]
        assert cell.rollup.total_tokens == 2 * 340
        status = app.query_one(RunStatusBar)
        assert status.usage == total and status.iteration == 2 and status.max_iterations == 6


async def test_a_halt_stops_the_calls_and_cells_still_in_flight(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        mid_run(script)  # cell 1 of iteration 2 runs, its third sub-call in flight
        script.finish(None, status="halted", reason="halted by the user")
        await feed(pilot, script)
        tree = app.query_one(SubCallTree)
        assert tree.model.totals.calls_running == 0 and "running" not in tree.border_title
        q3 = tree.model.nodes["run0001.i2.c1.q3"]
        assert q3.status == "stopped" and q3.stopped_by == "halted by the user"
        assert label(tree, tree._by_id[q3.node_id]).startswith("■ llm q3")
        assert tree.model.nodes["run0001.i2"].running_below == 0
        assert tree.model.nodes["run0001.i2.c1.q2"].status == "done"  # finished ones stay
        tree.focus()
        tree.move_cursor(tree._by_id[q3.node_id])
        await pilot.pause()
        header = str(app.query_one(CallDetail).query_one("#call-header").render())
        assert "stopped" in header and "halted by the user" in header
        cells = app.query_one(CellLog)
        done, stopped = cells.cells
        assert "■ iteration 2 · cell 1 · stopped" in str(
            stopped.query_one(".cell-header").render())
        assert "halted by the user" in str(stopped.query_one(".cell-output").render())
        assert done.query_one(".cell-header").has_class("-done")
        assert cells.border_title == "Code and output · 2 cells"
        # Every export of the halted session says what the panes say: nothing still runs.
        shown = {n.node_id: n.status for n in tree.model.nodes.values()}
        for suffix in (".json", ".md", ".html", ".rlm.jsonl", ".jsonl"):
            target = sample_dir_for_exports(app) / f"halted{suffix}"
            app.export_to(target)
            text = target.read_text()
            if suffix == ".json":
                exported = statuses_in(json.loads(text)["session"])
                assert exported == {k: v for k, v in shown.items() if k in exported}
                assert set(exported) == set(shown)
            elif suffix == ".html":
                assert ">running<" not in text and ">stopped<" in text
            elif suffix != ".jsonl":
                assert "running" not in text.lower(), suffix


async def test_one_cell_is_counted_as_one_cell(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        script.start()
        script.cell(script.iteration(1, REPLY_1), 1, "print(1)", stdout="1\n")
        await feed(pilot, script)
        assert app.query_one(CellLog).border_title == "Code and output · 1 cell"


async def test_retries_and_failures_show_on_the_call(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        script.start()
        i1 = script.iteration(1, REPLY_2)
        c1 = script.cell(i1, 1, "llm_query('x')", finished=False)
        q1 = script.subcall(c1, 1, finished=False)
        script.emit(ev.SubcallRetry, q1, c1, attempt=1, reason="rate_limited", wait_s=1.0)
        q2 = script.subcall(c1, 2, error="quota: out of credit")
        await feed(pilot, script)
        tree = app.query_one(SubCallTree)
        assert "↻1" in label(tree, tree._by_id[q1])
        failed = label(tree, tree._by_id[q2])
        assert failed.startswith("✗") and tree.model.totals.errors == 1
        tree.focus()
        tree.move_cursor(tree._by_id[q2])
        await pilot.pause()
        detail = app.query_one(CallDetail)
        assert detail.call.node_id == q2
        assert "quota: out of credit" in str(detail.query_one("#call-header").render())
        assert app.query_one("#inspector").active == "call-tab"


async def test_choosing_a_call_shows_its_prompt_and_response(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        mid_run(script)
        await feed(pilot, script)
        tree = app.query_one(SubCallTree)
        tree.focus()
        tree.move_cursor(tree._by_id["run0001.i2.c1.q2"])
        await pilot.pause()
        detail = app.query_one(CallDetail)
        assert "Excerpt 2" in detail.query_one("#call-prompt").text
        assert detail.query_one("#call-response").text == "the cell timeout (excerpt 2)"


async def test_the_answer_pane_says_forced_halted_or_failed(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        answer = app.query_one(FinalAnswer)
        for status, forced, reason, expected in [
            ("answered", True, None, "Answer (forced: the iteration limit was reached)"),
            ("halted", False, "cost budget reached ($1.2 of $1)",
             "Halted: cost budget reached ($1.2 of $1)"),
            ("failed", False, "openai/x: no API key", "Failed: openai/x: no API key"),
        ]:
            await app.session.reset_views()
            script = EventScript()
            script.start()
            script.finish(ANSWER if status == "answered" else None, status=status,
                          forced=forced, reason=reason)
            await feed(pilot, script)
            assert answer.status_line == expected


async def test_the_status_bar_shows_state_iteration_tokens_and_cost_against_the_budget(
        sample):
    app = make_app(sample, max_cost=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        mid_run(script)
        await feed(pilot, script)
        text = str(app.query_one(RunStatusBar).render())
        assert text.startswith(" RUNNING  iteration 2/6 · ")
        assert "3.6k tokens · $0.0030 / $1.00 · 2 sub-calls" in text


async def test_the_status_bar_clock_stands_still_while_the_run_is_paused(sample):
    now = T0
    app = make_app(sample, clock=lambda: now)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        status = app.query_one(RunStatusBar)
        script = EventScript(step=0.0)

        async def elapsed_at(seconds: float, *states: str) -> int:
            """The bar's elapsed time with the clock at T0 + `seconds`, after the run says
            it is in `states` (in order) then."""
            nonlocal now
            now = script.ts = T0 + seconds
            for state in states:
                script.state(state)
            await feed(pilot, script)
            app.show_status()  # what the bar's once-a-second timer does
            return status.elapsed

        script.start()  # started and running at T0
        assert await elapsed_at(1) == 1
        assert await elapsed_at(1, "paused") == 1
        assert await elapsed_at(25) == 1  # 24 s paused: not counted
        assert await elapsed_at(25, "running") == 1
        assert await elapsed_at(28) == 4
        assert await elapsed_at(30, "stepping") == 6  # a step runs: counted
        assert await elapsed_at(31, "paused") == 7
        script.ts = T0 + 50
        script.finish(None, status="halted", reason="halted by the user")  # while paused
        assert await elapsed_at(90) == 7
        await pilot.pause()
        assert " 00:07 · " in str(status.render())


# -- live runs against the local server ------------------------------------------------------

def live_app(server, sample, **settings):
    return make_app(sample, model="openai/root-model", sub_model="openai/sub-model",
                    api_base=server.base_url, max_retries=0, **settings)


async def test_a_live_run_shows_usage_that_equals_the_servers(openai_server, sample):
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    sub_usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    openai_server.responder = Scripted(
        [Reply(text=repl("r = llm_query_batched(['a', 'b', 'c'])\nprint(r)"), usage=usage),
         Reply(text=repl("FINAL('done')"), usage=usage)],
        sub=lambda p: Reply(text="sub", usage=sub_usage))
    app = live_app(openai_server, sample, query="q")
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        tree = app.query_one(SubCallTree)
        assert tree.model.totals.usage.prompt_tokens == 11 * 2 + 3 * 3
        assert tree.model.totals.usage.completion_tokens == 7 * 2 + 2 * 3
        assert tree.model.totals.usage == app.live_run.run.ledger.usage
        assert app.summary.usage == tree.model.totals.usage
        assert app.query_one(FinalAnswer).answer == "done"


async def test_a_server_without_usage_and_a_model_that_never_stops_show_as_such(
        openai_server, sample):
    # What a small local model on llama.cpp does: no usage when streaming, replies to the cap.
    openai_server.responder = lambda body: Reply(text="You are a recursive language model",
                                                 ramble=True, send_usage=False)
    app = live_app(openai_server, sample, query="q", max_iterations=1, max_output_tokens=30)
    async with app.run_test(size=(160, 40)) as pilot:
        await ended(pilot)
        await pilot.pause()
        tree = app.query_one(SubCallTree)
        first = tree._by_id[f"{app.summary.root_session}.i1"]
        assert "✂ cut" in label(tree, first) and "~" in label(tree, first)
        assert app.summary.state == "halted" and app.query_one(FinalAnswer).answer is None
        bar = str(app.query_one(RunStatusBar).render())
        assert "~" in bar and "tokens" in bar and "cost unknown" in bar
        assert app.summary.usage.total_tokens > 0 and not app.summary.usage.reported


async def test_a_child_session_rolls_up_under_its_sub_call(openai_server, sample):
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    openai_server.responder = Scripted(
        [Reply(text=repl("a = rlm_query('inner question')\nprint(a)"), usage=usage),
         Reply(text=repl("FINAL('child says hi')"), usage=usage),  # the child's turn
         Reply(text=repl("FINAL(a)"), usage=usage)])
    app = live_app(openai_server, sample, query="q", max_depth=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        tree = app.query_one(SubCallTree)
        child = tree.model.nodes[f"{app.summary.root_session}.i1.c1.q1"]
        assert child.kind == "rlm" and child.usage.calls == 0
        assert child.rollup.calls == 1 and child.rollup.total_tokens == 15
        assert [c.kind for c in child.children] == ["iteration"]
        assert tree.model.totals.usage.calls == 3 and app.query_one(FinalAnswer).answer == \
            "child says hi"


async def test_a_model_failure_mid_run_shows_as_failed(openai_server, sample):
    openai_server.responder = Scripted([Reply.error(401, "bad key", type="auth_error")])
    app = live_app(openai_server, sample, query="q")
    async with app.run_test(size=(120, 40)) as pilot:
        await ended(pilot)
        assert app.summary.state == "failed"
        assert app.query_one(FinalAnswer).status_line.startswith("Failed: ")
        assert app.query_one(RootReasoning).sections[0].title.endswith("failed")


async def test_x_halts_a_call_in_flight(openai_server, sample):
    openai_server.responder = Scripted([Reply(text="thinking " * 50, chunks=50,
                                              stall_after=2)])
    app = live_app(openai_server, sample, query="q")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: any(s.text for s in
                                          app.query_one(RootReasoning).sections),
                       what="the stream to start")
        app.query_one("#calls").focus()
        await pilot.press("x")
        await ended(pilot, timeout=10)
        assert app.summary.state == "halted"
        assert app.live_run.run.control.halt_reason == "halted by the user"


async def test_on_a_narrow_terminal_the_three_columns_share_the_width(sample):
    # At 100 columns (80 is the small layout: test_small_layout.py) the context column kept
    # its 38 and left the others about 30 each.
    app = make_app(sample)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        widths = [app.query_one(f"#{pane}").outer_size.width
                  for pane in ("context", "reasoning", "calls")]
        assert max(widths) - min(widths) <= 1 and sum(widths) == 100
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert app.query_one("#context").outer_size.width == 38
        assert app.query_one("#reasoning").outer_size.width == 61


def sample_dir_for_exports(app) -> Path:
    """A directory beside the context (not in it) for the files a test exports."""
    target = Path(app.source).parent / "exports"
    target.mkdir(exist_ok=True)
    return target


def statuses_in(document: dict) -> dict[str, str]:
    """node id -> status of every node of an exported JSON session, at every depth."""
    found: dict[str, str] = {}
    stack = [document]
    while stack:
        node = stack.pop()
        found[node.get("node_id") or node["session_id"]] = node["status"]
        stack += node.get("iterations", []) + node.get("cells", []) + node.get("subcalls", [])
        if node.get("child"):
            stack.append(node["child"])
    return found
