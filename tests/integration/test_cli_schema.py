"""`rlm-tui run --schema FILE`: the validated JSON on stdout, `value` in --json, a forced
answer that fails validation, and a broken schema file as one line (exit 2, nothing
written). A real subprocess against the local test server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration.test_cli_run import model_args, repo, rlm_tui  # noqa: F401 (fixture)
from tests.integration.test_engine import Scripted, repl

VERDICT = {"type": "object", "required": ["checkpoint", "reason"],
           "properties": {"checkpoint": {"type": "boolean"}, "reason": {"type": "string"}}}


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(VERDICT))
    return path


def test_run_prints_the_validated_json_after_a_rejection(openai_server, repo, schema_file,
                                                          tmp_path):
    script = Scripted([repl('FINAL({"checkpoint": "yes"})'),
                       repl('FINAL({"reason": "tests pass",  "checkpoint": True})')])
    openai_server.responder = script
    transcript = tmp_path / "t.jsonl"
    done = rlm_tui("run", str(repo), "-q", "Should we checkpoint?", "--schema",
                   str(schema_file), *model_args(openai_server), "--transcript",
                   str(transcript))
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"reason": "tests pass", "checkpoint": true}\n'
    events = [json.loads(line) for line in transcript.read_text().splitlines()[1:]]
    rejected = [e for e in events if e["type"] == "answer_rejected"]
    assert len(rejected) == 1
    assert rejected[0]["errors"] == ["'reason' is a required property",
                                     "at $.checkpoint: 'yes' is not of type 'boolean'"]
    started = next(e for e in events if e["type"] == "session_started")
    assert started["answer_schema"] == VERDICT
    told = script.root_requests[1]["messages"][-1]["content"]
    assert "- 'reason' is a required property" in told
    # Every export shows the rejection and the validated answer.
    markdown = rlm_tui("export", str(transcript), "-f", "markdown").stdout
    assert "**Answer rejected** (FINAL)" in markdown and "Validated:" in markdown
    assert "'yes' is not of type 'boolean'" in markdown.replace("\\", "")
    page = rlm_tui("export", str(transcript), "-f", "html", "-o", "-").stdout
    assert "Answer rejected (FINAL)" in page and "&#x27;yes&#x27; is not of type" in page
    document = json.loads(rlm_tui("export", str(transcript), "-f", "json").stdout)
    session = document["session"]
    assert session["iterations"][0]["rejections"][0]["answer"] == '{"checkpoint": "yes"}'
    assert document["value"] == {"reason": "tests pass", "checkpoint": True}


def test_run_json_carries_the_value(openai_server, repo, schema_file, tmp_path):
    openai_server.responder = Scripted([repl('FINAL({"checkpoint": False, "reason": "red"})')])
    done = rlm_tui("run", str(repo), "-q", "q", "--schema", str(schema_file), "--json",
                   *model_args(openai_server), "--transcript", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["value"] == {"checkpoint": False, "reason": "red"}
    assert json.loads(result["answer"]) == result["value"]
    assert result["turns"][0]["value"] == result["value"]


def test_run_json_value_is_null_without_a_schema(openai_server, repo, tmp_path):
    openai_server.responder = Scripted([repl('FINAL({"ok": True})')])
    done = rlm_tui("run", str(repo), "-q", "q", "--json", *model_args(openai_server),
                   "--transcript", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["value"] is None and result["answer"] == '{"ok": true}'


def test_a_forced_answer_that_fails_validation_exits_1_saying_why(openai_server, repo,
                                                                  schema_file, tmp_path):
    openai_server.responder = Scripted([repl("x = 1"), 'FINAL({"checkpoint": 1})'])
    done = rlm_tui("run", str(repo), "-q", "q", "--schema", str(schema_file),
                   "--max-iterations", "1", *model_args(openai_server), "--transcript",
                   str(tmp_path / "t.jsonl"))
    assert done.returncode == 1
    assert done.stdout == ""
    assert "stopped without an answer" in done.stderr
    assert "does not match the schema" in done.stderr and "1 is not of type" in done.stderr


@pytest.mark.parametrize("content, said", [
    (None, "no such schema file"),
    ("{not json", "not JSON"),
    ('{"type": "strin"}', "not a valid JSON Schema"),
    ("[1, 2]", "a JSON Schema is a JSON object"),
])
def test_a_bad_schema_file_is_one_line_and_exit_2(openai_server, repo, tmp_path, content,
                                                 said):
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content)
    transcript = tmp_path / "t.jsonl"
    done = rlm_tui("run", str(repo), "-q", "q", "--schema", str(path),
                   *model_args(openai_server), "--transcript", str(transcript))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("rlm-tui: ")
    assert said in done.stderr and str(path) in done.stderr
    assert not transcript.exists()  # failed before anything was written
    assert not openai_server.requests


def test_the_app_and_eval_refuse_a_bad_schema_file_before_they_start(repo, tmp_path):
    missing = tmp_path / "missing.json"
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": "a", "query": "q", "context_text": "t", "expected": "x"}\n')
    for argv in ([str(repo), "--schema", str(missing), "--model", "demo"],
                 ["eval", str(tasks), "--schema", str(missing), "--model", "demo",
                  "--out", str(tmp_path / "out")]):
        done = rlm_tui(*argv, "--config", os.devnull)
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"rlm-tui: {missing}: no such schema file\n"
    assert not (tmp_path / "out").exists()


def test_a_fork_keeps_the_recorded_schema_and_prints_the_validated_json(openai_server, repo,
                                                                       schema_file, tmp_path):
    openai_server.responder = Scripted([repl('FINAL({"checkpoint": "yes"})'),
                                        repl('FINAL({"checkpoint": True, "reason": "x"})')])
    parent = tmp_path / "parent.jsonl"
    done = rlm_tui("run", str(repo), "-q", "q", "--schema", str(schema_file),
                   *model_args(openai_server), "--transcript", str(parent))
    assert done.returncode == 0, done.stderr
    schema_file.unlink()  # the fork reads the schema its parent recorded, not the file
    script = Scripted([repl('FINAL({"checkpoint": False})'),
                       repl('FINAL({"checkpoint": False, "reason": "forked"})')])
    openai_server.responder = script
    child = tmp_path / "child.jsonl"
    done = rlm_tui("fork", str(parent), "--at", "1", *model_args(openai_server),
                   "--transcript", str(child))
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"checkpoint": false, "reason": "forked"}\n'
    events = [json.loads(line) for line in child.read_text().splitlines()[1:]]
    rejected = [(e["answer"], e["rebuilt"]) for e in events if e["type"] == "answer_rejected"]
    assert rejected == [('{"checkpoint": "yes"}', True), ('{"checkpoint": false}', False)]
