"""The Reasoning pane shows where the root conversation was compacted (a compacted event):
a line before the iteration whose call came after the summary."""

from __future__ import annotations

from textual.widgets import Static

from rlm_tui import events as ev
from rlm_tui.tui.widgets.reasoning import RootReasoning
from tests.tui.conftest import loaded, make_app
from tests.tui.event_script import REPLY_1, REPLY_2, EventScript


def compaction(script: EventScript, node: str, count: int) -> None:
    script.emit(ev.Compacted, node, script.run, count=count, replaced=4, kept=2,
                first_iteration=1, last_iteration=2, tokens_before=4300, tokens_after=900,
                window=5000, summary="steps 1-2 done", model="openai/root-model",
                usage=ev.Usage.of_call(4300, 60, 0.001), latency_s=0.4)


async def feed(pilot, script: EventScript) -> None:
    pilot.app.feed(script.take())
    await pilot.app.flush_events()
    await pilot.pause()


async def test_the_reasoning_pane_marks_each_compaction_before_its_iteration(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        script.start()
        script.iteration(1, REPLY_1)
        script.iteration(2, REPLY_2)
        third = f"{script.run}.i3"
        script.emit(ev.IterationStarted, third, script.run, iteration=3,
                    max_iterations=script.max_iterations)
        compaction(script, third, 1)  # in the batch that builds its section
        await feed(pilot, script)
        fourth = f"{script.run}.i4"
        script.emit(ev.IterationStarted, fourth, script.run, iteration=4,
                    max_iterations=script.max_iterations)
        await feed(pilot, script)
        compaction(script, fourth, 2)  # after its section was shown
        await feed(pilot, script)
        reasoning = app.query_one(RootReasoning)
        lines = [w for w in reasoning.children if "compaction" in w.classes]
        assert len(lines) == 2
        texts = [str(line.render()) for line in lines]
        assert texts[0].startswith("⇵ compaction 1: iterations 1-2 (4 messages) replaced")
        assert "~4,300 → ~900 tokens of a 5,000-token window" in texts[0]
        assert "`history` in the REPL" in texts[0]
        children = list(reasoning.children)
        sections = reasoning.sections
        assert children.index(lines[0]) == children.index(sections[2]) - 1
        assert children.index(lines[1]) == children.index(sections[3]) - 1
        assert all(isinstance(line, Static) for line in lines)


async def test_the_replay_shows_the_compaction_where_it_happened(tmp_path):
    from rlm_tui.transcript import TranscriptWriter, read_transcript
    from rlm_tui.tui.replay_app import ReplayApp
    from tests.tui.test_replay import SIZE, opened, press

    script = EventScript()
    script.start()
    script.iteration(1, REPLY_1)
    script.iteration(2, REPLY_2)
    third = f"{script.run}.i3"
    script.emit(ev.IterationStarted, third, script.run, iteration=3,
                max_iterations=script.max_iterations)
    compaction(script, third, 1)
    script.emit(ev.RootDone, third, script.run, text="Going on.", model="openai/root-model",
                usage=ev.Usage.of_call(900, 10, 0.0001), latency_s=0.5)
    script.state("done")
    path = tmp_path / "compacted.jsonl"
    writer = TranscriptWriter(path, query="q", settings={}, context={})
    for event in script.take():
        writer(event)
    writer.close()
    app = ReplayApp(read_transcript(path))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await press(pilot, "G")
        reasoning = app.query_one(RootReasoning)
        lines = [w for w in reasoning.children if "compaction" in w.classes]
        assert len(lines) == 1 and "compaction 1: iterations 1-2" in str(lines[0].render())
        children = list(reasoning.children)
        assert children.index(lines[0]) == children.index(reasoning.sections[2]) - 1


async def test_the_call_tab_of_the_iteration_after_it_shows_the_summary(sample):
    from rlm_tui.tui.widgets.call_detail import CallDetail
    from rlm_tui.tui.widgets.subcall_tree import SubCallTree

    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        script = EventScript()
        script.start()
        script.iteration(1, REPLY_1)
        script.iteration(2, REPLY_2)
        third = f"{script.run}.i3"
        script.emit(ev.IterationStarted, third, script.run, iteration=3,
                    max_iterations=script.max_iterations)
        compaction(script, third, 1)
        script.emit(ev.RootDone, third, script.run, text="Going on.", model="m",
                    usage=ev.Usage.of_call(900, 10, 0.0001), latency_s=0.5)
        await feed(pilot, script)
        tree = app.query_one(SubCallTree)
        tree.focus()
        tree.move_cursor(tree._by_id[third])
        await pilot.pause()
        prompt = app.query_one(CallDetail).query_one("#call-prompt").text
        assert "compaction 1: iterations 1-2" in prompt and "steps 1-2 done" in prompt
        # Its roll-up holds the summary call too.
        node = tree.model.nodes[third]
        assert node.tally.usage.calls == 2
