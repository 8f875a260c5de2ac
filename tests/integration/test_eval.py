"""`rlm-tui eval` as people run it: a real subprocess, real files and sandbox workers, the
local test server as the model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rlm_tui.transcript import read_transcript
from tests.integration.eval_fixtures import Oracle, mixed_tasks, paris, results
from tests.integration.test_cli_run import model_args, rlm_tui

FIELDS = {"id", "answer", "score", "correct", "status", "iterations", "sub_calls", "tokens",
          "cost_usd", "seconds", "transcript"}


def test_mixed_tasks_run_concurrently_and_each_is_scored_as_the_model_deserves(
        openai_server, tmp_path):
    tasks, code, right = mixed_tasks(tmp_path)
    openai_server.responder = Oracle(code, sub=paris, delay=0.2)
    out = tmp_path / "out"
    done = rlm_tui("eval", str(tasks), *model_args(openai_server), "--workers", "4",
                   "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # not a terminal: no progress, nothing but the result
    assert "accuracy" in done.stdout and "7/8 (88%)" in done.stdout
    records = results(out)
    assert set(records) == set(code)
    for tid, record in records.items():
        assert FIELDS <= set(record), tid
        assert record["status"] == "answered", record
        assert record["correct"] is right[tid], record
        assert record["score"] == (1.0 if right[tid] else 0.0) or tid == "task-f1"
        assert Path(record["transcript"]) == out / "transcripts" / f"{tid}.jsonl"
    assert records["task-sub"]["sub_calls"] == 1
    assert records["task-f1"]["score"] == 0.8571
    # Several ran at once: their sessions overlap in time, as their transcripts show.
    spans = []
    for tid in code:
        events = read_transcript(out / "transcripts" / f"{tid}.jsonl").events
        spans.append((events[0].ts, events[-1].ts))
    starts_before_others_end = sum(1 for a in spans for b in spans
                                   if a is not b and b[0] < a[1] and a[0] < b[1])
    assert starts_before_others_end >= 2
    summary = (out / "summary.md").read_text()
    assert all(f"| {tid} |" in summary for tid in code)
    page = (out / "summary.html").read_text()
    assert '<a href="transcripts/task-dir-wrong.jsonl">task-dir-wrong</a>' in page


def test_each_transcript_replays_to_the_recorded_answer(openai_server, tmp_path):
    tasks, code, _ = mixed_tasks(tmp_path)
    openai_server.responder = Oracle(code, sub=paris)
    out = tmp_path / "out"
    done = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out", str(out))
    assert done.returncode == 0, done.stderr
    for tid, record in results(out).items():
        transcript = read_transcript(record["transcript"])
        assert transcript.stop is None and transcript.header["query"].startswith(f"[{tid}]")
        model = transcript.fold()
        assert model.status == "answered" and model.answer == record["answer"]
    # `rlm-tui export` (the replay's reader and fold) takes it as any transcript.
    exported = rlm_tui("export", str(out / "transcripts" / "task-sub.jsonl"),
                       "--format", "markdown")
    assert exported.returncode == 0 and "Paris" in exported.stdout, exported.stderr


def test_a_second_run_on_the_same_out_resumes_without_a_model_call(openai_server, tmp_path):
    tasks, code, _ = mixed_tasks(tmp_path)
    openai_server.responder = Oracle(code, sub=paris)
    out = tmp_path / "out"
    first = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out", str(out),
                    "--json")
    assert first.returncode == 0, first.stderr
    calls = len(openai_server.completion_requests)
    assert calls >= len(code)
    again = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out", str(out),
                    "--json")
    assert again.returncode == 0, again.stderr
    assert len(openai_server.completion_requests) == calls  # not one model call
    one, two = json.loads(first.stdout), json.loads(again.stdout)
    assert {k: one[k] for k in ("tasks", "correct", "accuracy", "tokens")} == \
        {k: two[k] for k in ("tasks", "correct", "accuracy", "tokens")}
    assert len((out / "results.jsonl").read_text().splitlines()) == len(code)


def test_a_kill_loses_only_the_tasks_in_flight(openai_server, tmp_path):
    tasks, code, _ = mixed_tasks(tmp_path)
    oracle = Oracle(code, sub=paris, delay=0.4)
    openai_server.responder = oracle
    out = tmp_path / "out"
    env = {**os.environ, "XDG_CONFIG_HOME": os.devnull}
    proc = subprocess.Popen([sys.executable, "-m", "rlm_tui", "eval", str(tasks),
                             *model_args(openai_server), "--out", str(out), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    results_file = out / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if results_file.exists() and len(results_file.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait(10)
    kept = results(out)
    assert 3 <= len(kept) < len(code)
    assert all(r["status"] == "answered" for r in kept.values())
    seen = dict(oracle.roots)
    openai_server.reset()
    oracle.roots.clear()
    openai_server.responder = oracle
    done = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert set(oracle.roots) == set(code) - set(kept)  # only the unrecorded ran again
    assert set(results(out)) == set(code)
    assert all(seen[tid] == 1 for tid in kept)


def test_the_baseline_answers_beside_the_rlm_with_the_context_cut_and_marked(
        openai_server, tmp_path):
    tasks, code, right = mixed_tasks(tmp_path)
    oracle = Oracle(code, sub=paris, baseline={"task-file": "42", "task-dir": "green"})
    openai_server.responder = oracle
    out = tmp_path / "out"
    done = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out", str(out),
                   "--baseline", "--baseline-window", "5000", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["correct"] == 7 and summary["baseline"]["ran"] == 8
    records = results(out)
    assert records["task-file"]["baseline"]["correct"] is True
    assert records["task-dir"]["baseline"]["correct"] is False
    assert records["task-dir"]["baseline"]["answer"] == "green"
    # The whole context went into the prompt, files under their names; nothing was cut.
    prompt = oracle.baseline_prompts["task-dir"]
    assert "==> answer.txt <==\nblue\n" in prompt and "def main()" in prompt
    assert records["task-dir"]["baseline"]["cut"] is False
    # A window too small for the context: cut, marked in the prompt and the record.
    big = tmp_path / "big.txt"
    big.write_text("filler line\n" * 2000 + "the end\n")
    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps({"id": "big", "query": "[task-big] last line?",
                                 "context": "big.txt", "expected": "the end"}) + "\n")
    oracle.code["task-big"] = "FINAL(context.strip().splitlines()[-1])"
    done = rlm_tui("eval", str(small), *model_args(openai_server), "--out",
                   str(tmp_path / "out2"), "--baseline", "--baseline-window", "5000",
                   "--max-output-tokens", "1000")
    assert done.returncode == 0, done.stderr
    plain = results(tmp_path / "out2")["big"]["baseline"]
    assert plain["cut"] is True and plain["context_chars"] < plain["context_total_chars"]
    assert plain["context_chars"] <= (5000 - 1000 - 512) * 3
    assert "[context cut here to fit the model's window" in oracle.baseline_prompts["task-big"]
    assert "the end" not in oracle.baseline_prompts["task-big"].split("Question:")[0]
    assert "(cut)" in (tmp_path / "out2" / "summary.md").read_text()
    assert "cut to the model's window in 1 of 1" in done.stdout


def test_max_cost_stops_starting_tasks_once_the_eval_reaches_it(openai_server, tmp_path):
    tasks, code, _ = mixed_tasks(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text('[prices."openai/root"]\ninput = 1.0\noutput = 1.0\n')
    # Each root call costs $0.10 (100,000 tokens at $1 a million).
    openai_server.responder = Oracle(code, sub=paris, usage={
        "prompt_tokens": 90_000, "completion_tokens": 10_000, "total_tokens": 100_000})
    out = tmp_path / "out"
    done = rlm_tui("eval", str(tasks), "--model", "openai/root", "--api-base",
                   openai_server.base_url, "--config", str(config), "--workers", "1",
                   "--max-cost", "0.25", "--out", str(out), "--json")
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert len(results(out)) == 3  # $0.10, $0.20, then $0.30 >= $0.25: no fourth
    assert summary["cost_usd"] == 0.3 and len(summary["not_started"]) == 5
    assert "--max-cost 0.25 reached" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_exit_1_when_a_task_cannot_run_and_the_others_are_kept(openai_server, tmp_path):
    tasks, code, _ = mixed_tasks(tmp_path)
    (tmp_path / "empty").mkdir()
    with open(tasks, "a") as file:
        file.write(json.dumps({"id": "task-empty", "query": "[task-empty] q",
                               "context": "empty", "expected": "x"}) + "\n")
    openai_server.responder = Oracle(code, sub=paris)
    out = tmp_path / "out"
    done = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out", str(out))
    assert done.returncode == 1
    assert "could not run: task-empty" in done.stdout
    records = results(out)
    assert records["task-empty"]["status"] == "error"
    assert "context:" in records["task-empty"]["reason"]
    assert sum(r["status"] == "answered" for r in records.values()) == len(code)


def test_exit_2_for_a_bad_tasks_line_before_any_model_call(openai_server, tmp_path):
    tasks, code, _ = mixed_tasks(tmp_path)
    lines = tasks.read_text().splitlines()
    lines.insert(4, '{"id": "x", "query": "q", "context_text": "t", "expected": "1", '
                 '"scorer": "nope"}')
    tasks.write_text("\n".join(lines) + "\n")
    openai_server.responder = Oracle(code, sub=paris)
    out = tmp_path / "out"
    done = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out", str(out))
    assert done.returncode == 2
    assert done.stderr == f"rlm-tui: {tasks}:5: unknown scorer 'nope' (one of exact, " \
        "contains, number, f1, regex, json)\n"
    assert openai_server.completion_requests == [] and not out.exists()


def test_exit_2_for_bad_usage(tmp_path):
    for args, message in [
        (["eval"], "give a tasks file"),
        (["eval", "--suite", "sniah"], "no model"),
        (["eval", "--suite", "nope", "--model", "demo"], "invalid choice"),
        (["eval", str(tmp_path / "none.jsonl"), "--model", "demo"], "no such tasks file"),
        (["eval", "--suite", "sniah", "--model", "demo", "--workers", "0"], "--workers 0"),
    ]:
        done = rlm_tui(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr


def test_exit_2_for_ray_when_ray_is_not_installed(tmp_path):
    hidden = tmp_path / "no_ray"
    (hidden / "ray").mkdir(parents=True)
    (hidden / "ray" / "__init__.py").write_text("raise ImportError('no module named ray')\n")
    done = rlm_tui("eval", "--suite", "sniah", "--model", "demo", "--ray",
                   env_extra={"PYTHONPATH": str(hidden)})
    assert done.returncode == 2
    assert done.stderr == "rlm-tui: --ray needs Ray: pip install 'rlm-tui[ray]'\n"


def test_exit_3_for_a_provider_failure_before_any_task_ran(openai_server, tmp_path):
    from tests.integration.openai_server import Reply

    tasks, _, _ = mixed_tasks(tmp_path)
    openai_server.responder = lambda body: Reply.unauthorized()
    out = tmp_path / "out"
    done = rlm_tui("eval", str(tasks), *model_args(openai_server), "--workers", "1",
                   "--out", str(out), "--json")
    assert done.returncode == 3
    assert "API key" in done.stderr and "Traceback" not in done.stderr
    assert len(openai_server.completion_requests) == 1  # the rest were not started
    assert len(json.loads(done.stdout)["not_started"]) == 7


def test_a_suite_runs_and_scores_right_answers(openai_server, tmp_path):
    # A model that reads the needle with code: every answer right.
    from tests.integration.openai_server import Reply
    from tests.integration.test_engine import repl

    openai_server.responder = lambda body: Reply(text=repl(
        "import re\nname = re.search(r'magic number for (\\S+)\\?', QUERY).group(1)\n"
        "FINAL(re.search('The magic number for ' + re.escape(name) + r' is (\\d+)', "
        "context).group(1))".replace("QUERY", repr(_query(body)))))
    out = tmp_path / "out"
    done = rlm_tui("eval", "--suite", "sniah", "--size", "20000", "--n", "3", "--seed", "5",
                   *model_args(openai_server), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["tasks"] == 3 and summary["correct"] == 3
    assert len((out / "tasks.jsonl").read_text().splitlines()) == 3


def _query(body: dict) -> str:
    import re

    text = "\n".join(str(m.get("content", "")) for m in body["messages"])
    return re.search(r"What is the magic number for \S+\?", text).group(0)


def test_workers_share_one_limit_on_model_calls(openai_server, tmp_path):
    lines, code = [], {}
    for n in range(4):
        tid = f"task-fan-{n}"
        lines.append(json.dumps({"id": tid, "query": f"[{tid}] q", "context_text": "x",
                                 "expected": "done"}))
        code[tid] = "r = llm_query_batched(['p%d' % i for i in range(6)])\nFINAL('done')"
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("\n".join(lines) + "\n")
    openai_server.responder = Oracle(code, delay=0.05)
    out = tmp_path / "out"
    done = rlm_tui("eval", str(tasks), *model_args(openai_server), "--workers", "4",
                   "--max-concurrency", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    # Sub-calls of all tasks, in the order they started and ended: never more than 2 at once.
    moments = []
    for tid in code:
        for event in read_transcript(out / "transcripts" / f"{tid}.jsonl").events:
            if event.type in ("subcall_started", "subcall_finished"):
                moments.append((event.ts, event.type == "subcall_started"))
    assert len(moments) == 4 * 6 * 2
    in_flight = peak = 0
    for _, starts in sorted(moments, key=lambda m: (m[0], m[1])):  # an end before a start
        in_flight += 1 if starts else -1
        peak = max(peak, in_flight)
    assert peak == 2


def test_an_interrupt_stops_the_eval_and_keeps_what_finished(openai_server, tmp_path):
    tasks, code, _ = mixed_tasks(tmp_path)
    openai_server.responder = Oracle(code, sub=paris, delay=0.5)
    out = tmp_path / "out"
    env = {**os.environ, "XDG_CONFIG_HOME": os.devnull}
    proc = subprocess.Popen([sys.executable, "-m", "rlm_tui", "eval", str(tasks),
                             *model_args(openai_server), "--out", str(out), "--workers", "2",
                             "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    results_file = out / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if results_file.exists() and len(results_file.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    assert "interrupted by SIGINT" in stderr and "Traceback" not in stderr
    kept = results(out)
    assert 2 <= len(kept) < len(code)
    assert all(r["status"] == "answered" for r in kept.values())
    summary = json.loads(stdout)
    assert len(summary["not_started"]) == len(code) - len(kept)


def test_exit_2_when_the_ray_cluster_cannot_be_joined(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": "a", "query": "q", "context_text": "t", "expected": "x"}\n')
    for address, message in [("127.0.0.1:9", "cannot join the Ray cluster: Connection "
                              "refused"), ("nonsense", "not an address")]:
        done = rlm_tui("eval", str(tasks), "--model", "demo", "--out", str(tmp_path / "out"),
                       "--ray", address)
        assert done.returncode == 2
        assert done.stderr == f"rlm-tui: --ray {address}: {message}" + \
            (" (auto, HOST:PORT or ray://HOST:10001)" if address == "nonsense" else "") + "\n"
        assert not (tmp_path / "out").exists()


def test_held_cells_in_the_config_do_not_stall_an_eval(openai_server, tmp_path):
    tasks, code, _ = mixed_tasks(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text('approve = "cells"\n')
    openai_server.responder = Oracle(code, sub=paris)
    done = rlm_tui("eval", str(tasks), "--model", "openai/root", "--api-base",
                   openai_server.base_url, "--config", str(config), "--out",
                   str(tmp_path / "out"), "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ('rlm-tui: warning: approve = "cells" in the settings is for the '
                           "app: an eval holds no cell\n")
    assert json.loads(done.stdout)["correct"] == 7


def test_tasks_with_schemas_are_validated_and_the_json_scorer_scores_their_values(
        openai_server, tmp_path):
    from tests.integration.openai_server import Reply
    from tests.integration.test_engine import repl

    own = {"type": "object", "required": ["ok", "n"],
           "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}}}
    (tmp_path / "all.json").write_text(json.dumps({"type": "object", "required": ["ok"]}))
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("\n".join(json.dumps(t) for t in [
        {"id": "own", "query": "[own] ok?", "context_text": "t", "schema": own,
         "scorer": "json", "expected": {"ok": True, "n": 3}},
        {"id": "flag", "query": "[flag] ok?", "context_text": "t", "scorer": "json",
         "expected": {"ok": False}},
    ]) + "\n")
    replies = {"own": [repl('FINAL({"ok": True})'), repl('FINAL({"ok": True, "n": 2})')],
               "flag": [repl('FINAL({"ok": False})')]}
    told: list[str] = []

    def respond(body: dict) -> Reply:
        messages = body["messages"]
        tid = next(t for t in replies if f"[{t}]" in messages[1]["content"])
        told.append(messages[-1]["content"])
        return Reply(text=replies[tid].pop(0) if replies[tid] else "FINAL(none)")

    openai_server.responder = respond
    out = tmp_path / "out"
    done = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out", str(out),
                   "--schema", str(tmp_path / "all.json"))
    assert done.returncode == 0, done.stderr
    records = results(out)
    assert records["own"]["value"] == {"ok": True, "n": 2} and records["own"]["score"] == 0.5
    assert records["own"]["iterations"] == 2  # the first answer lacked n: sent back
    assert any("'n' is a required property" in text for text in told)
    assert records["flag"]["value"] == {"ok": False} and records["flag"]["correct"]
