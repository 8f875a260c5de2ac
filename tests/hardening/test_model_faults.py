"""A run whose sub-calls meet every fault a provider can throw, over both transports.

About fifty sub-calls (one batch of 30, then 20 single calls) go to the local server; a hash
of each prompt picks whether its first attempt fails and how: a 500, a 429 with a small
Retry-After, a stream that stalls (past the short `request_timeout`), a stream cut without
[DONE], or a malformed chunk. Retries then succeed. The root model's second turn meets a 500 once.
The run must answer, show each fault as one `subcall_retry` on the node that met it, and
count exactly the tokens the server reported for the attempts that succeeded. A 401, which
no retry fixes, reaches the model's code as an "Error: ..." string.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from rlm_tui import events as ev
from rlm_tui.config import Settings, load_settings
from rlm_tui.engine import Run, RunContext
from rlm_tui.lm import ModelClient, RetryPolicy
from rlm_tui.lm.routes import USER_AGENT
from rlm_tui.lm.spec import TRANSPORT_ENV
from rlm_tui.transcript import SessionModel, read_transcript
from tests.integration.openai_server import Reply
from tests.integration.test_engine import repl

FAULTS = ("server_error", "rate_limited", "stall", "cut", "malformed")
RETRY_AFTER_S = 0.1
REQUEST_TIMEOUT_S = 2.0  # short, so a stall costs little; long enough for a busy machine
# Custom prices (USD per million tokens) so the ledger's cost can be checked too.
PRICES = {"openai/root-model": (3.0, 15.0), "openai/sub-model": (0.5, 1.5)}
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=0.0)

BATCH = [f"summarise part {i} of the notes" for i in range(30)]
SINGLES = [f"single question number {i}" for i in range(20)]
NEEDS_AUTH = "this one is refused by the provider"


# Salts the hash so that these prompts meet every kind of fault, in the batch and in the
# single calls (checked by the first test below).
FAULT_SALT = "4"


def fault_for(prompt: str) -> str | None:
    """One prompt in five fails on its first attempt; the hash picks how."""
    digest = int.from_bytes(hashlib.sha256(f"{FAULT_SALT}:{prompt}".encode()).digest()[:8],
                            "big")
    if digest % 5:
        return None
    return FAULTS[(digest // 5) % len(FAULTS)]


PLAN = {p: fault_for(p) for p in BATCH + SINGLES}


def faulty_reply(kind: str) -> Reply:
    text = "this reply never arrives whole"
    if kind == "server_error":
        return Reply.error(500, "The server had an error while processing your request.",
                           type="server_error")
    if kind == "rate_limited":
        return Reply.rate_limited(str(RETRY_AFTER_S))
    if kind == "stall":
        return Reply(text=text, stall_after=2)
    if kind == "cut":
        return Reply(text=text, cut_after=2)
    return Reply(text=text, malformed_after=2)


def usage_for(text: str) -> dict[str, int]:
    """Distinct, known counts per reply, so a call counted twice or missed shows."""
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
    prompt, completion = 50 + digest % 900, 5 + digest % 97
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


ROOTS = [
    repl("names = sorted(context)\n"
         f"answers = llm_query_batched({BATCH!r})\n"
         "print(len(answers), sum(a.startswith('Error') for a in answers))"),
    repl("singles = []\n"
         f"for prompt in {SINGLES!r}:\n"
         "    singles.append(llm_query(prompt))\n"
         f"refused = llm_query({NEEDS_AUTH!r})\n"
         "print('refused:', refused)"),
    repl("bad = sum(a.startswith('Error') for a in answers + singles)\n"
         "FINAL(f'{len(answers)} {len(singles)} {bad} {refused[:6]}')"),
]


# The root model's second turn fails once too: its retry belongs to that iteration's node.
ROOT_FAULT_TURN = 2
# What each fault's retry says, in a word both transports use.
REASON_MARKERS = {"server_error": "server", "rate_limited": "rate limit", "stall": "time",
                  "cut": "connection", "malformed": "malformed"}


@dataclass
class FaultyProvider:
    """The server's responder: scripted root turns, sub-calls answered or failed by plan.

    `succeeded` holds the usage of every reply sent whole: the ledger must equal its sum.
    """

    roots: list[str] = field(default_factory=lambda: list(ROOTS))
    plan: dict[str, str | None] = field(default_factory=lambda: dict(PLAN))
    seen: set[str] = field(default_factory=set)
    succeeded: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    root_requests: list[dict] = field(default_factory=list)

    def __call__(self, body: dict) -> Reply:
        messages = body.get("messages", [])
        if any(m.get("role") == "system" for m in messages):
            turn = sum(m["role"] == "assistant" for m in messages) + 1
            if turn == ROOT_FAULT_TURN and f"root turn {turn}" not in self.seen:
                self.seen.add(f"root turn {turn}")
                return faulty_reply("server_error")
            self.root_requests.append(body)
            text = self.roots.pop(0) if self.roots else "FINAL(out of script)"
            return self._whole(body["model"], text)
        prompt = messages[-1]["content"]
        first = prompt not in self.seen
        self.seen.add(prompt)
        if prompt == NEEDS_AUTH:
            return Reply.unauthorized()
        kind = self.plan.get(prompt)
        if first and kind is not None:
            return faulty_reply(kind)
        return self._whole(body["model"], f"answer to {prompt}")

    def _whole(self, model: str, text: str) -> Reply:
        usage = usage_for(text)
        self.succeeded.append((model, usage))
        return Reply(text=text, chunks=4, usage=usage)


@pytest.fixture(params=["direct", "litellm"])
def transport(request, monkeypatch, openai_server):
    """Runs the test over each transport, chosen as a user would: $RLM_TUI_TRANSPORT (the
    `transport` setting); then checks that every request the server got came over it."""
    monkeypatch.setenv(TRANSPORT_ENV, "auto" if request.param == "direct" else "litellm")
    yield request.param
    for sent in openai_server.completion_requests:
        went_direct = sent.headers.get("User-Agent") == USER_AGENT
        assert went_direct == (request.param == "direct"), sent.headers.get("User-Agent")


def settings_for(server, tmp_path) -> Settings:
    """Through the real layers: no config file, $RLM_TUI_TRANSPORT, then these flags."""
    config = tmp_path / "config.toml"
    config.write_text("")
    flags = {"model": "openai/root-model", "sub_model": "openai/sub-model",
             "api_base": server.base_url, "request_timeout": REQUEST_TIMEOUT_S,
             "max_retries": 3}
    return load_settings(flags, config_path=config)


def test_the_fault_plan_covers_every_fault_on_a_fifth_of_the_calls():
    kinds = [k for k in PLAN.values() if k is not None]
    assert set(kinds) == set(FAULTS)
    assert 8 <= len(kinds) <= 12  # about 20% of 50
    assert any(PLAN[p] for p in BATCH) and any(PLAN[p] for p in SINGLES)


async def test_a_run_answers_through_faults_with_every_retry_on_its_node(openai_server,
                                                                         transport, tmp_path):
    provider = FaultyProvider()
    openai_server.responder = provider
    settings = settings_for(openai_server, tmp_path)
    bus = ev.EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    run = Run(settings, ModelClient(prices=PRICES, retry=FAST_RETRY), bus)
    files = {f"notes/part{i}.md": f"part {i}\n" for i in range(30)}

    outcome = await run.start("Summarise the notes.", RunContext.from_value(files))

    assert outcome.status == "answered", outcome.reason
    assert outcome.answer == "30 20 0 Error:"
    # The 401 reached the code as a string, and was not retried.
    assert "refused: Error: " in provider.root_requests[2]["messages"][-1]["content"]

    started = {e.prompt: e for e in seen if e.type == "subcall_started"}
    finished = {e.node_id: e for e in seen if e.type == "subcall_finished"}
    retries: dict[str, list] = {}
    for e in seen:
        if e.type == "subcall_retry":
            retries.setdefault(e.node_id, []).append(e)
    assert len(started) == 51
    for prompt, kind in PLAN.items():
        node = started[prompt].node_id
        done = finished[node]
        assert done.error is None, (prompt, done.error)
        assert done.response == f"answer to {prompt}"
        if kind is None:
            assert node not in retries, (prompt, retries.get(node))
            assert done.attempts == 1
            continue
        [retry] = retries[node]
        assert retry.attempt == 1 and retry.parent_id == done.parent_id
        assert done.attempts == 2
        if kind == "rate_limited":
            assert retry.wait_s == pytest.approx(RETRY_AFTER_S)
        assert REASON_MARKERS[kind] in retry.reason.lower(), (kind, retry.reason)
    refused = finished[started[NEEDS_AUTH].node_id]
    assert refused.error and "401" in refused.error and refused.attempts == 1
    assert started[NEEDS_AUTH].node_id not in retries
    # The root's one failed attempt shows on its iteration, and nowhere else.
    iteration = f"{run.run_id}.i{ROOT_FAULT_TURN}"
    [root_retry] = retries.pop(iteration)
    assert root_retry.attempt == 1 and "server" in root_retry.reason.lower()
    assert set(retries) <= {e.node_id for e in started.values()}
    assert len(retries) == sum(k is not None for k in PLAN.values())

    # The ledger holds exactly what the server reported for the replies sent whole.
    prompt_tokens = sum(u["prompt_tokens"] for _, u in provider.succeeded)
    completion_tokens = sum(u["completion_tokens"] for _, u in provider.succeeded)
    cost = sum((u["prompt_tokens"] * PRICES[f"openai/{m}"][0]
                + u["completion_tokens"] * PRICES[f"openai/{m}"][1]) / 1e6
               for m, u in provider.succeeded)
    usage = run.ledger.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt_tokens, completion_tokens)
    assert usage.calls == len(provider.succeeded) == 3 + 50
    assert usage.unpriced_calls == 0
    assert usage.cost_usd == pytest.approx(cost, rel=1e-9)
    # ... and so do the session's roll-up and the fold every view renders from.
    [session_finished] = [e for e in seen if e.type == "session_finished"]
    assert session_finished.usage.total_tokens == prompt_tokens + completion_tokens
    model = SessionModel.from_events(seen)
    assert model.totals.usage.total_tokens == prompt_tokens + completion_tokens
    assert model.totals.sub_calls == 51
    fault_nodes = [model.nodes[started[p].node_id] for p, k in PLAN.items() if k]
    assert all(len(node.retries) == 1 for node in fault_nodes)
    assert len(model.nodes[iteration].retries) == 1


def test_the_command_line_run_takes_its_transport_from_the_environment(openai_server,
                                                                       transport, tmp_path):
    """`rlm-tui run` end to end: RLM_TUI_TRANSPORT picks the transport, every kind of fault
    is retried, and --json's totals are the usage the server reported."""
    prompts = [f"command line {kind}" for kind in FAULTS] + [f"clean {i}" for i in range(3)]
    provider = FaultyProvider(
        roots=[repl(f"r = llm_query_batched({prompts!r})\n"
                    "FINAL(str(sum(a.startswith('Error') for a in r)))")],
        plan={f"command line {kind}": kind for kind in FAULTS})
    openai_server.responder = provider
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "notes.md").write_text("# notes\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLM_TUI_")}
    env.update(RLM_TUI_TRANSPORT="auto" if transport == "direct" else "litellm",
               RLM_TUI_REQUEST_TIMEOUT=str(REQUEST_TIMEOUT_S),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run(
        [sys.executable, "-m", "rlm_tui", "run", str(tmp_path / "repo"), "-q", "q",
         "--model", "openai/root-model", "--sub-model", "openai/sub-model", "--api-base",
         openai_server.base_url, "--json", "--transcript", str(tmp_path / "t.jsonl")],
        capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == "0" and result["sub_calls"] == len(prompts)
    prompt_tokens = sum(u["prompt_tokens"] for _, u in provider.succeeded)
    completion_tokens = sum(u["completion_tokens"] for _, u in provider.succeeded)
    assert result["tokens"] == {"prompt": prompt_tokens, "completion": completion_tokens,
                                "total": prompt_tokens + completion_tokens,
                                "cached": 0, "cache_write": 0, "estimated": False}
    events = read_transcript(tmp_path / "t.jsonl").events
    retried = {e.node_id for e in events if e.type == "subcall_retry"}
    faulty = {e.node_id for e in events if e.type == "subcall_started"
              and e.prompt.startswith("command line")}
    assert retried == faulty and len(faulty) == len(FAULTS)
