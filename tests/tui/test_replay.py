"""`rlm-tui replay FILE`: a saved session stepped through in the app, through the same relay
and panes as a live run, so it shows what the live run showed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlm_tui.transcript import TranscriptWriter, read_transcript
from rlm_tui.tui.file_index import FileIndex
from rlm_tui.tui.replay_app import ReplayApp
from rlm_tui.tui.screens.export import ExportScreen
from rlm_tui.tui.widgets.cell_log import MAX_CELLS, CellLog
from rlm_tui.tui.widgets.final_answer import FinalAnswer
from rlm_tui.tui.widgets.reasoning import MAX_SECTIONS, RootReasoning
from rlm_tui.tui.widgets.status_bar import RunStatusBar
from rlm_tui.tui.widgets.subcall_tree import SubCallTree
from tests.tui.conftest import SAMPLE_FILES, ended, make_app, wait_for
from tests.tui.event_script import ANSWER, REPLY_1, REPLY_2, REPLY_3, EventScript

QUERY = "How does the sandbox stop a runaway cell?"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "rlms_logs"
SIZE = (120, 40)


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLM_TUI_")}
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        env[name] = str(home / name.lower())
    return env


def rlm_tui(*argv: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rlm_tui", *argv], cwd=cwd, text=True,
                          capture_output=True, env=_clean_env(cwd), timeout=timeout)


@pytest.fixture(scope="module")
def demo_transcript(tmp_path_factory) -> Path:
    """A transcript written by `rlm-tui run --model demo` over a small context."""
    home = tmp_path_factory.mktemp("demo")
    for path, text in SAMPLE_FILES.items():
        (home / "sample" / path).parent.mkdir(parents=True, exist_ok=True)
        (home / "sample" / path).write_text(text)
    done = rlm_tui("run", "sample", "--model", "demo", "-q", QUERY, "--transcript",
                   "demo.jsonl", cwd=home)
    assert done.returncode == 0, done.stderr
    return home / "demo.jsonl"


def replay_app(path: Path) -> ReplayApp:
    return ReplayApp(read_transcript(path))


async def opened(pilot) -> None:
    """Until the replay shows its first stop (the session started, no iteration yet)."""
    app = pilot.app
    await wait_for(pilot, lambda: app.cursor.position >= app.cursor.first_stop,
                   what="the replay to open")


async def press(pilot, *keys: str) -> None:
    """Press keys one by one, each to its end (a move feeds and repaints the panes)."""
    for key in keys:
        await pilot.press(key)
        await wait_for(pilot, lambda: not pilot.app._seek_lock.locked(), what=key)


def shown(app) -> dict:
    """What the panes show, as data: the same for a live run and its replay."""
    tree = app.query_one(SubCallTree).model
    answer = app.query_one(FinalAnswer)
    summary = app.summary
    return {
        "calls": [(c.node_id, c.title, c.status, c.rollup, c.to_dict())
                  for c in tree.nodes.values() if c.kind != "session"],
        "call totals": (tree.totals.usage, tree.totals.calls_done, tree.totals.errors,
                        app.query_one(SubCallTree).border_title),
        "answer": (answer.answer, answer.status_line),
        "cells": [(c.title, c.code, c.finished) for c in app.query_one(CellLog).cells],
        "reasoning": [(s.title, s.text, s.collapsed)
                      for s in app.query_one(RootReasoning).sections],
        "summary": (summary.state, summary.iteration, summary.usage, summary.sub_calls,
                    summary.answer, summary.status, summary.root_model, summary.query),
        "coverage": app.session.context_browser._coverage_totals,
    }


# -- the same as live --------------------------------------------------------------------------

async def test_a_replay_shows_what_the_live_run_showed(sample):
    live = make_app(sample, query=QUERY)
    async with live.run_test(size=SIZE) as pilot:
        await ended(pilot)
        seen_live = shown(live)
        path = live.live_run.transcript_path
    assert seen_live["answer"][0] and seen_live["cells"]
    app = replay_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await press(pilot, "G")
        assert app.cursor.at_end
        assert shown(app) == seen_live
        status = app.query_one(RunStatusBar)
        assert status.replay is not None and status.replay.event == len(app.cursor.events)


async def test_the_context_pane_lists_the_headers_files_with_their_coverage(demo_transcript):
    app = replay_app(demo_transcript)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        index = app.session.context_browser.index
        assert index is not None and index.file_count == len(SAMPLE_FILES)
        totals = str(app.query_one("#context-totals").render())
        assert "5 files" in totals and "read 0% so far" in totals
        assert "files listed, no contents" in totals
        assert "not kept" in str(app.query_one("#preview-text").render())
        await press(pilot, "G")
        totals = str(app.query_one("#context-totals").render())
        assert "read " in totals and "read 0%" not in totals  # coverage from the events


def test_a_replayed_directory_counts_the_skipped_files_the_summary_names():
    meta = {
        "files": 9, "bytes": 900,
        "largest_files": [{"path": "src/a.py", "chars": 500, "lines": 10}],
        "skipped": {"binary": {"count": 42, "examples": ["build/x.o", "build/y.o"]}},
    }
    index = FileIndex.from_summary(meta, "repo")
    assert index is not None
    assert index.by_path["build"].skipped_files == 2  # of the 42: a few are named
    assert (index.skipped_listed, index.skipped_count) == (2, 42)


async def test_slash_goes_to_the_filter_in_a_replay(demo_transcript):
    app = replay_app(demo_transcript)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        app.query_one(FinalAnswer).focus()
        await pilot.press("slash", *"app")
        assert app.focused is app.query_one("#context-filter")
        assert app.focused.value == "app"


# -- keys --------------------------------------------------------------------------------------

async def test_n_advances_exactly_one_iteration(demo_transcript):
    app = replay_app(demo_transcript)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        root = app.summary.root_session
        assert app.summary.iteration == 0 and not app.query_one(CellLog).cells
        for i in (1, 2):
            await press(pilot, "n")
            assert app.cursor.iteration == app.summary.iteration == i
            assert len(app.query_one(RootReasoning).sections) == i
            assert [c.title for c in app.query_one(SubCallTree).model.root.iterations] == [
                f"iteration {k}" for k in range(1, i + 1)]
            assert all(c.node_id.startswith(tuple(f"{root}.i{k}." for k in range(1, i + 1)))
                       for c in app.query_one(CellLog).cells)
            # stopped where the next iteration begins, not inside it
            assert app.cursor.events[app.cursor.position].type == "iteration_started"
        assert not app.playing


async def test_p_goes_back_one_iteration_to_what_n_showed(demo_transcript):
    app = replay_app(demo_transcript)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await press(pilot, "n", "n")
        after_two = shown(app)
        await press(pilot, "n")
        assert app.cursor.iteration == 3
        await press(pilot, "p")
        assert app.cursor.iteration == app.summary.iteration == 2
        assert shown(app) == after_two
        await press(pilot, "p", "p")
        assert app.cursor.position == app.cursor.first_stop
        assert app.check_action("previous_iteration", ()) is None  # shown disabled


async def test_space_plays_to_the_end(demo_transcript):
    app = replay_app(demo_transcript)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("space")  # the demo session plays in ~0.2 s at 4x
        await wait_for(pilot, lambda: app.cursor.at_end and not app.playing, timeout=10,
                       what="the end")
        answer = app.query_one(FinalAnswer)
        assert answer.answer and "demo model" in answer.answer
        assert app.summary.state == "done" and app.summary.iteration == app.cursor.iterations
        assert app.check_action("step", ()) is None  # nothing after the end


async def test_playback_pauses_where_it_is_and_changes_speed(demo_transcript):
    app = replay_app(demo_transcript)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await press(pilot, "minus", "minus", "minus")
        assert app.speed == 0.5 and app.check_action("slower", ()) is None
        # Actions and plain sleeps, not keys and pilot pauses: the pilot waits for a quiet
        # screen, which a screen playing is not until the end.
        await app.run_action("toggle_pause")
        deadline = time.monotonic() + 5
        while app.cursor.position <= app.cursor.first_stop and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await app.run_action("toggle_pause")
        assert not app.playing
        paused_at = app.cursor.position
        await asyncio.sleep(0.2)
        assert app.cursor.first_stop < app.cursor.position == paused_at < app.cursor.total
        await press(pilot, *["plus"] * 8)
        assert app.speed == 64 and app.check_action("faster", ()) is None


async def test_run_and_halt_do_not_apply_and_export_writes_the_transcript(demo_transcript,
                                                                          tmp_path):
    app = replay_app(demo_transcript)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        assert app.check_action("halt", ()) is False  # hidden, not just disabled
        assert app.check_action("new_query", ()) is False
        assert app.query_one("#query-input").disabled
        keys = {b.binding.key for b in app.screen.active_bindings.values()}
        assert "x" not in keys and "r" not in keys and "p" in keys
        await pilot.press("x", "r")
        assert app.summary.state == "running" and getattr(app, "live_run", None) is None
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        await pilot.press(*str(tmp_path / "again.jsonl"), "enter")
        await wait_for(pilot, (tmp_path / "again.jsonl").exists, what="the export")
        await app.workers.wait_for_complete()
    again = read_transcript(tmp_path / "again.jsonl")
    original = read_transcript(demo_transcript)
    assert again.events == original.events and again.header["query"] == QUERY


# -- cut files, rlms logs, long sessions -----------------------------------------------------

async def test_a_cut_transcript_replays_what_it_holds_and_says_where_it_stops(
        demo_transcript, tmp_path):
    data = demo_transcript.read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[: data.index(b'"type":"cell_finished"') + 10])  # inside a line
    transcript = read_transcript(cut)
    assert transcript.stop is not None
    app = ReplayApp(transcript)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        messages = [str(n.message) for n in app._notifications]
        assert transcript.stop.describe() in messages
        await press(pilot, "G")
        assert app.cursor.position == len(transcript.events)
        assert app.query_one(RunStatusBar).replay.cut
        assert app.summary.state == "running"  # what the file holds: the run had not ended
        assert app.query_one(CellLog).cells[-1].finished is None


@pytest.mark.parametrize("log", ["v013_answer_dict.jsonl", "v013_rlm_query.jsonl"])
async def test_an_rlms_log_replays_to_its_answer(log):
    transcript = read_transcript(FIXTURES / log)
    expected = transcript.fold()
    app = ReplayApp(transcript)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        assert "rlms log records no file list" in str(app.query_one("#context-totals").render())
        await press(pilot, "G")
        assert app.query_one(FinalAnswer).answer == expected.root.answer
        assert app.summary.iteration == len(expected.root.iterations)
        assert app.query_one(SubCallTree).model.totals.usage.calls == expected.totals.usage.calls


async def test_going_back_in_a_1000_iteration_session_refeeds_it_in_one_batch(tmp_path):
    script = EventScript(max_iterations=1005, step=0.01)
    script.start()
    for i in range(1, 1001):
        node = script.iteration(i, REPLY_2, chunks=8)
        script.cell(node, 1, "print(notes)", subcalls=1, stdout="notes\n")
    script.finish(ANSWER)
    path = tmp_path / "long.jsonl"
    writer = TranscriptWriter(path, query=QUERY, settings={}, context={})
    for event in script.take():
        writer(event)
    writer.close()
    app = replay_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await press(pilot, "G")
        started = time.perf_counter()
        await press(pilot, "p")
        took = time.perf_counter() - started
        assert app.summary.iteration == 999 and app.query_one(FinalAnswer).answer is None
        assert len(app.query_one(SubCallTree).model.root.iterations) == 999
        assert len(app.query_one(RootReasoning).sections) == MAX_SECTIONS
        assert len(app.query_one(CellLog).cells) == MAX_CELLS
        earlier = str(app.query_one("#reasoning .earlier").render())
        assert f"{999 - MAX_SECTIONS} earlier iterations" in earlier
        assert took < 10, f"going back took {took:.1f} s"  # ~1.5 s here


# -- the command line ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, content, message", [
    ("missing.jsonl", None, "no such file"),
    ("notes.txt", "just some notes\n", "is not a transcript"),
    ("other.jsonl", '{"type": "something", "x": 1}\n', "is not an rlm-tui transcript"),
])
def test_bad_files_exit_2_with_one_line_before_the_app_opens(tmp_path, name, content,
                                                             message):
    if content is not None:
        (tmp_path / name).write_text(content)
    done = rlm_tui("replay", name, cwd=tmp_path, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlm-tui: ") and message in lines[0]
    assert not done.stdout  # the app never drew a screen


# -- snapshot ------------------------------------------------------------------------------------

def _snapshot_transcript(path: Path) -> Path:
    script = EventScript()
    script.start(QUERY)
    i1 = script.iteration(1, REPLY_1)
    script.cell(i1, 1, "print(len(context), list(context)[:5])",
                stdout="5 ['README.md', 'app.py', 'sandbox/host.py', ...]\n")
    i2 = script.iteration(2, REPLY_2, tokens=(1500, 120))
    script.cell(i2, 1, 'notes = llm_query_batched(["a", "b"])\nprint(notes)', subcalls=2,
                stdout="['the cell timeout (excerpt 1)', 'the cell timeout (excerpt 2)']\n")
    script.coverage({"sandbox/host.py": (400, 300, 120)}, total_bytes=1200)
    i3 = script.iteration(3, REPLY_3, tokens=(1800, 60))
    script.cell(i3, 1, 'FINAL("...")', final_answer=ANSWER)
    script.finish(ANSWER)
    context = {
        "source": "sample", "kind": "files", "name": "sample", "files": 5, "chars": 1200,
        "bytes": 1200, "lines": 40,
        "largest_files": [{"path": "sandbox/host.py", "chars": 400, "lines": 12},
                          {"path": "app.py", "chars": 300, "lines": 6},
                          {"path": "README.md", "chars": 200, "lines": 3}],
        "skipped": {"binary": {"count": 1, "examples": ["logo.png"]}},
    }
    writer = TranscriptWriter(path, query=QUERY, settings={"model": "openai/root-model",
                                                           "max_cost": 0.5},
                              context=context)
    for event in script.take():
        writer(event)
    writer.close()
    return path


def test_the_replay_screen(snap_compare, tmp_path):
    app = replay_app(_snapshot_transcript(tmp_path / "session.jsonl"))

    async def run_before(pilot) -> None:
        await opened(pilot)
        await press(pilot, "n", "n")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_replay_is_a_command_of_its_own():
    from rlm_tui import cli
    from rlm_tui.cli import views

    assert cli.build_parser().parse_args(["replay", "x.jsonl"]).handler is \
        views.run_replay_command


async def test_a_replay_of_a_transcript_cut_mid_reply_ends_with_the_reply_as_it_stood(
        demo_transcript, tmp_path):
    """The file ends while a reply streamed (its process killed): at the end of the replay the
    reply keeps no blank lines for text that will not come."""
    lines = demo_transcript.read_text().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if '"type":"iteration_started"' in
               line.replace(" ", ""))
    delta = next(i for i in range(last, len(lines)) if '"type":"root_delta"' in
                 lines[i].replace(" ", ""))
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:delta + 1]))
    app = replay_app(cut)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await press(pilot, "G")
        await pilot.pause()
        assert app.cursor.at_end
        section = app.query_one(RootReasoning).sections[-1]
        assert not section.streaming
        reply = section.reply
        assert reply.text_lines and reply.size.height == len(reply.text_lines)
