"""Steering a run of a real model (the local OpenAI-compatible server): a held FINAL edited
before it runs, the model told and shown the code that ran; a sub-model switched at a pause,
the next sub-calls going to it."""

from __future__ import annotations

from rlm_tui import events as ev
from rlm_tui.transcript import read_transcript
from rlm_tui.tui.screens.cell_editor import CellEditorScreen
from rlm_tui.tui.screens.prompt import PromptScreen
from tests.integration.openai_server import Reply
from tests.integration.test_engine import Scripted, repl
from tests.tui.conftest import ended, make_app, wait_for


def live_app(server, sample, **settings):
    return make_app(sample, model="openai/root-model", sub_model="openai/sub-model",
                    api_base=server.base_url, max_retries=0, **settings)


def held_cell(app):
    run = app.live_run.run if app.live_run is not None else None
    return run.held if run is not None and app.summary.state == "held" else None


async def test_an_edited_final_runs_and_the_model_sees_the_code_that_ran(openai_server,
                                                                        sample):
    # The model answers in the same reply as its code, before it saw what the code prints.
    guessed = "x = 6 * 7\nprint(x)\nFINAL(f'the answer is {x + 1}')"
    script = Scripted([Reply(text=repl(guessed)), Reply(text=repl("FINAL('42')"))])
    openai_server.responder = script
    app = live_app(openai_server, sample, query="what is six times seven?", approve="final")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: held_cell(app) is not None, what="the FINAL held")
        assert "FINAL" in held_cell(app).reason
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CellEditorScreen),
                       what="the editor")
        app.screen.editor.load_text("x = 6 * 7\nprint(x)")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: held_cell(app) is not None and len(
            script.root_requests) == 2, what="the next FINAL held")
        await pilot.press("a")
        await ended(pilot)
        assert app.summary.answer == "42"
        told = "\n".join(str(m.get("content")) for m in script.root_requests[1]["messages"])
        assert "x = 6 * 7\nprint(x)" in told and "42" in told  # the code that ran, its output
        assert "edited" in told.lower()
        events = read_transcript(app.live_run.transcript_path).events
        decided = [e.decision for e in events if isinstance(e, ev.CellDecided)]
        assert decided == ["edited", "approved"]


async def test_a_sub_model_switched_at_a_pause_takes_the_next_sub_calls(openai_server,
                                                                       sample):
    script = Scripted([Reply(text=repl("print(llm_query('first'))")),
                       Reply(text=repl("print(llm_query('second'))")),
                       Reply(text=repl("FINAL('done')"))])
    models: list[str] = []

    def responder(body: dict) -> Reply:
        if not any(m.get("role") == "system" for m in body.get("messages", [])):
            models.append(body["model"])
        return script(body)

    openai_server.responder = responder
    app = live_app(openai_server, sample, query="q", start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.summary.reason == "stepped one iteration",
                       what="the first step")
        await pilot.press("ctrl+p", *"switch sub", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), what="the prompt")
        app.screen.query_one("#model-input").value = "openai/other-sub"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session.tree.root.sub_model == "openai/other-sub",
                       what="the switch")
        await pilot.press("space")
        await ended(pilot)
        assert models == ["sub-model", "other-sub"]
