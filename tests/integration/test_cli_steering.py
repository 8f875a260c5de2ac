"""Steering from a script: follow-up questions (`run --query Q1 --query Q2`), `fork`, and
the bad input of both, as real subprocesses against the local test server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_cli_run import model_args, repo, rlm_tui  # noqa: F401
from tests.integration.test_engine import Scripted, repl


def test_follow_up_questions_run_in_turn_on_one_repl(openai_server, repo, tmp_path):  # noqa: F811
    script = Scripted([repl("n = len(context)\nFINAL(n)"), repl("FINAL(n * 10)")])
    openai_server.responder = script
    transcript = tmp_path / "t.jsonl"
    done = rlm_tui("run", str(repo), "-q", "How many files?", "-q", "Times ten?",
                   *model_args(openai_server), "--transcript", str(transcript))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["3", "30"]
    openai_server.responder = Scripted([repl("n = len(context)\nFINAL(n)"),
                                        repl("FINAL(n * 10)")])
    done = rlm_tui("run", str(repo), "-q", "How many files?", "-q", "Times ten?",
                   *model_args(openai_server), "--json", "--transcript", str(transcript))
    result = json.loads(done.stdout)
    assert [(t["turn"], t["query"], t["answer"]) for t in result["turns"]] == \
        [(1, "How many files?", "3"), (2, "Times ten?", "30")]
    assert result["answer"] == "30"
    # The transcript replays both turns: its export shows each question and answer.
    exported = rlm_tui("export", str(transcript)).stdout
    assert "## Questions" in exported and "Turn 2: Times ten?" in exported


def test_a_stopped_turn_leaves_the_rest_unasked_with_exit_1(openai_server, repo, tmp_path):  # noqa: F811
    openai_server.responder = Scripted([repl("x = 1")] * 5)
    done = rlm_tui("run", str(repo), "-q", "first", "-q", "second",
                   *model_args(openai_server), "--max-tokens", "1", "--json",
                   "--transcript", str(tmp_path / "t.jsonl"))
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert len(result["turns"]) == 1 and result["not_asked"] == ["second"]
    assert "not asked (the session stopped): second" in done.stderr


def test_run_with_approve_is_a_usage_error(repo):  # noqa: F811
    done = rlm_tui("run", str(repo), "-q", "q", "--model", "demo", "--approve", "cells")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "needs the app" in done.stderr


def recorded(openai_server, repo, tmp_path) -> Path:  # noqa: F811
    openai_server.responder = Scripted([
        repl("a = llm_query('first')\nprint(a)"),
        repl("b = llm_query('second')\nprint(b)"),
        repl("FINAL(b)"),
    ], sub=lambda p: f"recorded {p}")
    transcript = tmp_path / "parent.jsonl"
    done = rlm_tui("run", str(repo), "-q", "What?", *model_args(openai_server),
                   "--transcript", str(transcript))
    assert done.returncode == 0, done.stderr
    return transcript


def test_fork_goes_on_from_k_with_no_model_call_for_the_rebuild(openai_server, repo,  # noqa: F811
                                                                tmp_path):
    parent = recorded(openai_server, repo, tmp_path)
    before = parent.read_bytes()
    openai_server.reset()
    live = Scripted([repl("FINAL(a + ' / ' + b)")], sub=lambda p: "LIVE")
    openai_server.responder = live
    fork = tmp_path / "fork.jsonl"
    done = rlm_tui("fork", str(parent), "--at", "2", "--note", "combine them",
                   *model_args(openai_server), "--transcript", str(fork), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == "recorded first / recorded second"
    assert result["fork_of"]["iteration"] == 2
    assert len(openai_server.completion_requests) == 1  # the live call after K, only
    assert parent.read_bytes() == before  # the original is not touched
    header = json.loads(fork.read_text().splitlines()[0])
    assert header["fork_of"]["transcript"] == str(parent)
    exported = rlm_tui("export", str(fork)).stdout
    assert f"Forked from | {parent}".replace("_", "\\_") in exported or \
        "Forked from" in exported
    assert "note from the person, sent before this call: combine them" in exported


def test_fork_bad_input_is_one_line_and_exit_2(openai_server, repo, tmp_path):  # noqa: F811
    parent = recorded(openai_server, repo, tmp_path)
    cases = [
        (["fork", str(parent), "--at", "9"], "has 3 iterations (1 to 3)"),
        (["fork", str(tmp_path / "missing.jsonl"), "--at", "1"], "missing.jsonl"),
        (["fork", str(parent), "--at", "two"], "give an iteration K"),
    ]
    rlms_log = Path(__file__).parents[1] / "fixtures" / "rlms_logs" / "v011_final_var.jsonl"
    cases.append((["fork", str(rlms_log), "--at", "1"], "does not record sub-call responses"))
    for args, message in cases:
        done = rlm_tui(*args, *model_args(openai_server))
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_fork_of_a_context_that_is_gone_asks_for_one(openai_server, repo, tmp_path):  # noqa: F811
    parent = recorded(openai_server, repo, tmp_path)
    moved = tmp_path / "moved"
    repo.rename(moved)
    done = rlm_tui("fork", str(parent), "--at", "1", *model_args(openai_server))
    assert done.returncode == 2 and "is gone: pass --context PATH" in done.stderr
    openai_server.responder = Scripted([repl("FINAL(a)")])
    done = rlm_tui("fork", str(parent), "--at", "1", "--context", str(moved),
                   *model_args(openai_server), "--transcript", str(tmp_path / "f.jsonl"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "recorded first\n"
