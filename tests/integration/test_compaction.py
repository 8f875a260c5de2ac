"""Compaction of a long run (engine/compaction.py) on the local server, whose small window
refuses prompts past it as an OpenAI-compatible server does."""

from __future__ import annotations

import json

import pytest

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine import Run, RunContext
from rlm_tui.lm import ModelClient, RetryPolicy
from rlm_tui.forks import plan_fork
from rlm_tui.transcript import SessionModel, export_transcript, parse_transcript
from rlm_tui.transcript.writer import TranscriptWriter
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
        self.bodies: list[dict] = []  # each root request (not the summaries)

    def __call__(self, body: dict) -> Reply:
        messages = body.get("messages", [])
        if "Summarize your progress so far" in str(messages[-1].get("content", "")):
            self.summaries += 1
            return Reply(text=SUMMARY.format(n=self.step), chunks=2)
        self.root_prompts.append(sum(len(str(m.get("content", ""))) for m in messages))
        self.bodies.append(body)
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
    calls = [e.usage for e in seen if isinstance(e, ev.RootDone)] + [c.usage for c in compactions]
    assert run.ledger.usage.prompt_tokens == sum(u.prompt_tokens for u in calls)
    assert run.ledger.usage.completion_tokens == sum(u.completion_tokens for u in calls)
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
    # The refusal stated the window: the later compactions come ahead of it, none refused.
    assert {c.reason for c in compactions[2:]} <= {"threshold"} and len(compactions) > 2
    assert compactions[2].window == WINDOW
    failed = [e for e in seen if isinstance(e, ev.RootDone) and e.error]
    assert len(failed) == 1


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


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One compacted 60-iteration run, as its transcript has it, and its root requests."""
    from tests.integration.openai_server import OpenAIServer

    path = tmp_path_factory.mktemp("compaction") / "long.jsonl"

    async def record():
        with OpenAIServer() as server:
            server.max_prompt_tokens = WINDOW
            script = LongScript()
            server.responder = script
            run, seen = make_run(server, root_window=WINDOW)
            writer = TranscriptWriter(path, query="Work long.", settings={}, context={})
            run.bus.subscribe(writer)
            outcome = await run.start("Work long.", RunContext.from_value("hello"))
            writer.close()
            assert outcome.status == "answered"
            return seen, script

    import asyncio

    seen, script = asyncio.run(record())
    return path, seen, script


def test_the_transcript_keeps_every_compaction_and_exports_show_them(recorded):
    path, seen, _ = recorded
    transcript = parse_transcript(path.read_bytes())
    compactions = [e for e in seen if isinstance(e, ev.Compacted)]
    read = [e for e in transcript.events if isinstance(e, ev.Compacted)]
    assert read == compactions  # a round-trip, summary and usage included
    tree = transcript.fold()
    assert tree.totals.usage.calls == 60 + len(compactions)
    first = compactions[0]
    markdown = export_transcript(transcript, "markdown")
    assert "compaction 1: iterations 1-" in markdown and first.summary in markdown
    html = export_transcript(transcript, "html")
    assert "compaction 1: iterations 1-" in html and "Summary 1" in html
    document = json.loads(export_transcript(transcript, "json"))
    text = json.dumps(document)
    assert '"compactions"' in text and first.summary in text


def _iteration_of(event: ev.Compacted) -> int:
    return int(event.node_id.rsplit(".i", 1)[1])


async def test_a_fork_before_a_compaction_has_the_whole_conversation(recorded, openai_server):
    _, seen, script = recorded
    first = [e for e in seen if isinstance(e, ev.Compacted)][0]
    at = _iteration_of(first) - 1  # the last iteration before it
    plan = plan_fork(seen, str(at), transcript="long.jsonl")
    bodies: list[dict] = []
    openai_server.responder = lambda body: (bodies.append(body), Reply(
        text="```repl\ntry:\n    history\n    had = 'True'\nexcept NameError:\n    had = 'False'\n"
        "answer = keep + ' ' + had\nFINAL_VAR('answer')\n```"))[1]
    run, forked = make_run(openai_server)  # no window known: no compaction
    outcome = await run.start_fork(plan, RunContext.from_value("hello"))
    assert outcome.answer == "set before False"  # no `history` before a compaction
    sent = bodies[0]["messages"]
    assert "compacted" not in json.dumps(sent)
    assert len(sent) == 2 + 2 * at  # system, question, then every reply and its output
    # The parent's request of iteration `at`, and that iteration's reply and output.
    assert sent[:-2] == script.bodies[at - 1]["messages"]
    assert not [e for e in forked if isinstance(e, ev.Compacted) and e.replaced]


async def test_a_fork_after_a_compaction_rebuilds_it_from_the_record(recorded, openai_server):
    _, seen, script = recorded
    first = [e for e in seen if isinstance(e, ev.Compacted)][0]
    at = _iteration_of(first)  # the iteration whose call came after the summary
    plan = plan_fork(seen, str(at), transcript="long.jsonl")
    live = LongScript()
    live.step = 59
    openai_server.responder = live
    run, forked = make_run(openai_server)
    outcome = await run.start_fork(plan, RunContext.from_value("hello"))
    assert outcome.status == "answered", outcome.reason
    # The conversation is the parent's after its compaction: its next request, exactly.
    assert live.bodies[0]["messages"] == script.bodies[at]["messages"]
    assert live.summaries == 0  # the summary came from the record: no model call
    replayed = [e for e in forked if isinstance(e, ev.Compacted) and e.reason != "no_window"]
    assert [(e.rebuilt, e.summary) for e in replayed] == [(True, first.summary)]
    # `history` is in the rebuilt REPL too (the answer reads it).
    assert int(outcome.answer.split(" | ")[1]) > 2 * at


def test_rlm_tui_run_past_its_window_answers_and_fails_without_compaction(openai_server,
                                                                           tmp_path):
    from tests.integration.test_cli_run import rlm_tui

    (tmp_path / "notes.txt").write_text("hello\n")
    openai_server.max_prompt_tokens = WINDOW
    args = ["run", str(tmp_path / "notes.txt"), "-q", "Work long.", "--model", "openai/root",
            "--api-base", openai_server.base_url, "--config", "/dev/null",
            "--max-iterations", "60", "--root-window", str(WINDOW), "--json"]
    openai_server.responder = LongScript()
    done = rlm_tui(*args, "--transcript", str(tmp_path / "a.jsonl"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"].startswith("set before | ")
    openai_server.responder = LongScript()
    failed = rlm_tui(*args, "--no-compact", "--transcript", str(tmp_path / "b.jsonl"))
    assert failed.returncode == 3
    assert "the prompt does not fit the model's context window" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and "Traceback" not in failed.stderr
    bad = rlm_tui(*args, "--compact-at", "2")
    assert bad.returncode == 2 and "not a share below 1" in bad.stderr


def test_the_progress_line_says_each_compaction_once():
    import io

    from rlm_tui.progress import ProgressLine

    out = io.StringIO()
    progress = ProgressLine(out, enabled=True)
    progress(ev.SessionStarted(session_id="r", node_id="r", query="q", depth=0,
                               root_model="openai/x", sub_model="openai/x", max_iterations=9))
    progress(ev.IterationStarted(session_id="r", node_id="r.i1", parent_id="r", iteration=1,
                                 max_iterations=9))
    progress(ev.Compacted(session_id="r", node_id="r.i1", parent_id="r", reason="no_window",
                          model="openai/x"))
    progress(ev.Compacted(session_id="r", node_id="r.i1", parent_id="r", replaced=6,
                          first_iteration=1, last_iteration=3, tokens_before=4300,
                          tokens_after=800, window=5000, summary="s"))
    text = out.getvalue()
    assert "compaction off: the input window of openai/x is not known" in text
    assert "compaction 1: iterations 1-3 (6 messages) replaced" in text


async def test_an_exchange_too_big_to_compact_away_fails_as_before(openai_server):
    # Every output alone passes the window: a compaction cannot help, the run fails once
    # (a summary of a summary is never asked for).
    openai_server.max_prompt_tokens = 3000
    replies = iter(range(1, 100))

    def responder(body):
        if "Summarize your progress so far" in str(body["messages"][-1]["content"]):
            return Reply(text="summary")
        return Reply(text=f"```repl\nprint('x' * 13000)  # {next(replies)}\n```")

    openai_server.responder = responder
    run, seen = make_run(openai_server, root_window=3000)
    outcome = await run.start("Work long.", RunContext.from_value("hello"))
    assert outcome.status == "failed" and outcome.error_kind == "context_window"
    assert len([e for e in seen if isinstance(e, ev.Compacted) and e.replaced]) <= 1


async def test_a_token_budget_counts_the_summary_call(openai_server):
    # The summary call's tokens count: a budget the run's calls alone would have left open
    # (before its compaction) is passed by it, and the run halts there.
    openai_server.max_prompt_tokens = WINDOW
    openai_server.responder = LongScript()
    probe, seen = make_run(openai_server, root_window=WINDOW)
    await probe.start("Work long.", RunContext.from_value("hello"))
    first = [e for e in seen if isinstance(e, ev.Compacted)][0]
    before = [e for e in seen if isinstance(e, ev.RootDone)][:_iteration_of(first) - 1]
    spent = sum(e.usage.total_tokens for e in before)
    openai_server.responder = LongScript()
    run, seen = make_run(openai_server, root_window=WINDOW,
                         max_tokens=spent + first.usage.total_tokens // 2)
    outcome = await run.start("Work long.", RunContext.from_value("hello"))
    assert outcome.status == "halted" and "token" in (outcome.reason or "")
    assert [e for e in seen if isinstance(e, ev.Compacted)]  # the summary was asked for
    assert run.ledger.usage.total_tokens > spent


def test_compaction_settings_from_the_config_file_and_the_environment(tmp_path):
    from rlm_tui.config import load_settings
    from rlm_tui.errors import ConfigError

    config = tmp_path / "config.toml"
    config.write_text('compact_at = "off"\nroot_window = 8000\n')
    settings = load_settings({}, config_path=config, environ={})
    assert (settings.compact_at, settings.root_window) == (0.0, 8000)
    settings = load_settings({}, config_path=config, environ={"RLM_TUI_COMPACT_AT": "0.7"})
    assert settings.compact_at == 0.7
    config.write_text("compact_at = 1.5\n")
    with pytest.raises(ConfigError, match="compact_at"):
        load_settings({}, config_path=config, environ={})


async def test_a_follow_up_question_outlives_the_compaction_of_its_turn(openai_server):
    openai_server.max_prompt_tokens = WINDOW
    first = iter(["```repl\nkeep = 'set before'\nFINAL('first done')\n```"])
    script = LongScript()
    script.step = 1  # `keep` is set by the first question's turn

    def responder(body):
        reply = next(first, None)
        return Reply(text=reply) if reply is not None else script(body)

    openai_server.responder = responder
    run, seen = make_run(openai_server, root_window=WINDOW)
    assert (await run.start("First.", RunContext.from_value("hello"), keep_open=True)).answer
    outcome = await run.ask("Second question: work long.")
    await run.close()
    assert outcome.status == "answered", outcome.reason
    compacted = [e for e in seen if isinstance(e, ev.Compacted) and e.replaced]
    assert compacted
    after = script.bodies[-1]["messages"]
    assert "The question in hand, as it was asked:" in after[3]["content"]
    assert "Second question: work long." in after[3]["content"]


def test_the_window_is_the_flag_else_the_price_maps_else_unknown():
    from rlm_tui.engine.session import Session
    from rlm_tui.lm.price_map import model_window

    def window(**settings) -> int | None:
        run = Run(Settings(**settings), ModelClient(), ev.EventBus())
        return Session(run, "q", RunContext.from_value("x"), depth=0,
                       session_id="s").compactor.window()

    listed = model_window("openai/gpt-5-mini")
    assert listed is not None and listed > 100_000
    assert window(model="openai/gpt-5-mini") == listed
    assert window(model="openai/gpt-5-mini", root_window=9000) == 9000
    assert window(model="openai/not-a-listed-model") is None
