"""Live runs through the real engine -> transcript on disk -> reader and fold: the same tree,
totals and answer as the live events gave."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine import Run, RunContext
from rlm_tui.lm import ModelClient, RetryPolicy
from rlm_tui.transcript import SessionModel, TranscriptWriter, export_transcript, read_transcript
from tests.integration.openai_server import OpenAIServer, Reply

FILES = {
    "src/cache.py": "class LRUCache:\n    def evict(self):\n        '''Drop the oldest.'''\n",
    "README.md": "# tool\nThe cache evicts the least recently used entry.\n",
    "other.txt": "nothing relevant here\n",
}


async def record(run: Run, bus: ev.EventBus, path, query: str, context: RunContext):
    live: list[ev.EventBase] = []
    bus.subscribe(live.append)
    writer = TranscriptWriter(path, query=query, settings=run.settings.public_dict(),
                              context=context.summary)
    bus.subscribe(writer)
    try:
        outcome = await run.start(query, context)
    finally:
        writer.close()
    return outcome, live


def assert_same_fold(transcript, live: list[ev.EventBase]) -> SessionModel:
    assert transcript.events == live
    replayed = transcript.fold()
    assert replayed.to_dict() == SessionModel.from_events(live, transcript.header).to_dict()
    return replayed


async def test_a_demo_run_reads_back_to_the_same_tree_totals_and_answer(tmp_path):
    bus = ev.EventBus()
    run = Run(Settings(model="demo"), ModelClient(), bus)
    path = tmp_path / "demo.jsonl"
    query = "How does the cache evict entries?"
    outcome, live = await record(run, bus, path, query, RunContext.from_value(FILES))
    assert outcome.status == "answered"

    transcript = read_transcript(path)
    model = assert_same_fold(transcript, live)
    assert transcript.stop is None and transcript.skipped == {}
    assert model.answer == outcome.answer and model.status == "answered"
    assert len(model.root.iterations) == outcome.iterations
    assert model.totals.usage == run.ledger.usage
    assert model.totals.sub_calls == run.ledger.sub_calls == 2
    calls = [call for it in model.root.iterations for cell in it.cells
             for call in cell.subcalls]
    assert all(call.status == "done" and call.response for call in calls)
    assert model.query == query and model.settings["model"] == "demo"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


def repl(code: str) -> str:
    return f"Working on it.\n\n```repl\n{code}\n```\n"


async def test_a_run_with_a_child_session_errors_and_retries_reads_back_the_same(
        tmp_path, server):
    roots = [
        repl("notes = llm_query_batched(['a: ' + context[:5], 'b: ' + context[5:10]])\n"
             "count = rlm_query('How many words are in: alpha beta gamma?', "
             "context='alpha beta gamma')\nprint(notes, count)"),
        'FINAL("3")',  # the child session's only turn
        repl("print(undefined_name)"),
        repl("FINAL_VAR('count')"),
    ]
    sub_replies = [Reply.rate_limited("0"), Reply(text="first part"), Reply(text="second")]

    def respond(body: dict) -> Reply:
        messages = body.get("messages", [])
        if any(m.get("role") == "system" for m in messages):
            return Reply(text=roots.pop(0), chunks=4)
        return sub_replies.pop(0) if sub_replies else Reply(text="more")

    server.reset()
    server.responder = respond
    settings = Settings(model="openai/root-model", sub_model="openai/sub-model",
                        api_base=server.base_url, max_retries=2, max_depth=2,
                        max_concurrency=1)
    bus = ev.EventBus()
    client = ModelClient(retry=RetryPolicy(base_delay=0.01, max_delay=0.05))
    run = Run(settings, client, bus)
    path = tmp_path / "scripted.jsonl"
    outcome, live = await record(run, bus, path, "Count the words",
                                 RunContext.from_value("alpha beta gamma delta"))
    assert outcome.status == "answered" and outcome.answer == "3"

    model = assert_same_fold(read_transcript(path), live)
    first, second, third = model.root.iterations
    cell = first.cells[0]
    kinds = [call.kind for call in cell.subcalls]
    assert kinds.count("llm") == 2 and kinds.count("rlm") == 1
    retried = [call for call in cell.subcalls if call.retries]
    assert retried and retried[0].retries[0].reason
    child = next(call for call in cell.subcalls if call.kind == "rlm").child
    assert child is not None and child.answer == "3" and child.depth == 1
    assert second.cells[0].status == "error" and "undefined_name" in second.cells[0].error
    assert third.cells[0].final_answer == "3"
    assert model.totals.usage == run.ledger.usage
    assert model.totals.sub_calls == run.ledger.sub_calls == 3

    # every export renders this tree; the rlm-log keeps the child's trajectory
    for fmt in ("markdown", "html", "json", "rlm-log"):
        assert "alpha beta gamma" in export_transcript(read_transcript(path), fmt)
