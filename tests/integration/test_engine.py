"""The engine against a local OpenAI-compatible server: scripted root models, real workers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine import Run, RunContext
from rlm_tui.lm import ModelClient, RetryPolicy
from rlm_tui.transcript import SessionModel
from tests.integration.openai_server import Reply

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)


def repl(code: str, prose: str = "Let me look.") -> str:
    return f"{prose}\n\n```repl\n{code}\n```\n"


class Scripted:
    """Root replies in order (requests that carry a system prompt); sub-calls answered by
    `sub(prompt)`."""

    def __init__(self, roots: list[str | Reply], sub: Callable[[str], str | Reply] | None = None):
        self.roots = list(roots)
        self.sub = sub or (lambda prompt: f"sub-answer to: {prompt[:40]}")
        self.root_requests: list[dict] = []
        self.sub_prompts: list[str] = []

    def __call__(self, body: dict) -> Reply:
        messages = body.get("messages", [])
        if any(m.get("role") == "system" for m in messages):
            self.root_requests.append(body)
            reply = self.roots.pop(0) if self.roots else "FINAL(out of script)"
        else:
            prompt = messages[-1]["content"]
            self.sub_prompts.append(prompt)
            reply = self.sub(prompt)
        return reply if isinstance(reply, Reply) else Reply(text=reply, chunks=3)


def make_run(server, **overrides) -> tuple[Run, list]:
    settings = Settings(model="openai/root-model", sub_model="openai/sub-model",
                        api_base=server.base_url, max_retries=0, **overrides)
    bus = ev.EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    return Run(settings, ModelClient(retry=FAST_RETRY), bus), seen


def types(events) -> list[str]:
    return [e.type for e in events]


async def test_a_multi_iteration_run_answers_with_final_var(openai_server):
    script = Scripted([
        repl("print(len(context))"),
        repl("notes = llm_query('summarise: ' + context[:20])\nanswer = notes.upper()\n"
             "FINAL_VAR('answer')"),
    ])
    openai_server.responder = script
    run, seen = make_run(openai_server)
    outcome = await run.start("What is it?", RunContext.from_value("hello world " * 10))
    assert outcome.status == "answered"
    assert outcome.answer == "SUB-ANSWER TO: SUMMARISE: HELLO WORLD HELLO WO"
    assert outcome.iterations == 2
    # The root saw the metadata and the cell's output, never the context's text.
    first_prompt = str(script.root_requests[0]["messages"])
    assert "hello world hello" not in first_prompt
    assert "120" in str(script.root_requests[1]["messages"][-1]["content"])
    names = types(seen)
    assert names.count("iteration_started") == 2
    assert "root_delta" in names and names[-1] == "state_changed"
    finished = [e for e in seen if e.type == "session_finished"][0]
    assert finished.status == "answered" and finished.sub_calls == 1


async def test_usage_and_cost_roll_up_to_the_tokens_the_server_reported(openai_server):
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    script = Scripted(
        [Reply(text=repl("r = llm_query_batched(['a', 'b'])"), usage=usage),
         Reply(text=repl("FINAL('done')"), usage=usage)],
        sub=lambda p: Reply(text="x", usage={"prompt_tokens": 3, "completion_tokens": 2,
                                             "total_tokens": 5}),
    )
    openai_server.responder = script
    run, seen = make_run(openai_server)
    await run.start("q", RunContext.from_value("ctx"))
    assert run.ledger.usage.prompt_tokens == 11 * 2 + 3 * 2
    assert run.ledger.usage.completion_tokens == 7 * 2 + 2 * 2
    calls = [e for e in seen if e.type in ("root_done", "subcall_finished")]
    assert sum(e.usage.total_tokens for e in calls) == run.ledger.usage.total_tokens


async def test_the_iteration_limit_forces_one_last_answer(openai_server):
    script = Scripted([repl("x = 1"), repl("x += 1"), "FINAL(best guess)"])
    openai_server.responder = script
    run, seen = make_run(openai_server, max_iterations=2)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.status == "answered" and outcome.forced
    assert outcome.answer == "best guess"
    assert "No more code will run" in script.root_requests[-1]["messages"][-1]["content"]
    assert any(e.type == "budget_exceeded" and e.budget == "iterations" for e in seen)


async def test_a_forced_final_var_names_a_variable_from_earlier_cells(openai_server):
    script = Scripted([repl("kept = 'from the REPL'"), 'FINAL_VAR("kept")'])
    openai_server.responder = script
    run, _ = make_run(openai_server, max_iterations=1)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.answer == "from the REPL" and outcome.forced


async def test_a_forced_final_var_naming_no_variable_is_no_answer(openai_server):
    # Its text ("...FINAL_VAR("answer")") was given as the answer, and the run "answered".
    script = Scripted([repl("x = 1"), 'Out of turns.\n\nFINAL_VAR("answer")'])
    openai_server.responder = script
    run, seen = make_run(openai_server, max_iterations=1)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.status == "halted" and outcome.forced and outcome.answer is None
    assert "FINAL_VAR('answer') names no variable" in (outcome.reason or "")
    finished = [e for e in seen if e.type == "session_finished"]
    assert finished[-1].status == "halted" and finished[-1].answer is None
    assert not any(e.type == "final_answer" for e in seen)


async def test_a_forced_reply_cut_at_its_output_cap_is_no_answer(openai_server):
    # A small model parroting the system prompt until the cap: its text was the "answer".
    cut = Reply(text="You are a recursive language model. You are a recursive",
                finish_reason="length", chunks=3)
    script = Scripted([repl("x = 1"), cut])
    openai_server.responder = script
    run, seen = make_run(openai_server, max_iterations=1)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.status == "halted" and outcome.forced and outcome.answer is None
    assert "cut off at its cap of output tokens" in (outcome.reason or "")
    done = [e for e in seen if e.type == "root_done"]
    assert [e.finish_reason for e in done] == ["stop", "length"]
    model = SessionModel.from_events(seen)
    assert [it.cut for it in model.root.iterations] == [False, True]
    assert model.status == "halted" and model.answer is None


async def test_a_cut_forced_reply_that_still_holds_a_whole_final_answers(openai_server):
    cut = Reply(text='FINAL("the whole answer") and then it rambled on and on',
                finish_reason="length", chunks=3)
    openai_server.responder = Scripted([repl("x = 1"), cut])
    run, _ = make_run(openai_server, max_iterations=1)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.status == "answered" and outcome.answer == "the whole answer"


async def test_prose_final_counts_only_when_the_reply_has_no_code(openai_server):
    script = Scripted([
        "I will guess.\n```repl\nprint('checking')\n```\nFINAL(a guess before the output)",
        "Seen it.\nFINAL(the real answer)",
    ])
    openai_server.responder = script
    run, _ = make_run(openai_server)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.answer == "the real answer"
    assert outcome.iterations == 2


async def test_a_reply_without_code_is_nudged_and_the_run_goes_on(openai_server):
    script = Scripted(["Hmm, thinking.", repl("FINAL(42)")])
    openai_server.responder = script
    run, _ = make_run(openai_server)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.answer == "42"
    assert "No ```repl block ran" in script.root_requests[1]["messages"][-1]["content"]


async def test_a_failing_sub_call_reaches_code_as_an_error_string(openai_server):
    script = Scripted(
        [repl("r = llm_query_batched(['ok', 'boom'])\nprint(r)"), repl("FINAL('x')")],
        sub=lambda p: Reply.error(400, "bad prompt") if p == "boom" else "fine",
    )
    openai_server.responder = script
    run, seen = make_run(openai_server)
    await run.start("q", RunContext.from_value("ctx"))
    output = script.root_requests[1]["messages"][-1]["content"]
    assert "'fine'" in output and "Error: " in output
    failed = [e for e in seen if e.type == "subcall_finished" and e.error]
    assert len(failed) == 1


async def test_a_root_model_failure_ends_the_run_as_failed(openai_server):
    openai_server.responder = lambda body: Reply.unauthorized()
    run, seen = make_run(openai_server)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.status == "failed" and outcome.error_kind == "auth"
    assert [e for e in seen if e.type == "state_changed"][-1].state == "failed"


@pytest.mark.parametrize("max_depth", [2, 3])
async def test_rlm_query_starts_child_sessions_down_to_max_depth(openai_server, max_depth):
    def root_reply(body: dict) -> Reply:
        system = body["messages"][0]["content"]
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if turn == 0:
            return Reply(text=repl("r = rlm_query('deeper', context='inner text')\nprint(r)"))
        if "child RLM" not in system and turn == 0:
            return Reply(text=repl("FINAL('leaf')"))
        return Reply(text=repl("FINAL('level answer: ' + r)"))

    def responder(body: dict) -> Reply:
        if any(m["role"] == "system" for m in body["messages"]):
            return root_reply(body)
        return Reply(text="plain sub-call")

    openai_server.responder = responder
    run, seen = make_run(openai_server, max_depth=max_depth)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.status == "answered"
    starts = [e for e in seen if e.type == "session_started"]
    assert [s.depth for s in starts] == list(range(max_depth))
    # Each child's events nest under the sub-call that started it.
    for child in starts[1:]:
        assert child.parent_id is not None and child.session_id == f"{child.parent_id}.s"
    assert outcome.answer.count("level answer") == max_depth
    assert outcome.answer.endswith("plain sub-call")


async def test_step_runs_exactly_one_iteration_then_pauses(openai_server):
    script = Scripted([repl("a = 1"), repl("b = 2"), repl("FINAL(a + b)")])
    openai_server.responder = script
    settings = Settings(model="openai/root-model", api_base=openai_server.base_url)
    bus = ev.EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    run = Run(settings, ModelClient(), bus, start_paused=True)
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    await asyncio.sleep(0.5)
    assert types(seen).count("iteration_started") == 0
    run.control.step()
    while run.control.state != "paused":
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    assert types(seen).count("iteration_started") == 1
    assert types(seen).count("cell_finished") == 1
    run.control.resume()
    outcome = await asyncio.wait_for(task, 30)
    assert outcome.answer == "3"
    states = [e.state for e in seen if e.type == "state_changed"]
    assert states == ["paused", "stepping", "paused", "running", "done"]


async def test_halt_cancels_the_model_call_in_flight_and_ends_as_halted(openai_server):
    openai_server.responder = lambda body: Reply(text="slow " * 50, chunks=50, chunk_delay=0.5)
    run, seen = make_run(openai_server)
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    while "root_delta" not in types(seen):
        await asyncio.sleep(0.02)
    run.control.halt()
    outcome = await asyncio.wait_for(task, 10)
    assert outcome.status == "halted" and outcome.reason == "halted by the user"
    assert openai_server.wait_for_disconnect(5)
    assert [e for e in seen if e.type == "state_changed"][-1].state == "halted"


async def test_halt_interrupts_running_code(openai_server):
    script = Scripted([repl("n = 0\nwhile True:\n    n += 1")])
    openai_server.responder = script
    run, seen = make_run(openai_server)
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    while "cell_started" not in types(seen):
        await asyncio.sleep(0.02)
    run.control.halt()
    outcome = await asyncio.wait_for(task, 10)
    assert outcome.status == "halted"
    assert types(seen)[-2:] == ["session_finished", "state_changed"]


async def test_a_token_budget_halts_the_run_with_the_reason(openai_server):
    script = Scripted([Reply(text=repl("x = 1"), usage={"prompt_tokens": 600,
                                                        "completion_tokens": 500,
                                                        "total_tokens": 1100})] * 5)
    openai_server.responder = script
    run, seen = make_run(openai_server, max_tokens=1000)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.status == "halted"
    assert outcome.reason.startswith("tokens budget reached")
    assert any(e.type == "budget_exceeded" and e.budget == "tokens" for e in seen)


async def test_sub_calls_run_concurrently_up_to_max_concurrency(openai_server):
    script = Scripted(
        [repl("r = llm_query_batched(['p'] * 12)"), repl("FINAL(len(r))")],
        sub=lambda p: Reply(text="ok", first_byte_delay=0.2),
    )
    openai_server.responder = script
    run, seen = make_run(openai_server, max_concurrency=4)
    peak = running = 0

    def track(event) -> None:
        nonlocal peak, running
        if event.type == "subcall_started":
            running += 1
            peak = max(peak, running)
        elif event.type == "subcall_finished":
            running -= 1

    run.bus.subscribe(track)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.answer == "12"
    assert peak == 4


async def test_a_time_budget_halts_a_run_waiting_on_the_model(openai_server):
    openai_server.responder = lambda body: Reply(text="slow " * 40, chunks=40, chunk_delay=0.25)
    run, seen = make_run(openai_server, max_time=0.5)
    outcome = await asyncio.wait_for(run.start("q", RunContext.from_value("ctx")), 30)
    assert outcome.status == "halted"
    assert outcome.reason.startswith("time budget reached")


async def test_time_spent_paused_does_not_count_against_the_time_budget(openai_server):
    # Paused to read for longer than --max-time: the resumed run was halted at once.
    script = Scripted([repl("a = 1"), repl("FINAL(a + 1)")])
    openai_server.responder = script
    settings = Settings(model="openai/root-model", api_base=openai_server.base_url,
                        max_time=2.0)
    bus = ev.EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    run = Run(settings, ModelClient(), bus, start_paused=True)
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    await asyncio.sleep(0.1)
    run.control.step()
    while run.control.state != "paused":
        await asyncio.sleep(0.02)
    await asyncio.sleep(2.5)  # paused past the budget
    assert not task.done() and run.ledger.exceeded is None
    run.control.resume()
    outcome = await asyncio.wait_for(task, 30)
    assert outcome.status == "answered" and outcome.answer == "2"
    assert not any(e.type == "budget_exceeded" for e in seen)


async def test_after_a_pause_the_time_budget_still_ends_a_slow_run(openai_server):
    # The budget's check is put off by the pause, not dropped.
    openai_server.responder = lambda body: Reply(text="slow " * 40, chunks=40, chunk_delay=0.25)
    settings = Settings(model="openai/root-model", api_base=openai_server.base_url,
                        max_time=1.0, max_retries=0)
    run = Run(settings, ModelClient(retry=FAST_RETRY), ev.EventBus(), start_paused=True)
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    await asyncio.sleep(1.5)  # paused from the start, past the budget
    assert not task.done()
    run.control.resume()
    outcome = await asyncio.wait_for(task, 30)
    assert outcome.status == "halted" and outcome.reason.startswith("time budget reached")


def test_paused_time_is_not_running_time():
    from rlm_tui.engine.control import Ledger, RunControl

    now = 0.0
    control = RunControl(clock=lambda: now)
    ledger = Ledger(max_time=6.0, paused=lambda: control.paused_seconds, clock=lambda: now)
    now = 1.0
    control.pause()  # paused from 1 to 4
    now = 4.0
    control.resume()
    now = 10.0
    control.pause()  # and from 10 on
    now = 12.0
    assert control.paused_seconds == 5.0
    assert ledger.seconds == 7.0  # 12 since the start, 5 of them paused
    ledger.check()
    assert ledger.exceeded == "time"
    control.step()  # a step ends a pause too
    now = 20.0
    assert control.paused_seconds == 5.0 and ledger.seconds == 15.0
    # The sessions' own clock (their session_finished seconds, what exports say) agrees.
    assert control.running_clock() == 15.0


async def test_coverage_records_what_code_read_and_what_it_sent_to_sub_models(openai_server,
                                                                             tmp_path):
    from rlm_tui.engine.workspace import Workspace

    (tmp_path / "read.py").write_text("".join(f"line_{i} = 'read by code {i}'\n" for i in range(40)))
    (tmp_path / "sent.py").write_text("".join(f"line_{i} = 'sent to a sub-model {i}'\n"
                                              for i in range(40)))
    (tmp_path / "untouched.py").write_text("nothing = 'here at all, nobody looks'\n" * 40)
    script = Scripted([
        repl("a = context.read('read.py', 1, 10)\nr = llm_query('summarise: ' + context['sent.py'])"),
        repl("FINAL('done')"),
    ])
    openai_server.responder = script
    settings = Settings(model="openai/root", api_base=openai_server.base_url, max_retries=0)
    bus = ev.EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    with Workspace.open(str(tmp_path), settings) as ws:
        outcome = await ws.new_run(bus).start("q", ws.run_context())
    assert outcome.answer == "done"
    coverage = [e for e in seen if e.type == "coverage_updated"][-1].coverage["files"]
    assert coverage["read.py"]["read_fraction"] == 0.25
    assert coverage["sent.py"]["sent_fraction"] >= 0.95  # the first line shares a prompt line
    assert "untouched.py" not in coverage


class Recorded(Scripted):
    """Scripted, keeping every request body (root and sub-calls)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.bodies: list[dict] = []

    def __call__(self, body: dict) -> Reply:
        self.bodies.append(body)
        return super().__call__(body)


