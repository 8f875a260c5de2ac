"""What the snapshot tests show: fixed sessions (event scripts) and the `run_before` steps that
bring the app to a screen, each leaving nothing on it that changes from run to run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from textual.command import CommandList
from textual.widgets import Input, TextArea

from rlm_tui import events as ev
from tests.tui.conftest import loaded, wait_for
from tests.tui.event_script import ANSWER, REPLY_1, REPLY_2, REPLY_3, EventScript, mid_run

SIZE = (120, 40)
NARROW = (80, 24)


# -- sessions ----------------------------------------------------------------------------------

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


def halted(script: EventScript) -> None:
    """Halted mid-run: a cell and one of its sub-calls were still in flight."""
    mid_run(script)
    script.finish(None, status="halted", reason="halted by the user")


HELD_CODE = ('answer = "A per-cell timeout: the host kills the worker after "\n'
             '         "`cell_timeout` seconds."\nFINAL(answer)')
NOTE = "the tests in tests/security say more about the timeout"
FOLLOW_UP = "And what restarts the worker afterwards?"
REPLY_4 = """The worker restart is in the host. Let me check.

```repl
print(context.grep("restart")[:2])
FINAL("The host starts a fresh worker after a timeout: variables are lost.")
```"""
ANSWER_2 = "The host starts a **fresh worker** after a timeout: the REPL's variables are lost."


def held_final(script: EventScript) -> None:
    """Two iterations done; the third's cell calls FINAL and is held (--approve final),
    with a note queued for the model's next call."""
    paused(script)
    script.state("running")
    i3 = script.iteration(3, REPLY_3, tokens=(1800, 60))
    script.hold(script.cell(i3, 1, HELD_CODE, finished=False))
    script.note(NOTE)


def second_turn(script: EventScript) -> None:
    """Answered, then a follow-up question (turn 2) with a note the model read first."""
    answered(script)
    script.note(NOTE)
    script.turn(2, FOLLOW_UP)
    i1 = script.iteration(1, REPLY_4, tokens=(2400, 90), turn=2, notes=(NOTE,))
    script.cell(i1, 1, 'print(context.grep("restart")[:2])\nFINAL("...")',
                stdout="[{'path': 'sandbox/host.py', 'line': 12}]\n", final_answer=ANSWER_2)
    script.finish(ANSWER_2, turn=2)


class HeldRunStub:
    """What the app's keys read of a live run whose cell is held, for scenes fed from an
    event script (no worker, no clock): the held cell, and a session still open."""

    def __init__(self, cell_id: str, code: str = HELD_CODE,
                 reason: str = "it calls FINAL (--approve final)") -> None:
        held = SimpleNamespace(cell_id=cell_id, code=code, reason=reason)
        self.run = SimpleNamespace(held=held, control=SimpleNamespace(state="held"))
        self.is_open = True
        self.transcript_path = Path("/nonexistent/transcript.jsonl")

    def halt(self, reason: str = "") -> None:
        pass

    async def close(self) -> None:
        pass


def steering(cell_id: str = "run0001.i3.c1") -> Callable:
    """A step that gives the app a live run (a stand-in) holding `cell_id`."""

    async def steer(pilot) -> None:
        pilot.app.live_run = HeldRunStub(cell_id)
        pilot.app.refresh_bindings()

    return steer


# -- getting there -----------------------------------------------------------------------------

def steady_cursors(app) -> None:
    """Text boxes' cursors stop blinking (on): a blink is a timer, the screenshot's moment is
    not fixed."""
    for screen in app.screen_stack:
        for box in screen.query(Input):
            box.cursor_blink = False
        for area in screen.query(TextArea):
            area.cursor_blink = False


async def settled(pilot) -> None:
    """Events flushed, the screen repainted, every cursor steady."""
    await pilot.app.flush_events()
    await pilot.pause(0.2)
    await pilot.app.flush_events()
    steady_cursors(pilot.app)
    await pilot.pause()


def showing(build: Callable[[EventScript], None] | None,
            *then: Callable) -> Callable:
    """A `run_before` that waits for the context, feeds the events `build` writes (none if
    None), focuses the call tree and settles the screen; then awaits each of `then` (steps
    taking the pilot), settling again after each."""

    async def run_before(pilot) -> None:
        await loaded(pilot)
        if build is not None:
            script = EventScript()
            build(script)
            pilot.app.feed(script.take())
            await pilot.app.flush_events()
            pilot.app.query_one("#calls").focus()
        await settled(pilot)
        for step in then:
            await step(pilot)
            await settled(pilot)

    return run_before


def pressing(*keys: str) -> Callable:
    async def press(pilot) -> None:
        await pilot.press(*keys)

    return press


def until(condition: Callable, what: str) -> Callable:
    """A step waiting for `condition(app)`."""

    async def wait(pilot) -> None:
        await wait_for(pilot, lambda: condition(pilot.app), what=what)

    return wait


def palette_titles(app) -> list[str]:
    """The titles of the commands the open palette lists, in order."""
    found = app.screen.query(CommandList)
    if not found:
        return []
    listed = found.first()
    return [listed.get_option_at_index(i).prompt.plain.split("\n")[0]
            for i in range(listed.option_count)]
