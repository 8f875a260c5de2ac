"""Steering a run, in the engine, against the local OpenAI-compatible server: notes, held
cells (approve, edit, skip), follow-up questions on one REPL, model switches and forks."""

from __future__ import annotations

import asyncio

import pytest

from rlm_tui import events as ev
from rlm_tui.engine import RunContext
from rlm_tui.forks import plan_fork
from rlm_tui.errors import UsageError
from rlm_tui.transcript import SessionModel
from rlm_tui.transcript.html import render_html
from rlm_tui.transcript.markdown import render_markdown
from tests.integration.test_engine import Scripted, make_run, repl


def user_messages(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "user"]


async def wait_for(condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:  # a guard against a hang, not a speed goal
            pytest.fail("the condition never came true")
        await asyncio.sleep(0.01)


# -- notes ------------------------------------------------------------------------------


async def test_a_note_reaches_the_root_model_before_its_next_call(openai_server):
    script = Scripted([repl("x = 1"), repl("FINAL('done')")])
    openai_server.responder = script
    run, seen = make_run(openai_server, max_iterations=5)
    run.control.pause()
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    await wait_for(lambda: run.root is not None)
    run.add_note("look at the tests first")
    run.control.resume()
    outcome = await task
    assert outcome.status == "answered"
    first = script.root_requests[0]
    assert user_messages(first)[-1] == ("Note from the person watching this run: look at "
                                         "the tests first")
    assert "look at the tests" not in str(script.root_requests[1]["messages"][-1])
    kinds = [(e.type, getattr(e, "kind", None)) for e in seen]
    assert ("note_added", None) in kinds and ("message_added", "note") in kinds
    tree = SessionModel.from_events(seen)
    assert tree.root.iterations[0].notes == ["look at the tests first"]
    assert tree.pending_notes == []


async def test_a_note_given_before_the_run_starts_is_sent_with_the_first_call(openai_server):
    script = Scripted([repl("FINAL('ok')")])
    openai_server.responder = script
    run, seen = make_run(openai_server)
    run.add_note("be brief")
    await run.start("q", RunContext.from_value("ctx"))
    assert user_messages(script.root_requests[0])[-1].endswith("be brief")
    assert [e.type for e in seen].index("session_started") < \
        [e.type for e in seen].index("note_added")


# -- held cells -------------------------------------------------------------------------


async def decide_each(run, decisions: list) -> list[str]:
    """Decide held cells in order; returns the code of each cell as it was held."""
    held_codes = []
    for decide in decisions:
        await wait_for(lambda: run.held is not None)
        assert run.control.state == "held"
        held_codes.append(run.held.code.strip())
        decide(run)
        await wait_for(lambda: run.held is None or run.held.code.strip() != held_codes[-1])
    return held_codes


async def test_cells_mode_holds_every_cell_until_approved(openai_server):
    script = Scripted([repl("x = 41"), repl("FINAL(x + 1)")])
    openai_server.responder = script
    run, seen = make_run(openai_server, approve="cells")
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    codes = await decide_each(run, [lambda r: r.approve_cell()] * 2)
    outcome = await task
    assert codes == ["x = 41", "FINAL(x + 1)"]
    assert outcome.answer == "42"
    decided = [e for e in seen if e.type == "cell_decided"]
    assert [d.decision for d in decided] == ["approved", "approved"]
    held = [e for e in seen if e.type == "cell_held"]
    assert len(held) == 2 and "every cell" in held[0].reason


async def test_an_edited_cell_runs_the_edit_and_the_model_is_told(openai_server):
    script = Scripted([repl("print('model wrote this')"), repl("FINAL('done')")])
    openai_server.responder = script
    run, seen = make_run(openai_server, approve="cells")
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    await decide_each(run, [lambda r: r.edit_cell("print('a person wrote this')"),
                            lambda r: r.approve_cell()])
    await task
    told = user_messages(script.root_requests[1])[-1]
    assert "edited this cell" in told and "a person wrote this" in told
    finished = [e for e in seen if e.type == "cell_finished"][0]
    assert finished.stdout == "a person wrote this\n"
    tree = SessionModel.from_events(seen)
    cell = tree.root.iterations[0].cells[0]
    assert cell.code.strip() == "print('model wrote this')"
    assert cell.decision == "edited" and cell.ran_code == "print('a person wrote this')"
    # Every export says so: both versions of the code, and the decision.
    markdown = render_markdown(tree)
    assert "Held for approval (every cell is held): edited before it ran" \
        in markdown.replace("\\", "")
    assert "Code that ran (the person's edit):" in markdown
    assert "a person wrote this" in render_html(tree)
    document = tree.to_dict()["session"]["iterations"][0]["cells"][0]
    assert (document["decision"], document["ran_code"]) == \
        ("edited", "print('a person wrote this')")


async def test_a_skipped_cell_does_not_run_and_the_model_is_told(openai_server):
    script = Scripted([repl("FINAL('too early')"), repl("FINAL('after looking')")])
    openai_server.responder = script
    run, seen = make_run(openai_server, approve="final")
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    await decide_each(run, [lambda r: r.skip_cell(), lambda r: r.approve_cell()])
    outcome = await task
    assert outcome.answer == "after looking" and outcome.iterations == 2
    assert "skipped this cell" in user_messages(script.root_requests[1])[-1]
    skipped = [e for e in seen if e.type == "cell_finished"][0]
    assert skipped.skipped and not skipped.stdout


async def test_final_mode_holds_only_a_reply_that_ends_the_run(openai_server):
    script = Scripted([repl("x = 1"),
                       "```repl\ny = x + 1\n```\nand\n```repl\nFINAL(y)\n```"])
    openai_server.responder = script
    run, seen = make_run(openai_server, approve="final")
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    codes = await decide_each(run, [lambda r: r.approve_cell()] * 2)
    assert (await task).answer == "2"
    assert codes == ["y = x + 1", "FINAL(y)"]  # "x = 1" ran without a hold
    reasons = [e.reason for e in seen if e.type == "cell_held"]
    assert reasons == ["its reply ends the run in another cell", "it calls FINAL"]


async def test_a_halt_while_a_cell_is_held_ends_the_run_halted(openai_server):
    openai_server.responder = Scripted([repl("x = 1")])
    run, seen = make_run(openai_server, approve="cells")
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    await wait_for(lambda: run.held is not None)
    run.control.halt()
    outcome = await task
    assert outcome.status == "halted" and run.held is None
    tree = SessionModel.from_events(seen)
    assert tree.root.iterations[0].cells[0].status == "stopped"


# -- follow-up questions ----------------------------------------------------------------


async def test_a_follow_up_question_keeps_the_repl_and_the_conversation(openai_server):
    script = Scripted([repl("found = 7\nFINAL(found)"), repl("FINAL(found * 6)")])
    openai_server.responder = script
    run, seen = make_run(openai_server, max_iterations=3)
    first = await run.start("How many?", RunContext.from_value("ctx"), keep_open=True)
    assert first.answer == "7" and run.is_open
    second = await run.ask("And times six?")
    assert second.answer == "42" and second.turn == 2
    await run.close()
    assert not run.is_open
    last = script.root_requests[-1]["messages"]
    text = str(last)
    assert "How many?" in text and "FINAL(found)" in text and "And times six?" in text
    turns = [e for e in seen if e.type == "turn_started"]
    assert [t.turn for t in turns] == [2]
    iterations = [e for e in seen if e.type == "iteration_started"]
    assert [(i.turn, i.iteration, i.node_id.split(".", 1)[1]) for i in iterations] == \
        [(1, 1, "i1"), (2, 1, "t2.i1")]
    tree = SessionModel.from_events(seen)
    assert [(t.turn, t.query, t.answer, t.status) for t in tree.root.turns] == \
        [(1, "How many?", "7", "answered"), (2, "And times six?", "42", "answered")]
    assert tree.answer == "42"


async def test_a_follow_up_after_a_used_up_budget_makes_no_model_call(openai_server):
    script = Scripted([repl("FINAL('one')")])
    openai_server.responder = script
    run, _ = make_run(openai_server, max_tokens=1)
    await run.start("q", RunContext.from_value("ctx"), keep_open=True)
    calls = len(script.root_requests)
    outcome = await run.ask("more?")
    await run.close()
    assert outcome.status == "halted" and "budget is already used up" in outcome.reason
    assert len(script.root_requests) == calls


# -- switching models -------------------------------------------------------------------


async def test_switching_models_applies_to_the_next_calls_and_is_recorded(openai_server):
    script = Scripted([repl("x = llm_query('a')"), repl("y = llm_query('b')\nFINAL('ok')")])
    openai_server.responder = script
    run, seen = make_run(openai_server, approve="cells")
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    await wait_for(lambda: run.held is not None)
    run.approve_cell()
    await wait_for(lambda: run.held is not None and "FINAL" in run.held.code)
    run.set_models(model="openai/bigger", sub_model="openai/smaller")
    run.approve_cell()
    await task
    models = [r.json["model"] for r in openai_server.completion_requests]
    assert models[:2] == ["root-model", "sub-model"]
    assert models[-1] == "smaller"  # the held cell's sub-call, after the switch
    changed = [e for e in seen if e.type == "models_changed"]
    assert (changed[0].root_model, changed[0].sub_model) == ("openai/bigger", "openai/smaller")


# -- forks ------------------------------------------------------------------------------


async def recorded_session(openai_server, roots: list[str]) -> list:
    openai_server.responder = Scripted(roots, sub=lambda p: f"recorded answer to {p}")
    run, seen = make_run(openai_server, max_iterations=10)
    await run.start("Which number?", RunContext.from_value("ctx"))
    return seen


async def test_a_fork_rebuilds_the_repl_without_a_model_call_then_goes_on_live(openai_server):
    seen = await recorded_session(openai_server, [
        repl("a = llm_query_batched(['p1', 'p2'])\nprint(a)"),
        repl("b = llm_query('p3')\nimport random\nprint(random.random())"),
        repl("FINAL(b)"),
    ])
    plan = plan_fork(seen, "2", transcript="parent.jsonl")
    assert (plan.turn, plan.iteration, plan.sub_calls) == (1, 2, 3)
    openai_server.reset()
    live = Scripted([repl("FINAL(a[0] + ' | ' + b)")], sub=lambda p: "LIVE")
    openai_server.responder = live
    run, forked = make_run(openai_server)
    outcome = await run.start_fork(plan, RunContext.from_value("ctx"), note="check b again")
    assert outcome.status == "answered"
    assert outcome.answer == "recorded answer to p1 | recorded answer to p3"
    # One model call in all: the live turn after K. The rebuild called no model.
    assert len(openai_server.completion_requests) == 1 and live.sub_prompts == []
    sent = live.root_requests[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant",
                                         "user", "user"]
    assert sent[-1]["content"].endswith("check b again")
    started = [e for e in forked if e.type == "session_started"][0]
    assert started.fork_of == {"transcript": "parent.jsonl", "session_id": plan.session_id,
                               "turn": 1, "iteration": 2}
    rebuilt = [e for e in forked if e.type == "iteration_started"]
    assert [(e.iteration, e.rebuilt) for e in rebuilt] == [(1, True), (2, True), (3, False)]
    cells = [e for e in forked if e.type == "cell_finished"]
    assert cells[0].rebuild_differs is None
    assert "differs" in cells[1].rebuild_differs  # random.random(): flagged, and on it went
    tree = SessionModel.from_events(forked)
    assert tree.totals.usage.calls == 1  # the rebuilt replies cost nothing


async def test_a_fork_with_a_new_question_asks_it_after_k(openai_server):
    seen = await recorded_session(openai_server, [repl("n = 5"), repl("FINAL(n)")])
    plan = plan_fork(seen, "1", transcript="p.jsonl")
    openai_server.reset()
    live = Scripted([repl("FINAL(n * 2)")])
    openai_server.responder = live
    run, forked = make_run(openai_server)
    outcome = await run.start_fork(plan, RunContext.from_value("ctx"), query="Twice that?")
    assert outcome.answer == "10" and outcome.turn == 2
    assert "Follow-up question: Twice that?" in user_messages(live.root_requests[0])[-1]
    assert not run.is_open


async def test_fork_at_a_missing_iteration_is_a_one_line_usage_error(openai_server):
    seen = await recorded_session(openai_server, [repl("n = 5"), repl("FINAL(n)")])
    with pytest.raises(UsageError, match=r"--at 3: p.jsonl has 2 iterations \(1 to 2\)"):
        plan_fork(seen, "3", transcript="p.jsonl")
    with pytest.raises(UsageError, match="give an iteration K"):
        plan_fork(seen, "x", transcript="p.jsonl")
    with pytest.raises(UsageError, match="no turn 2"):
        plan_fork(seen, "2:1", transcript="p.jsonl")


async def test_a_transcript_cut_short_forks_at_its_last_whole_iteration(openai_server):
    seen = await recorded_session(openai_server, [repl("n = 5"), repl("m = 6"),
                                                  repl("FINAL(n)")])
    # Killed while iteration 2's cell ran: its cell_finished and all after it are lost.
    lost = next(i for i, e in enumerate(seen)
                if e.type == "cell_finished" and ".i2." in e.node_id)
    cut = seen[:lost]
    plan = plan_fork(cut, "2", transcript="p.jsonl")
    assert plan.iteration == 1 and "cut short" in plan.warning


async def test_an_old_transcript_without_messages_still_forks(openai_server):
    seen = await recorded_session(openai_server, [repl("n = 5"), repl("FINAL(n)")])
    old = [e for e in seen if e.type != "message_added"]
    plan = plan_fork(old, "1", transcript="old.jsonl")
    assert not plan.messages_recorded
    openai_server.reset()
    live = Scripted([repl("FINAL(n + 1)")])
    openai_server.responder = live
    run, _ = make_run(openai_server)
    outcome = await run.start_fork(plan, RunContext.from_value("ctx"))
    assert outcome.answer == "6"
    roles = [m["role"] for m in live.root_requests[0]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


async def test_a_fork_after_an_earlier_turn_keeps_that_turn_whole(openai_server):
    openai_server.responder = Scripted([repl("n = 2"), 'FINAL_VAR("n")', repl("m = n + 1"),
                                        repl("FINAL(m)")])
    run, seen = make_run(openai_server, max_iterations=1)
    first = await run.start("q1", RunContext.from_value("ctx"), keep_open=True)
    assert first.forced and first.answer == "2"
    await run.ask("q2")
    await run.close()
    plan = plan_fork(seen, "2:1", transcript="p.jsonl")
    openai_server.reset()
    live = Scripted([repl("FINAL(m * 10)")])
    openai_server.responder = live
    run, forked = make_run(openai_server, max_iterations=3)
    outcome = await run.start_fork(plan, RunContext.from_value("ctx"))
    assert outcome.answer == "30" and outcome.turn == 2
    sent = [(m["role"], m["content"][:20]) for m in live.root_requests[0]["messages"]]
    # The forced request of turn 1 precedes its reply, as it was sent.
    forced = next(i for i, (_, text) in enumerate(sent) if text.startswith("You have used"))
    assert sent[forced + 1] == ("assistant", 'FINAL_VAR("n")')
    tree = SessionModel.from_events(forked)
    assert [(t.turn, t.answer, t.rebuilt) for t in tree.root.turns] == \
        [(1, "2", True), (2, "30", True)]


async def test_switching_only_the_root_model_keeps_the_sub_calls_where_they_were(
        openai_server):
    run, _ = make_run(openai_server)
    run.settings = run.settings.model_copy(update={"sub_model": None})
    run.set_models(model="openai/other")
    assert (run.settings.model, run.settings.effective_sub_model) == \
        ("openai/other", "openai/root-model")
