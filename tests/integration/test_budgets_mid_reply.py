"""A long reply from a model that reports no usage while it streams (llama.cpp): a running
estimate while it streams, what a call halted mid-reply keeps, budgets that hold during a
reply, against the local OpenAI-compatible server through the real client code."""

from __future__ import annotations

import asyncio
import json

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine import Run, RunContext
from rlm_tui.engine.control import MIN_REPLY_TOKENS
from rlm_tui.api.result import Result
from rlm_tui.headless import run_summary
from rlm_tui.lm import ModelClient
from rlm_tui.transcript import SessionModel, TranscriptWriter, read_transcript
from rlm_tui.transcript.export import export_transcript
from tests.integration.openai_server import Reply
from tests.integration.test_engine import FAST_RETRY, Scripted, make_run, repl

SLOW_TEXT = "The sandbox stops a runaway cell with a timeout, then reads the host. " * 40


def recorded_run(server, tmp_path, **overrides):
    """A run whose events are written to a transcript and folded live."""
    prices = overrides.pop("prices", None)
    settings = Settings(model="openai/root-model", sub_model="openai/sub-model",
                        api_base=server.base_url, max_retries=0, **overrides)
    bus = ev.EventBus()
    path = tmp_path / "run.jsonl"
    writer = TranscriptWriter(path, query="q", settings=settings.public_dict(), context={})
    tree = SessionModel()
    seen: list = []
    for subscriber in (writer, tree.apply, seen.append):
        bus.subscribe(subscriber)
    run = Run(settings, ModelClient(retry=FAST_RETRY, prices=prices), bus)
    return run, tree, seen, writer, path


async def test_a_streaming_call_shows_a_running_estimate_then_the_servers_figures(
        openai_server, tmp_path):
    usage = {"prompt_tokens": 777, "completion_tokens": 333, "total_tokens": 1110}
    openai_server.responder = Scripted(
        [Reply(text=SLOW_TEXT + "\nFINAL(done)\n", chunks=60, chunk_delay=0.01, usage=usage)])
    run, tree, seen, writer, _ = recorded_run(openai_server, tmp_path)
    during: list[ev.Usage] = []

    def midway(event) -> None:
        if event.type == "root_delta" and len(during) < 40:
            during.append(tree.totals.live_usage)

    run.bus.subscribe(midway)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    writer.close()
    assert outcome.answer == "done"
    # While it streamed: an estimate (marked so), its prompt from the first chunk, growing.
    assert during and all(not u.reported for u in during)
    assert during[0].prompt_tokens > 0
    assert during[-1].completion_tokens > during[0].completion_tokens
    # Then the server's figures, and no estimate left.
    assert tree.totals.live_usage == tree.totals.usage
    assert tree.totals.usage.prompt_tokens == 777 and tree.totals.usage.reported


async def test_a_call_halted_mid_reply_keeps_its_estimate_everywhere(openai_server, tmp_path):
    openai_server.responder = Scripted(
        [Reply(text=SLOW_TEXT, chunks=400, chunk_delay=0.01, send_usage=False)])
    run, tree, seen, writer, path = recorded_run(
        openai_server, tmp_path, prices={"openai/root-model": (1.0, 2.0)})
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    while sum(len(e.text) for e in seen if e.type == "root_delta") < 800:
        await asyncio.sleep(0.01)
    run.control.halt("halted by the user")
    outcome = await asyncio.wait_for(task, 10)
    writer.close()
    assert outcome.status == "halted"
    streamed = sum(len(e.text) for e in seen if e.type == "root_delta")

    done = next(e for e in read_transcript(path).events if e.type == "root_done")
    assert done.stopped == "halted by the user"
    assert done.usage.completion_tokens == streamed // 4 and done.usage.prompt_tokens > 0
    assert not done.usage.reported and done.latency_s > 0.5
    assert done.usage.cost_usd is not None and done.usage.cost_usd > 0  # priced: a bill

    model = SessionModel.from_events(read_transcript(path).events)
    node = model.root.iterations[0]
    assert node.status == "stopped" and node.stopped_by == "halted by the user"
    assert model.totals.usage == done.usage and model.totals.calls_stopped == 1
    result = Result(answer=outcome.answer, value=outcome.answer, status=outcome.status,
                    reason=outcome.reason, iterations=outcome.iterations)
    summary = run_summary([result], ["q"], model, path)
    assert summary["tokens"]["total"] == done.usage.total_tokens
    assert summary["tokens"]["estimated"] is True
    assert summary["cost_usd"] is not None and summary["cost_complete"] is False
    text = export_transcript(read_transcript(path), "markdown")
    assert f"~{done.usage.completion_tokens:,} out" in text and "0.00 s" not in text


async def test_a_sub_call_halted_mid_reply_keeps_its_estimate(openai_server, tmp_path):
    openai_server.responder = Scripted(
        [repl("r = llm_query('summarise the sandbox')")],
        sub=lambda p: Reply(text=SLOW_TEXT, chunks=400, chunk_delay=0.01, send_usage=False))
    run, tree, seen, writer, path = recorded_run(openai_server, tmp_path)
    task = asyncio.create_task(run.start("q", RunContext.from_value("ctx")))
    while not any(e.type == "subcall_started" for e in seen):
        await asyncio.sleep(0.01)
    await asyncio.sleep(1.0)  # about 100 chunks streamed
    run.control.halt("halted by the user")
    await asyncio.wait_for(task, 10)
    writer.close()
    finished = next(e for e in read_transcript(path).events if e.type == "subcall_finished")
    assert finished.stopped == "halted by the user" and finished.latency_s > 0.5
    assert finished.usage.completion_tokens > 100 and finished.usage.prompt_tokens > 0
    assert not finished.usage.reported
    call = SessionModel.from_events(read_transcript(path).events).root.iterations[0] \
        .cells[0].subcalls[0]
    assert call.status == "stopped" and call.usage == finished.usage


