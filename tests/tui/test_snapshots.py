"""Snapshots of the main screen at 120x40, from fixed events (no live model, a fixed clock,
a context dir named `sample`): mid-run, paused, answered, failed.
Update with `pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate change."""

from __future__ import annotations

from rlm_tui import events as ev
from tests.tui.conftest import loaded, make_app
from tests.tui.event_script import ANSWER, REPLY_1, REPLY_2, REPLY_3, EventScript, mid_run

SIZE = (120, 40)


def showing(build):
    """A `run_before` that feeds the events `build` writes, then settles the screen."""

    async def run_before(pilot) -> None:
        await loaded(pilot)
        script = EventScript()
        build(script)
        pilot.app.feed(script.take())
        await pilot.app.flush_events()
        pilot.app.query_one("#calls").focus()
        await pilot.pause(0.2)
        await pilot.app.flush_events()
        await pilot.pause()

    return run_before


def paused(script: EventScript) -> None:
    script.start()
    i1 = script.iteration(1, REPLY_1)
    script.cell(i1, 1, "print(len(context), list(context)[:5])",
                stdout="5 ['README.md', 'app.py', 'sandbox/host.py', ...]\n")
    i2 = script.iteration(2, REPLY_2, tokens=(1500, 120))
    script.cell(i2, 1, 'notes = llm_query_batched(["a", "b"])\nprint(notes)', subcalls=2,
                stdout="['the cell timeout (excerpt 1)', 'the cell timeout (excerpt 2)']\n")
    script.state("paused", "stepped one iteration")


def answered(script: EventScript) -> None:
    paused(script)
    script.state("running")
    i3 = script.iteration(3, REPLY_3, tokens=(1800, 60))
    script.cell(i3, 1, 'FINAL("...")', final_answer=ANSWER)
    script.coverage({"sandbox/host.py": (400, 400, 200)}, total_bytes=900)
    script.finish(ANSWER)


def failed(script: EventScript) -> None:
    script.start()
    node = f"{script.run}.i1"
    script.emit(ev.IterationStarted, node, script.run, iteration=1, max_iterations=6)
    reason = ("openai/root-model: authentication failed (401): check the API key "
              "for this provider")
    script.emit(ev.RootDone, node, script.run, text="", model="openai/root-model",
                usage=ev.Usage(), latency_s=0.0, error=reason)
    script.finish(None, status="failed", reason=reason)


def test_mid_run(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=showing(mid_run))


def test_paused(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=showing(paused))


def test_with_a_final_answer(snap_compare, sample):
    assert snap_compare(make_app(sample, max_cost=0.5), terminal_size=SIZE,
                        run_before=showing(answered))


def test_with_an_error(snap_compare, sample):
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=showing(failed))
