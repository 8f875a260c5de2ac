"""`rlm-tui eval` figures: tasks per minute for 64 synthetic tasks against the local test
server with 100 ms model latency, at --workers 1, 4 and 16 and with --ray on a local Ray;
and memory per concurrent task.

Each task is a needle in a haystack (`--suite sniah`, 10,000 characters) that the scripted
model solves in two iterations and three model calls: a cell that prints the context's size
and asks a sub-model one question, then a cell that finds the needle with a regex and calls
FINAL. Every call waits 100 ms before its first byte; the ideal for one task alone is 0.3 s.
The eval runs as people run it: `rlm-tui eval --suite sniah ... --json`, a process of its
own; the server runs in another. Tasks per minute are from the eval's own wall time (its
`wall_seconds`: from the first task started to the last recorded; Ray's start is not in it,
and is printed apart). Memory: the proportional set size (PSS) of the eval's process tree,
sampled every 50 ms; per concurrent task, the growth from --workers 1 to 16 over 15, and for
Ray the mean PSS of a Ray worker running a task plus its sandbox worker.

    .venv/bin/python bench/bench_eval.py [--tasks 64] [--no-ray]

Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.openai_server import OpenAIServer, Reply  # noqa: E402

LATENCY = 0.1
SIZE = 10_000

FIND = ("import re\nm = re.search(r'The magic number for \\S+ is (\\d+)', context)\n"
        "FINAL(m.group(1))")


def reply_for(body: dict) -> Reply:
    messages = body.get("messages", [])
    if not any(m.get("role") == "system" for m in messages):
        return Reply(text="noted", first_byte_delay=LATENCY)
    turn = sum(1 for m in messages if m.get("role") == "assistant")
    code = "print(len(context))\nnote = llm_query('anything to note?')" if turn == 0 else FIND
    return Reply(text=f"```repl\n{code}\n```", chunks=1, first_byte_delay=LATENCY)


def serve() -> None:
    with OpenAIServer() as server:
        server.responder = reply_for
        print(server.base_url, flush=True)
        sys.stdin.read()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class Sampler(threading.Thread):
    """Peak PSS of a process tree; and the PSS of Ray task workers with their children."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.task_kb: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            tree = _children()
            pids, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo.extend(tree.get(pid, []))
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in pids))
            for pid in pids:
                if _cmdline(pid).startswith(b"ray::run_remote_task"):
                    self.task_kb.append(_pss_kb(pid) + sum(_pss_kb(c)
                                                           for c in tree.get(pid, [])))
            self.stop.wait(0.05)


def run_eval(base_url: str, tasks: int, workers: int, ray: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as out:
        args = [sys.executable, "-m", "rlm_tui", "eval", "--suite", "sniah", "--size",
                str(SIZE), "--n", str(tasks), "--model", "openai/bench", "--api-base",
                base_url, "--config", os.devnull, "--workers", str(workers), "--out", out,
                "--json"] + (["--ray"] if ray else [])
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=ROOT)
        sampler = Sampler(proc.pid)
        sampler.start()
        stdout, stderr = proc.communicate(timeout=1800)
        whole = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        results = Path(out) / "results.jsonl"
        task_s = sorted(json.loads(line)["wall_seconds"]
                        for line in results.read_text().splitlines()) if results.exists() else []
    if proc.returncode != 0:
        raise RuntimeError(f"eval failed ({proc.returncode}): {stderr.strip()[-800:]}")
    summary = json.loads(stdout)
    return {"summary": summary, "whole": whole, "task_s": task_s, "peak_mb": sampler.peak_kb / 1024,
            "task_mb": (sum(sampler.task_kb) / len(sampler.task_kb) / 1024
                        if sampler.task_kb else None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--no-ray", action="store_true", help="skip the --ray row")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        url = server.stdout.readline().strip()
        runs = {}
        for workers in (1, 4, 16):
            runs[f"--workers {workers}"] = run_eval(url, args.tasks, workers, ray=False)
        if not args.no_ray:
            try:
                import ray  # noqa: F401
                runs["--ray --workers 16"] = run_eval(url, args.tasks, 16, ray=True)
            except ImportError:
                print("(ray not installed: pip install -e '.[ray]' for the --ray row)")
    finally:
        server.stdin.close()
        server.wait(10)
    ideal = 3 * LATENCY
    print(f"eval: {args.tasks} sniah tasks of {SIZE:,} chars, 3 model calls of "
          f"{LATENCY * 1000:.0f} ms each (ideal {ideal:.1f} s a task alone)")
    print(f"{'run':<22}{'tasks/min':>10}{'eval s':>9}{'process s':>11}{'correct':>9}"
          f"{'peak MB':>9}")
    for name, r in runs.items():
        s = r["summary"]
        rate = args.tasks / s["wall_seconds"] * 60
        print(f"{name:<22}{rate:>10.0f}{s['wall_seconds']:>9.2f}{r['whole']:>11.2f}"
              f"{s['correct']:>5}/{s['tasks']:<3}{r['peak_mb']:>9.0f}")
    one, many = runs["--workers 1"], runs["--workers 16"]
    per_task = (many["peak_mb"] - one["peak_mb"]) / 15
    print(f"memory per concurrent task, in one process: {per_task:.1f} MB "
          "(PSS growth from --workers 1 to 16, over 15: the run's state and its sandbox "
          "worker)")
    for name, r in runs.items():
        if r["task_s"]:
            times = r["task_s"]
            print(f"one task, {name}: median {times[len(times) // 2]:.2f} s, slowest "
                  f"{times[-1]:.2f} s (load, sandbox start, 3 calls; on Ray the slowest "
                  "includes a new Ray worker's start)")
    ray_run = runs.get("--ray --workers 16")
    if ray_run and ray_run["task_mb"]:
        print(f"memory per concurrent task, on Ray: {ray_run['task_mb']:.1f} MB (PSS of a "
              "Ray worker running a task, with its sandbox worker)")


if __name__ == "__main__":
    main()