async def test_a_run_ends_within_5_percent_of_its_token_budget(openai_server, tmp_path):
    # A small local model that never stops: every reply runs to its cap, and no usage comes.
    openai_server.responder = lambda body: Reply(text="You are a recursive language model",
                                                 ramble=True, send_usage=False,
                                                 chunk_delay=0.0005)
    run, tree, seen, writer, _ = recorded_run(openai_server, tmp_path, max_tokens=3000,
                                              max_output_tokens=4096)
    outcome = await asyncio.wait_for(run.start("q", RunContext.from_value("ctx")), 60)
    writer.close()
    assert outcome.status == "halted" and outcome.reason.startswith("tokens budget reached")
    total = tree.totals.usage.total_tokens
    assert 3000 <= total <= 3000 * 1.05, total
    assert run.ledger.usage.total_tokens == total
    budget = [e for e in seen if e.type == "budget_exceeded"]
    assert len(budget) == 1 and budget[0].budget == "tokens"
    # Asked for no more than the budget left: the first request's cap was cut from 4,096.
    cap = openai_server.completion_requests[0].json["max_tokens"]
    assert MIN_REPLY_TOKENS <= cap < 3000


async def test_each_request_asks_for_no_more_than_the_budget_leaves(openai_server):
    used = {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}
    openai_server.responder = Scripted([Reply(text=repl("x = 1"), usage=used)] * 3)
    run, seen = make_run(openai_server, max_tokens=5500, max_output_tokens=4000)
    await run.start("q", RunContext.from_value("ctx"))
    caps = [r.json["max_tokens"] for r in openai_server.completion_requests]
    assert len(caps) == 3  # the third reply passed the budget
    assert caps[0] == 4000  # the budget leaves more than the cap
    # Each asks for what is left once its prompt is counted: less as the budget is used.
    assert caps[0] > caps[1] > caps[2] >= MIN_REPLY_TOKENS
    assert caps[1] < 5500 - 2000 and caps[2] < 5500 - 4000


async def test_the_cost_budget_caps_a_request_at_the_models_output_price(openai_server):
    openai_server.responder = Scripted([Reply(text="FINAL(ok)")])
    settings = Settings(model="openai/root-model", api_base=openai_server.base_url,
                        max_retries=0, max_cost=0.01, max_output_tokens=8000)
    run = Run(settings, ModelClient(prices={"openai/root-model": (0.0, 10.0)}), ev.EventBus())
    await run.start("q", RunContext.from_value("ctx"))
    # $0.01 at $10 per million reply tokens: 1,000 tokens.
    assert openai_server.completion_requests[0].json["max_tokens"] == 1000


async def test_the_last_turn_is_never_counted_past_the_limit(openai_server):
    openai_server.responder = Scripted(["No code here.", repl("x = 1"), "Still none.",
                                        "FINAL(forced)"])
    run, seen = make_run(openai_server, max_iterations=3)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.forced
    told = [e.content for e in seen if e.type == "message_added"]
    assert not any("Turn 4 of 3" in text for text in told)
    assert any("That was the last turn" in text for text in told)


async def test_no_cell_starts_once_a_budget_has_stopped_the_run(openai_server):
    over = {"prompt_tokens": 600, "completion_tokens": 500, "total_tokens": 1100}
    openai_server.responder = Scripted([Reply(text=repl("x = 1"), usage=over)])
    run, seen = make_run(openai_server, max_tokens=1000)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.reason.startswith("tokens budget reached")
    names = [e.type for e in seen]
    assert "budget_exceeded" in names and "cell_started" not in names


async def test_a_run_with_no_priced_call_records_its_cost_as_unknown(openai_server, tmp_path):
    openai_server.responder = Scripted([Reply(text="FINAL(ok)")])
    run, tree, seen, writer, path = recorded_run(openai_server, tmp_path)
    await run.start("q", RunContext.from_value("ctx"))
    writer.close()
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    finished = next(e for e in raw if e.get("type") == "session_finished")
    assert finished["usage"]["cost_usd"] is None
    assert SessionModel.from_events(read_transcript(path).events).totals.to_dict()[
        "cost_usd"] is None


def test_an_old_transcript_that_said_0_for_an_unpriced_run_still_reads_as_unknown():
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.0, "calls": 1,
             "unpriced_calls": 1, "unreported_calls": 0}
    events = [
        {"type": "session_started", "session_id": "s", "node_id": "s", "query": "q",
         "root_model": "m", "sub_model": "m", "max_iterations": 3, "priced": False},
        {"type": "iteration_started", "session_id": "s", "node_id": "s.i1", "parent_id": "s",
         "iteration": 1, "max_iterations": 3},
        {"type": "root_done", "session_id": "s", "node_id": "s.i1", "parent_id": "s",
         "text": "FINAL(ok)", "model": "m", "usage": usage, "latency_s": 0.1},
        {"type": "session_finished", "session_id": "s", "node_id": "s", "status": "answered",
         "usage": usage},
    ]
    model = SessionModel.from_events(ev.parse_event(e) for e in events)
    assert model.totals.to_dict()["cost_usd"] is None
    assert not model.root.usage.cost_known
