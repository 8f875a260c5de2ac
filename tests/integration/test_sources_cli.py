"""Several sources from the command line: `run A B`, `context A B`, a fork of a two-source
session, and an eval task whose context is a list. Real subprocesses, real files, the local
test server as the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlm_tui.errors import InputError, UsageError
from rlm_tui.forks import fork_sources
from tests.integration.test_cli_run import model_args, rlm_tui
from tests.integration.test_engine import Scripted, repl

READ_BOTH = ("a = context_0['src/client.py'].split(\"'\")[1]\n"
             "b = context_1.splitlines()[0]\n"
             "print(a, b, context.files)")


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, Path]:
    sdk = tmp_path / "sdk"
    (sdk / "src").mkdir(parents=True)
    (sdk / "src" / "client.py").write_text("def get():\n    return call('/v1/users')\n")
    log = tmp_path / "server.log"
    log.write_text("GET /v1/users 200\nGET /v1/teams 500\n")
    return sdk, log


def two_source_session(server, sdk: Path, log: Path, transcript: Path):
    server.responder = Scripted([repl(READ_BOTH), repl("FINAL(a + ' | ' + b)")])
    return rlm_tui("run", str(sdk), str(log), "-q", "Which endpoints?", *model_args(server),
                   "--transcript", str(transcript))


def test_run_reads_two_sources_in_one_cell(openai_server, sources, tmp_path):
    sdk, log = sources
    transcript = tmp_path / "t.jsonl"
    done = two_source_session(openai_server, sdk, log, transcript)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "/v1/users | GET /v1/users 200\n"
    header = json.loads(transcript.read_text().splitlines()[0])
    assert [(s["name"], s["kind"], s["path"]) for s in header["context"]["sources"]] == [
        ("context_0", "directory", str(sdk)), ("context_1", "file", str(log))]
    first_prompt = openai_server.responder.root_requests[0]["messages"][1]["content"]
    assert "Context: 2 sources, each its own variable in the REPL:" in first_prompt
    assert "- `context_1`: one text (server.log)" in first_prompt
    exported = rlm_tui("export", str(transcript)).stdout
    row = next(line for line in exported.splitlines() if line.startswith("| Sources |"))
    assert "context" in row and f"(directory {sdk})" in row.replace("\\", "")
    assert f"(file {log})" in row.replace("\\", "")
    page = rlm_tui("export", str(transcript), "-f", "html", "-o", "-").stdout
    assert "Sources" in page and str(log) in page


def test_a_missing_second_path_is_one_line_and_exit_2(openai_server, sources, tmp_path):
    sdk, _ = sources
    missing = tmp_path / "nowhere"
    done = rlm_tui("run", str(sdk), str(missing), "-q", "q", *model_args(openai_server),
                   "--transcript", str(tmp_path / "t.jsonl"))
    assert done.returncode == 2
    assert done.stderr == f"rlm-tui: {missing}: no such file or directory\n"
    assert openai_server.completion_requests == []


def test_context_command_shows_each_source(sources):
    sdk, log = sources
    done = rlm_tui("context", str(sdk), str(log))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Context: 2 sources, each its own variable in the REPL:")
    assert "context_0/\n" not in done.stdout and "  context_0/  (1 file" in done.stdout
    as_json = rlm_tui("context", str(sdk), str(log), "--json")
    meta = json.loads(as_json.stdout)["context"]
    assert [s["name"] for s in meta["sources"]] == ["context_0", "context_1"]
    assert meta["files"] == 2 and meta["mode"] == "sources"
    missing = rlm_tui("context", str(sdk), str(sdk.parent / "nope"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "nope: no such file or directory" in missing.stderr


def test_a_fork_of_a_two_source_session_loads_both_again(openai_server, sources, tmp_path):
    sdk, log = sources
    parent = tmp_path / "parent.jsonl"
    assert two_source_session(openai_server, sdk, log, parent).returncode == 0
    openai_server.reset()
    openai_server.responder = Scripted([repl("FINAL(b + ' / ' + str(len(context)))")])
    done = rlm_tui("fork", str(parent), "--at", "1", *model_args(openai_server),
                   "--transcript", str(tmp_path / "fork.jsonl"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "GET /v1/users 200 / 2\n"
    # Given again in place of the recorded ones, one path each; a wrong count is one line.
    moved = tmp_path / "moved.log"
    moved.write_text("PUT /v2 201\n")
    openai_server.responder = Scripted([repl("FINAL(b)")])
    done = rlm_tui("fork", str(parent), "--at", "1", "--context", str(sdk), str(moved),
                   *model_args(openai_server), "--transcript", str(tmp_path / "f2.jsonl"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "PUT /v2 201\n"
    done = rlm_tui("fork", str(parent), "--at", "1", "--context", str(sdk),
                   *model_args(openai_server))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "had 2 sources (context_0, context_1): give 2 paths" in done.stderr


def test_a_fork_of_data_given_in_code_says_so_in_one_line(tmp_path):
    header = {"context": {"sources": [
        {"name": "repo", "kind": "directory", "path": str(tmp_path)},
        {"name": "issues", "kind": "data", "path": "data"}]}}
    with pytest.raises(InputError) as caught:
        fork_sources(header, None)
    assert "'issues' was data given in code" in str(caught.value)
    issues = tmp_path / "issues.json"
    issues.write_text("[]")
    rebuilt = fork_sources(header, [str(tmp_path), str(issues)])
    assert [(s.name, s.path, s.as_data) for s in rebuilt] == [
        ("repo", str(tmp_path), False), ("issues", str(issues), True)]
    with pytest.raises(UsageError):
        fork_sources(header, [str(tmp_path)])
    # A .jsonl file loaded as data is rebuilt from its path.
    header["context"]["sources"][1].update(path=str(issues), as_data=True)
    assert fork_sources(header, None)[1].as_data is True


def test_an_eval_task_with_a_list_context(openai_server, sources, tmp_path):
    sdk, log = sources
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"id": "two", "query": "q", "context": ["sdk/", "server.log"],
                                 "expected": "/v1/users | GET /v1/users 200",
                                 "scorer": "exact"}) + "\n")
    openai_server.responder = Scripted([repl(READ_BOTH + "\nFINAL(a + ' | ' + b)")])
    out = tmp_path / "out"
    done = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out", str(out),
                   "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    assert record["correct"] is True, record
    header = json.loads((out / "transcripts" / "two.jsonl").read_text().splitlines()[0])
    assert [s["path"] for s in header["context"]["sources"]] == [str(sdk), str(log)]