def caps(script: Recorded) -> list[tuple[bool, object]]:
    """(is a root call, max_tokens) of each request, in order."""
    return [(any(m.get("role") == "system" for m in b["messages"]), b.get("max_tokens"))
            for b in script.bodies]


async def test_every_request_carries_a_reply_cap_root_and_sub_calls_their_own(openai_server):
    script = Recorded([repl("print(llm_query('summarise'))"), "FINAL(done)"])
    openai_server.responder = script
    run, _ = make_run(openai_server)
    assert (await run.start("q", RunContext.from_value("ctx"))).status == "answered"
    assert caps(script) == [(True, 4096), (False, 2048), (True, 4096)]


async def test_max_output_tokens_and_a_models_own_params_reach_the_server(openai_server):
    script = Recorded([repl("print(llm_query('summarise'))"), "FINAL(done)"])
    openai_server.responder = script
    run, _ = make_run(openai_server, max_output_tokens=300,
                      models={"openai/sub-model": {"temperature": 0.2, "max_tokens": 50}})
    assert (await run.start("q", RunContext.from_value("ctx"))).status == "answered"
    assert caps(script) == [(True, 300), (False, 50), (True, 300)]
    assert script.bodies[1]["temperature"] == 0.2 and "temperature" not in script.bodies[0]
