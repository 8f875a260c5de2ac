"""The timeline (t): the run's iterations and sub-calls over time on a screen of their own,
drawn from the same layout as the HTML export's, following a live run's events and a replay
as it plays, and gone again with t."""

from __future__ import annotations

from rlm_tui.transcript import TranscriptWriter, parse_transcript, read_transcript
from rlm_tui.transcript.timeline import build_timeline
from rlm_tui.transcript.follow import TranscriptFollower
from rlm_tui.tui.commands import palette_commands
from rlm_tui.tui.replay_app import ReplayApp
from rlm_tui.tui.screens.timeline import REDRAW_S, TimelineScreen
from rlm_tui.tui.watch_app import WatchApp
from rlm_tui.tui.widgets.timeline_chart import GLYPHS, chart_lines
from tests.tui.conftest import make_app, wait_for
from tests.tui.event_script import REPLY_1, REPLY_2, EventScript
from tests.tui.snapshot_scenes import settled
from tests.tui.test_replay import _snapshot_transcript, opened, press, replay_app
from tests.unit.transcript.synthetic import synthetic_events, transcript_bytes

SIZE = (120, 40)


def batched_transcript(path, iterations=4, batch=5):
    events = synthetic_events(iterations, subcalls_per_cell=batch, parallel=True,
                              child_every=3, error_every=4)
    writer = TranscriptWriter(path, query="What does the code do?", settings={},
                              context={"files": 3, "chars": 1234})
    for event in events:
        writer(event)
    writer.close()
    return path


def picture(app) -> str:
    return str(app.screen.query_one("#timeline-picture").render())


def test_the_chart_puts_a_batch_side_by_side_in_lanes():
    events = synthetic_events(3, subcalls_per_cell=4, parallel=True)
    timeline = build_timeline(parse_transcript(transcript_bytes(events)).fold())
    lines = ["".join(text for text, _ in line) for line in chart_lines(timeline, 100)]
    assert all(len(line) <= 100 for line in lines)
    names = [line[:10].strip() for line in lines]
    assert names[2:5] == ["Iteration", "Root model", "Code"]
    lanes = lines[5:9]  # four sub-call rows: each call of a batch on its own
    assert names[5] == "Sub-calls" and all(GLYPHS["llm"] in lane for lane in lanes)
    assert lines[2].split()[1:] == ["1", "2", "3"]  # each iteration's number where it began
    kinds = {kind for line in chart_lines(timeline, 100) for _, kind in line}
    assert {"root", "cell", "llm", "axis", "name"} <= kinds


async def test_t_opens_the_timeline_of_a_replay_and_t_closes_it(tmp_path):
    app = ReplayApp(read_transcript(batched_transcript(tmp_path / "t.jsonl")))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await press(pilot, "G")
        assert "Timeline" in [c.title for c in palette_commands(app, app.screen)]
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), what="t")
        await pilot.pause(REDRAW_S)
        chart = app.screen.chart
        assert len(chart.timeline.iterations) == 4 and chart.timeline.lanes == 5
        shown = picture(app)
        assert "Sub-calls" in shown and GLYPHS["error"] in shown and GLYPHS["rlm"] in shown
        listing = str(app.screen.query_one("#timeline-list").render())
        last = listing.splitlines()[-1]  # iteration 4: began, took, tokens, cost, calls
        assert last.split()[0] == "4" and " in / " in last and "$" in last, last
        assert last.endswith("5 sub-calls")
        await pilot.press("t")
        await pilot.pause()
        assert not isinstance(app.screen, TimelineScreen)


async def test_the_timeline_follows_a_replay_as_it_plays(tmp_path):
    app = ReplayApp(read_transcript(batched_transcript(tmp_path / "t.jsonl")))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await press(pilot, "n")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), what="t")
        await pilot.pause(REDRAW_S)
        first = len(app.screen.chart.timeline.iterations)
        await press(pilot, "n", "n")  # the replay's keys still step it from here
        await wait_for(pilot, lambda: len(app.screen.chart.timeline.iterations) > first,
                       what="the chart to follow the replay")
        await press(pilot, "p")
        await wait_for(pilot, lambda: len(app.screen.chart.timeline.iterations) == first + 1,
                       what="the chart to go back with it")


async def test_the_timeline_of_a_live_session_draws_again_as_events_arrive(sample):
    app = make_app(str(sample))
    events = synthetic_events(3, subcalls_per_cell=3, parallel=True)
    half = next(n for n, e in enumerate(events) if type(e).__name__ == "IterationStarted"
                and getattr(e, "iteration", 0) == 2)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.session.calls.focus()  # from the query box, t is a letter of the question
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), what="t")
        assert "No iterations yet" in str(app.screen.query_one("#timeline-overall").render())
        app.feed(events[:half])
        await wait_for(pilot, lambda: app.screen.chart.timeline is not None
                       and len(app.screen.chart.timeline.iterations) == 1, what="iteration 1")
        app.feed(events[half:])
        await wait_for(pilot, lambda: len(app.screen.chart.timeline.iterations) == 3,
                       what="all three iterations")
        assert app.screen.chart.timeline.sub_calls == 9
        await pilot.press("r")  # asking goes back to the panes, to the query box
        await wait_for(pilot, lambda: not isinstance(app.screen, TimelineScreen)
                       and app.focused is app.session.query_bar.focus_target, what="r")


def test_the_timeline_of_a_replay_at_its_end(snap_compare, tmp_path):
    app = replay_app(_snapshot_transcript(tmp_path / "session.jsonl"))

    async def run_before(pilot) -> None:
        await opened(pilot)
        await press(pilot, "G")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TimelineScreen), what="t")
        await pilot.pause(REDRAW_S)
        await settled(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_the_timeline_follows_a_watched_transcript_as_it_grows(tmp_path):
    path = tmp_path / "live.jsonl"
    writer = TranscriptWriter(path, query="q", settings={}, context={})
    script = EventScript()
    script.start("How does the sandbox stop a runaway cell?")
    script.iteration(1, REPLY_1)
    for event in script.take():
        writer(event)
    app = WatchApp(TranscriptFollower.open(path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.summary.iteration == 1, 10, "iteration 1")
        app.session.calls.focus()
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen)
                       and app.screen.chart.timeline is not None, what="t")
        assert len(app.screen.chart.timeline.iterations) == 1
        i2 = script.iteration(2, REPLY_2)
        script.cell(i2, 1, 'notes = llm_query_batched(["a", "b"])', subcalls=2)
        for event in script.take():
            writer(event)
        await wait_for(pilot, lambda: app.screen.chart.timeline.sub_calls == 2, 10,
                       "the chart to show iteration 2's sub-calls")
        assert len(app.screen.chart.timeline.iterations) == 2
    writer.close()
