"""Compaction of a long run (engine/compaction.py) on the local server, whose small window
refuses prompts past it as an OpenAI-compatible server does."""

from __future__ import annotations

import json

import pytest

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine import Run, RunContext
from rlm_tui.lm import ModelClient, RetryPolicy
from rlm_tui.transcript import SessionModel
from tests.integration.openai_server import Reply

WINDOW = 5000
SUMMARY = "SUMMARY: steps 1 to {n} done; keep = 'set before'; next: go on."


class LongScript:
    """A root model that works for `iterations` iterations, each printing a screenful, then
    answers from a variable set in its first one and from `history`; summaries on request."""

    def __init__(self, iterations: int = 60) -> None:
        self.iterations = iterations
        self.step = 0
        self.summaries = 0
        self.root_prompts: list[int] = []  # characters of each root request

    def __call__(self, body: dict) -> Reply:
        messages = body.get("messages", [])
        if "Summarize your progress so far" in str(messages[-1].get("content", "")):
            self.summaries += 1
            return Reply(text=SUMMARY.format(n=self.step), chunks=2)
        self.root_prompts.append(sum(len(str(m.get("content", ""))) for m in messages))
        self.step += 1
        if self.step == 1:
            code = "keep = 'set before'\nprint('step 1')"
        elif self.step < self.iterations:
            code = f"x{self.step} = {self.step}\nprint('step {self.step}: ' + 'data ' * 80)"
        else:
            code = ("answer = f\"{keep} | {len(history)} | {history[1]['role']} | "
                    "{x2}\"\nFINAL_VAR('answer')")
        return Reply(text=f"Step {self.step}.\n\n```repl\n{code}\n```\n", chunks=2)


def make_run(server, **overrides) -> tuple[Run, list]:
    overrides.setdefault("max_iterations", 60)
    settings = Settings(model="openai/root-model", api_base=server.base_url, max_retries=0,
                        **overrides)
    bus = ev.EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    return Run(settings, ModelClient(retry=RetryPolicy(base_delay=0.01, max_delay=0.05)),
               bus), seen


async def test_a_run_past_its_window_compacts_and_answers(openai_server):
    openai_server.max_prompt_tokens = WINDOW
    script = LongScript()
    openai_server.responder = script
    run, seen = make_run(openai_server, root_window=WINDOW)
    outcome = await run.start("Work long.", RunContext.from_value("hello"))
    assert outcome.status == "answered", outcome.reason
    assert outcome.iterations == 60
    keep, history, role, x2 = outcome.answer.split(" | ")
    assert keep == "set before" and x2 == "2"  # variables set before the compactions
    assert role == "user" and int(history) > 60  # every message to the last compaction
    compactions = [e for e in seen if isinstance(e, ev.Compacted)]
    assert len(compactions) >= 2 and script.summaries == len(compactions)
    first = compactions[0]
    assert first.reason == "threshold" and first.replaced > 0 and first.first_iteration == 1
    assert first.tokens_after < first.tokens_before <= WINDOW
    assert first.summary.startswith("SUMMARY:") and first.usage.calls == 1
    # The root requests stayed inside the window; the summary calls count in the budgets.
    assert max(script.root_prompts) // 4 < WINDOW
    finished = [e for e in seen if isinstance(e, ev.SessionFinished)][-1]
    assert finished.usage.calls == 60 + len(compactions)
    assert run.ledger.usage.calls == 60 + len(compactions)
    # The transcript's tree shows where and counts the calls.
    model = SessionModel()
    for event in seen:
        model.apply(event)
    assert model.totals.usage.calls == 60 + len(compactions)
    marked = [it for it in model.root.iterations if it.compactions]
    assert [it.node_id for it in marked] == [c.node_id for c in compactions]


async def test_a_refused_prompt_compacts_once_and_is_asked_again(openai_server):
    # No window known (the model is not in the map, no --root-window): said once, then the
    # server's refusal compacts.
    openai_server.max_prompt_tokens = WINDOW
    script = LongScript()
    openai_server.responder = script
    run, seen = make_run(openai_server)
    outcome = await run.start("Work long.", RunContext.from_value("hello"))
    assert outcome.status == "answered", outcome.reason
    compactions = [e for e in seen if isinstance(e, ev.Compacted)]
    assert [c.reason for c in compactions][:2] == ["no_window", "context_window"]
    assert sum(c.reason == "no_window" for c in compactions) == 1
    failed = [e for e in seen if isinstance(e, ev.RootDone) and e.error]
    assert len(failed) == len(compactions) - 1


async def test_without_compaction_the_same_run_fails_on_the_window(openai_server):
    openai_server.max_prompt_tokens = WINDOW
    openai_server.responder = LongScript()
    run, seen = make_run(openai_server, root_window=WINDOW, compact_at=0)
    outcome = await run.start("Work long.", RunContext.from_value("hello"))
    assert outcome.status == "failed" and outcome.error_kind == "context_window"
    assert not [e for e in seen if isinstance(e, ev.Compacted)]


@pytest.mark.parametrize("value, share", [("off", 0.0), ("0.5", 0.5)])
def test_compact_at_takes_a_share_or_off(value, share):
    assert Settings(compact_at=value).compact_at == share
