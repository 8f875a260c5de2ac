"""`rlm-tui eval --ray`: the same eval as Ray tasks on a local Ray. Never skipped: the README's
test install includes the ray extra, and CI installs exactly that."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import pytest
import ray

from rlm_tui.cli import main
from rlm_tui.transcript import read_transcript
from tests.integration.eval_fixtures import Oracle, mixed_tasks, paris, results
from tests.integration.test_cli_run import model_args, rlm_tui

COMPARED = ("status", "answer", "score", "correct", "iterations", "sub_calls", "tokens")


def _compared(records: dict[str, dict]) -> dict[str, tuple]:
    return {tid: tuple(json.dumps(r[k], sort_keys=True) for k in COMPARED)
            for tid, r in records.items()}


def test_ray_started_by_the_command_gives_the_same_results_as_one_process(
        openai_server, tmp_path):
    # First in this file: no Ray is running yet, so the command starts (and stops) its own.
    tasks, code, right = mixed_tasks(tmp_path)
    openai_server.responder = Oracle(code, sub=paris)
    here = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out",
                   str(tmp_path / "here"))
    assert here.returncode == 0, here.stderr
    on_ray = rlm_tui("eval", str(tasks), *model_args(openai_server), "--out",
                     str(tmp_path / "ray"), "--ray", timeout=300)
    assert on_ray.returncode == 0, on_ray.stderr
    assert on_ray.stderr == ""  # Ray's own logging stays off the terminal
    assert _compared(results(tmp_path / "ray")) == _compared(results(tmp_path / "here"))
    assert {tid: r["correct"] for tid, r in results(tmp_path / "ray").items()} == right


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False)
    yield
    ray.shutdown()


def run_in_process(capsys, *args: str) -> tuple[int, str]:
    code = main(["eval", *args])
    return code, capsys.readouterr().out


def test_ray_tasks_write_nothing_but_the_driver_does_and_transcripts_replay(
        openai_server, tmp_path, local_ray, capsys):
    tasks, code, right = mixed_tasks(tmp_path)
    openai_server.responder = Oracle(code, sub=paris)
    out = tmp_path / "out"
    status, stdout = run_in_process(capsys, str(tasks), *model_args(openai_server),
                                    "--out", str(out), "--ray", "--workers", "4", "--json")
    assert status == 0
    assert json.loads(stdout)["correct"] == sum(right.values())
    records = results(out)
    assert {tid: r["correct"] for tid, r in records.items()} == right
    for tid, record in records.items():
        assert record["context_via"] == "object store"
        assert Path(record["transcript"]) == out / "transcripts" / f"{tid}.jsonl"
        model = read_transcript(record["transcript"]).fold()
        assert model.status == "answered" and model.answer == record["answer"]
    # Resumed on Ray too: nothing left to run, no model call.
    calls = len(openai_server.completion_requests)
    status, _ = run_in_process(capsys, str(tasks), *model_args(openai_server),
                               "--out", str(out), "--ray")
    assert status == 0 and len(openai_server.completion_requests) == calls


def test_contexts_past_the_ship_limit_travel_by_path(openai_server, tmp_path, local_ray,
                                                     capsys):
    tasks, code, right = mixed_tasks(tmp_path)
    openai_server.responder = Oracle(code, sub=paris)
    out = tmp_path / "out"
    status, _ = run_in_process(capsys, str(tasks), *model_args(openai_server), "--out",
                               str(out), "--ray", "--ray-ship-max", "4", "--baseline")
    assert status == 0
    records = results(out)
    via = {tid: r["context_via"] for tid, r in records.items()}
    # Text contexts are the tasks file's own: they always travel with the task.
    assert via == {tid: "object store" if tid in ("task-text", "task-sub") else "path"
                   for tid in code}
    assert {tid: r["correct"] for tid, r in records.items()} == right
    assert all(r["baseline"]["status"] == "answered" for r in records.values())


def _kill_ray_task_workers() -> int:
    """SIGKILL every Ray worker process running our task (its title says so)."""
    killed = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"ray::run_remote_task"):
            os.kill(int(pid), signal.SIGKILL)
            killed += 1
    return killed


class Killer(Oracle):
    """Kills the Ray worker on its task's root call, `times` times per task."""

    def __init__(self, code, times: dict[str, int], **kwargs) -> None:
        super().__init__(code, **kwargs)
        self.times = times
        self.kills = 0

    def __call__(self, body):
        reply = super().__call__(body)
        text = str(body.get("messages"))
        for tid, left in self.times.items():
            if f"[{tid}]" in text and left > 0 and "system" in text:
                self.times[tid] = left - 1
                self.kills += _kill_ray_task_workers()
        return reply


def test_a_task_whose_worker_dies_is_retried_once_then_recorded_as_failed(
        openai_server, tmp_path, local_ray, capsys):
    tasks, code, _ = mixed_tasks(tmp_path)
    keep = {"task-file", "task-dir"}
    tasks.write_text("".join(line + "\n" for line in tasks.read_text().splitlines()
                             if json.loads(line)["id"] in keep))
    killer = Killer(code, {"task-file": 1, "task-dir": 2})
    openai_server.responder = killer
    out = tmp_path / "out"
    status, stdout = run_in_process(capsys, str(tasks), *model_args(openai_server),
                                    "--out", str(out), "--ray", "--workers", "1")
    assert status == 1
    records = results(out)
    assert killer.kills >= 3
    assert killer.roots == {"task-file": 2, "task-dir": 2}  # one retry each, no more
    assert records["task-file"]["status"] == "answered" and records["task-file"]["correct"]
    assert records["task-dir"]["status"] == "error"
    assert "Ray worker died" in records["task-dir"]["reason"]
    assert "could not run: task-dir" in stdout


def test_a_task_of_two_sources_runs_on_ray_by_object_store_and_by_path(
        openai_server, tmp_path, local_ray, capsys):
    from tests.integration.test_engine import Scripted, repl

    (tmp_path / "sdk").mkdir()
    (tmp_path / "sdk" / "client.py").write_text("URL = '/v1/users'\n")
    (tmp_path / "server.log").write_text("GET /v1/users 200\n")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"id": "two", "query": "q", "context": ["sdk", "server.log"],
                                 "expected": "/v1/users GET", "scorer": "exact"}) + "\n")
    cell = repl("FINAL(context_0['client.py'].split(\"'\")[1] + ' ' + context_1.split()[0])")
    for ship_max, via in (("64M", "object store"), ("4", "path")):
        openai_server.responder = Scripted([cell])
        out = tmp_path / via.replace(" ", "-")
        status, _ = run_in_process(capsys, str(tasks), *model_args(openai_server), "--out",
                                   str(out), "--ray", "--ray-ship-max", ship_max)
        record = results(out)["two"]
        assert status == 0 and record["correct"] is True, record
        assert record["context_via"] == via
