"""Prompt caching on the local server: cached tokens read and priced over both transports
(streamed, and litellm's non-streamed usage), a run's cost is the bill for what the server
reported, and every root request repeats the one before it byte for byte."""

from __future__ import annotations

import json
import urllib.request

import pytest

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine import Run, RunContext
from rlm_tui.lm import ModelClient, ModelSpec, RetryPolicy
from rlm_tui.lm.completion import reported_tokens
from rlm_tui.lm.price_map import cached_cost
from tests.integration.openai_server import PromptCache, Reply
from tests.integration.test_engine import Scripted, repl

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)
PRICE = (1.0, 4.0, 0.1, None)  # per million: input, output, cached input, cache write
SMALL_CACHE = dict(min_tokens=64, step_tokens=16)  # OpenAI's rule, scaled to test prompts
LONG = "You are a careful assistant. " * 60  # ~450 tokens of shared prefix


def bill(usages: list[dict], price=PRICE) -> float:
    """What a provider charging `price` bills for the usage it reported."""
    total = 0.0
    for u in usages:
        cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        total += cached_cost(u["prompt_tokens"], u["completion_tokens"], cached, 0,
                             price[0], price[1], price[2], price[3]) / 1_000_000
    return total


@pytest.mark.parametrize("transport", ["auto", "litellm"])
async def test_cached_tokens_are_read_from_the_stream_and_priced(openai_server, transport):
    openai_server.prompt_cache = PromptCache(**SMALL_CACHE)
    client = ModelClient(prices={"openai/test-model": PRICE}, retry=FAST_RETRY)
    spec = ModelSpec(model="openai/test-model", api_base=openai_server.base_url,
                     transport=transport, max_retries=0)
    first = [{"role": "system", "content": LONG}, {"role": "user", "content": "one"}]

    a = await client.complete(spec, first)
    b = await client.complete(spec, [*first, {"role": "assistant", "content": a.text},
                                     {"role": "user", "content": "two"}])

    reported = openai_server.usages
    assert a.usage.cached_tokens == 0
    cached = reported[1]["prompt_tokens_details"]["cached_tokens"]
    assert cached >= 64 and b.usage.cached_tokens == cached
    assert b.usage.prompt_tokens == reported[1]["prompt_tokens"]
    assert a.usage.cost_usd + b.usage.cost_usd == pytest.approx(bill(reported))
    assert b.usage.cost_usd < (b.usage.prompt_tokens * 1.0 + b.usage.completion_tokens * 4.0) / 1e6


def test_the_server_reports_cached_tokens_without_streaming_too(openai_server):
    openai_server.prompt_cache = PromptCache(**SMALL_CACHE)
    body = {"model": "m", "messages": [{"role": "system", "content": LONG},
                                       {"role": "user", "content": "x"}]}

    def post() -> dict:
        request = urllib.request.Request(f"{openai_server.base_url}/chat/completions",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["usage"]

    assert reported_tokens(post()).cached == 0
    again = reported_tokens(post())
    assert again.cached >= 64 and (again.cached - 64) % 16 == 0


async def test_litellms_non_streamed_usage_object_gives_the_cached_tokens(openai_server):
    from rlm_tui.lm import load_litellm

    openai_server.prompt_cache = PromptCache(**SMALL_CACHE)
    litellm = load_litellm()
    messages = [{"role": "system", "content": LONG}, {"role": "user", "content": "x"}]
    for _ in range(2):
        response = await litellm.acompletion(model="openai/m", messages=messages,
                                             api_base=openai_server.base_url, api_key="x")
    tokens = reported_tokens(response.usage)
    assert tokens.cached == openai_server.usages[1]["prompt_tokens_details"]["cached_tokens"] > 0


def make_run(server, *, prices=True, **overrides) -> tuple[Run, list]:
    settings = Settings(model="openai/root-model", sub_model="openai/sub-model",
                        api_base=server.base_url, max_retries=0, **overrides)
    bus = ev.EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    table = {"openai/root-model": PRICE, "openai/sub-model": PRICE} if prices else None
    return Run(settings, ModelClient(prices=table, retry=FAST_RETRY), bus), seen


def root_messages(server) -> list[list[dict]]:
    return [r.json["messages"] for r in server.completion_requests
            if any(m.get("role") == "system" for m in r.json["messages"])]


async def test_each_root_request_extends_the_one_before_it(openai_server):
    """Iterations with sub-calls, budgets that count down, a follow-up question: nothing
    earlier in the root conversation changes, so a provider's cache can reuse all of it."""
    script = Scripted([
        repl("print(len(context))"),
        repl("a = llm_query('summarise: ' + context[:30])\nprint(a)"),
        repl("bs = llm_query_batched(['x', 'y', 'z'])\nprint(bs)"),
        "No code this time.",
        repl("FINAL_VAR('a')"),
        repl("print(len(bs))"),
        repl("FINAL('three')"),
    ])
    openai_server.responder = script
    openai_server.prompt_cache = PromptCache(**SMALL_CACHE)
    run, seen = make_run(openai_server, max_iterations=8, max_cost=5.0, max_tokens=900_000,
                         max_time=600)
    outcome = await run.start("What is it?", RunContext.from_value("hello world " * 50),
                              keep_open=True)
    assert outcome.status == "answered"
    follow = await run.ask("And how many?")
    await run.close()
    assert follow.status == "answered" and follow.answer == "three"

    roots = root_messages(openai_server)
    assert len(roots) == 7
    for before, after in zip(roots, roots[1:]):
        assert after[:len(before)] == before  # the same messages, byte for byte
        assert len(after) > len(before)
    assert len(script.sub_prompts) == 4
    # The server saw the prefixes repeat: every root request after the first read the cache.
    root_usages = [e.usage for e in seen if e.type == "root_done"]
    assert all(u.cached_tokens > 0 for u in root_usages[1:])
    assert run.ledger.usage.cost_usd == pytest.approx(bill(openai_server.usages))
    started = next(e for e in seen if e.type == "session_started")
    assert started.prompt_cache == "provider"  # an OpenAI-compatible model: no markers


async def test_a_cost_budget_counts_the_cached_price(openai_server):
    # Each root call costs about 450 prompt tokens at $1/M: uncached, eight of them pass
    # $0.0025; with the cache read at a tenth of the price they do not.
    script = Scripted([repl(f"x = {i}") for i in range(7)] + [repl("FINAL('done')")])
    openai_server.responder = script
    openai_server.prompt_cache = PromptCache(**SMALL_CACHE)
    run, seen = make_run(openai_server, max_iterations=10, max_cost=0.0025)
    outcome = await run.start(LONG, RunContext.from_value("ctx"))
    assert outcome.status == "answered", outcome.reason
    full = sum((u["prompt_tokens"] * 1.0 + u["completion_tokens"] * 4.0) / 1e6
               for u in openai_server.usages)
    assert full > 0.0025 > run.ledger.usage.cost_usd == pytest.approx(bill(openai_server.usages))
