"""A tasks file is checked whole: a bad line is a usage error that names it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlm_tui.errors import UsageError
from rlm_tui.eval.tasks import load_tasks


def write(path: Path, *lines: object) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines))
    return path


GOOD = {"id": "a", "query": "q?", "context_text": "text", "expected": "x"}


def test_tasks_are_read_with_paths_from_the_files_directory(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("hi\n")
    tasks = load_tasks(write(tmp_path / "tasks.jsonl",
                             {"id": 7, "query": "q", "context": "data/notes.txt",
                              "expected": [1, "one"], "scorer": "contains"},
                             "",
                             {**GOOD, "id": "b", "scorer": "f1", "threshold": 0.8,
                              "meta": {"k": 1}}))
    assert [t.id for t in tasks] == ["7", "b"]
    assert tasks[0].context == (tmp_path / "data" / "notes.txt").resolve()
    assert tasks[0].expected == ("1", "one") and tasks[0].line == 1
    assert tasks[1].context_text == "text" and tasks[1].threshold == 0.8
    assert tasks[1].scorer == "f1" and tasks[1].meta == {"k": 1} and tasks[1].line == 3


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "a task is a JSON object"),
    ({**GOOD, "scorrer": "exact"}, "unknown key 'scorrer'"),
    ({**GOOD, "id": "../x"}, "'id' must be"),
    ({**GOOD, "query": " "}, "'query' must be"),
    ({"id": "b", "query": "q", "expected": "x"}, "exactly one of 'context'"),
    ({**GOOD, "context": "x.txt"}, "exactly one of 'context'"),
    ({"id": "b", "query": "q", "context": "missing.txt", "expected": "x"},
     "no such file or directory"),
    ({**GOOD, "expected": []}, "'expected' must be"),
    ({**GOOD, "expected": True}, "'expected' must be"),
    ({**GOOD, "scorer": "fuzzy"}, "unknown scorer 'fuzzy'"),
    ({**GOOD, "scorer": "number", "expected": "many"}, "not a number"),
    ({**GOOD, "scorer": "regex", "expected": "(unclosed"}, "not a regular expression"),
    ({**GOOD, "threshold": 2}, "'threshold' must be"),
])
def test_a_bad_line_is_a_usage_error_naming_it(tmp_path, line, message):
    path = write(tmp_path / "tasks.jsonl", GOOD, {**GOOD, "id": "second"}, line)
    with pytest.raises(UsageError) as caught:
        load_tasks(path)
    assert f"{path}:3: " in str(caught.value) and message in str(caught.value)
    assert caught.value.exit_code == 2


def test_a_repeated_id_names_both_lines(tmp_path):
    path = write(tmp_path / "tasks.jsonl", GOOD, {**GOOD, "id": "b"}, GOOD)
    with pytest.raises(UsageError, match=r"tasks.jsonl:3: id 'a' is already used on line 1"):
        load_tasks(path)


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_an_empty_tasks_file_is_a_usage_error(tmp_path, content):
    path = tmp_path / "tasks.jsonl"
    path.write_text(content)
    with pytest.raises(UsageError, match="no tasks"):
        load_tasks(path)


def test_a_missing_tasks_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such tasks file"):
        load_tasks(tmp_path / "nope.jsonl")


def test_a_tasks_file_right_after_ray_is_the_tasks_file_not_an_address(tmp_path):
    from rlm_tui.cli import build_parser
    from rlm_tui.eval.command import eval_tasks

    path = write(tmp_path / "tasks.jsonl", GOOD)
    args = build_parser().parse_args(["eval", "--ray", str(path), "--model", "demo"])
    tasks, name = eval_tasks(args)
    assert [t.id for t in tasks] == ["a"] and name == "tasks"
    assert args.ray == "local" and args.tasks == str(path)
    args = build_parser().parse_args(["eval", str(path), "--ray", "auto"])
    eval_tasks(args)
    assert args.ray == "auto"


SCHEMA = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}


def test_a_task_may_carry_a_schema_from_a_file_or_inline_and_a_json_expected(tmp_path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "ok.json").write_text(json.dumps(SCHEMA))
    tasks = load_tasks(write(tmp_path / "tasks.jsonl",
                             {**GOOD, "schema": "schemas/ok.json", "scorer": "json",
                              "expected": {"ok": True}},
                             {**GOOD, "id": "b", "schema": SCHEMA, "scorer": "json",
                              "expected": [{"ok": True}, {"ok": False}]}))
    assert tasks[0].schema == SCHEMA and tasks[1].schema == SCHEMA
    assert tasks[0].expected == ('{"ok": true}',)
    assert tasks[1].expected == ('{"ok": true}', '{"ok": false}')


@pytest.mark.parametrize(("extra", "message"), [
    ({"schema": "missing.json"}, "no such schema file"),
    ({"schema": {"type": "strin"}}, "not a valid JSON Schema"),
    ({"schema": 3}, "'schema' must be a path"),
    ({"scorer": "json", "expected": "x"}, "must be a JSON object"),
    ({"scorer": "json", "expected": [{"a": 1}, 2]}, "must be a JSON object"),
])
def test_a_bad_schema_or_json_expected_names_the_line(tmp_path, extra, message):
    path = write(tmp_path / "tasks.jsonl", {**GOOD, **extra})
    with pytest.raises(UsageError) as caught:
        load_tasks(path)
    assert f"{path}:1: " in str(caught.value) and message in str(caught.value)
def test_a_context_may_be_a_list_of_paths_from_the_files_directory(tmp_path):
    from rlm_tui.eval.tasks import task_to_dict

    (tmp_path / "a").mkdir()
    (tmp_path / "b.log").write_text("x\n")
    tasks = load_tasks(write(tmp_path / "tasks.jsonl",
                             {"id": "two", "query": "q", "context": ["a/", "b.log"],
                              "expected": "x"}))
    assert tasks[0].context == ((tmp_path / "a").resolve(), (tmp_path / "b.log").resolve())
    assert tasks[0].source == f"{(tmp_path / 'a').resolve()}, {(tmp_path / 'b.log').resolve()}"
    assert task_to_dict(tasks[0])["context"] == [str((tmp_path / "a").resolve()),
                                                 str((tmp_path / "b.log").resolve())]


@pytest.mark.parametrize(("context", "message"), [
    ([], "'context' is an empty list"),
    (["a", 3], "a path (a string) or a list of paths"),
    (["a", "missing.log"], "context 'missing.log': no such file or directory"),
])
def test_a_bad_list_context_names_the_line(tmp_path, context, message):
    (tmp_path / "a").mkdir()
    path = write(tmp_path / "tasks.jsonl", {"id": "x", "query": "q", "context": context,
                                            "expected": "y"})
    with pytest.raises(UsageError) as caught:
        load_tasks(path)
    assert str(caught.value).startswith(f"{path}:1: ") and message in str(caught.value)
