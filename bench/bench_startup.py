"""A headless run as a script calls it: the whole process, timed, beside the reference `rlms`.

1. Start-up: `rlm-tui run CONTEXT --model openai/root-2-0 --api-base URL --query q --json`,
   2 iterations against an instant local OpenAI-compatible server (bench_engine.py's scripted
   one), the whole process timed from spawn to exit, with its peak RSS (the largest of the
   process and the worker it waits for). Goal: <= 1.0 s, <= 0.5x rlms's, <= 80 MB. rlms runs
   the same 2 iterations from a fresh interpreter (import and all) in its own venv.
2. Fan-out as `rlm-tui run --json` reports it: 256 sub-calls answered after 50 ms each at
   `--max-concurrency 16` (ideal 0.80 s), the run's own `seconds`. Goal: < 0.92 s.

Each figure is the median of --repeat runs; whether litellm was imported is read from the
process itself (it must not be, for an `openai/...` model).

    .venv/bin/python bench/bench_startup.py [--repeat 5] [--rlms-python PATH] [--skip-rlms]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from bench_engine import (  # noqa: E402
    _RLMS_DRIVER,
    CONCURRENCY,
    FANOUT,
    LATENCY,
    RLMS_VERSION,
    rlms_python,
)

# Runs `rlm-tui` as its console script does, then says on stderr whether litellm was loaded.
_OURS = ("import sys\nfrom rlm_tui.cli import main\ncode = main(sys.argv[1:])\n"
         "print('litellm loaded:', 'litellm' in sys.modules, file=sys.stderr)\nsys.exit(code)\n")


# As on a user's machine, modules are loaded from their .pyc files (the warm-up run writes
# them), even where the shell says not to write any.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str]) -> tuple[float, float, str, str]:
    """(wall seconds, peak RSS in MB, stdout, stderr) of one process run to its end."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   env=_ENV)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({process.returncode}): {stderr.strip()[-400:]}")
    return seconds, usage.ru_maxrss / 1024, stdout, stderr


def ours(url: str, context: Path, transcript: Path, model: str,
         *extra: str) -> tuple[float, float, dict, bool]:
    argv = [sys.executable, "-c", _OURS, "run", str(context), "--model", model,
            "--api-base", url, "--query", "q", "--json", "--transcript", str(transcript),
            *extra]
    seconds, rss, stdout, stderr = timed(argv)
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["answer"] == "done", summary
    return seconds, rss, summary, "litellm loaded: True" in stderr


def theirs(url: str, python: str, driver: Path) -> tuple[float, float]:
    seconds, rss, _, _ = timed([python, str(driver), url, "2", "0"])
    return seconds, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rlms-python", help="python of a venv with rlms installed")
    parser.add_argument("--skip-rlms", action="store_true")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, str(BENCH / "bench_engine.py"), "--serve"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rows: list[tuple[str, str, str, str]] = []
    try:
        url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory(prefix="rlm-tui-bench-") as tmp:
            work = Path(tmp)
            context = work / "context.txt"
            context.write_text("some context text " * 50)
            transcript = work / "t.jsonl"
            python = None
            if not args.skip_rlms:
                try:
                    python = rlms_python(args.rlms_python)
                except (OSError, subprocess.CalledProcessError) as exc:
                    print(f"rlms not available (its venv needs the network once): {exc}",
                          file=sys.stderr)
            driver = work / "rlms_driver.py"
            driver.write_text(_RLMS_DRIVER)
            fan_model = f"openai/root-2-{FANOUT}"
            fan_flags = ("--max-concurrency", str(CONCURRENCY))
            # Warm-up (page cache, .pyc files), then each figure's runs in turn, so that a
            # machine busy with something else weighs on both engines alike.
            ours(url, context, transcript, "openai/root-2-0")
            ours(url, context, transcript, fan_model, *fan_flags)
            if python:
                theirs(url, python, driver)
            runs, their_runs, fan = [], [], []
            for _ in range(args.repeat):
                runs.append(ours(url, context, transcript, "openai/root-2-0"))
                if python:
                    their_runs.append(theirs(url, python, driver))
                fan.append(ours(url, context, transcript, fan_model, *fan_flags))
    finally:
        server.stdin.close()
        server.wait(10)
    wall = statistics.median(r[0] for r in runs)
    rss = max(r[1] for r in runs)
    loaded = any(r[3] for r in runs + fan)
    rows.append(("whole process, 2 iterations",
                 f"{wall:.3f} s (best {min(r[0] for r in runs):.3f})", "<= 1.0 s",
                 "yes" if wall <= 1.0 else "NO"))
    rows.append(("peak RSS", f"{rss:.1f} MB", "<= 80 MB", "yes" if rss <= 80 else "NO"))
    rows.append(("litellm imported", "yes" if loaded else "no", "no",
                 "NO" if loaded else "yes"))
    if their_runs:
        rlms_wall = statistics.median(r[0] for r in their_runs)
        rows.append((f"rlms {RLMS_VERSION} whole process",
                     f"{rlms_wall:.3f} s (best {min(r[0] for r in their_runs):.3f})",
                     "reference", ""))
        rows.append((f"rlms {RLMS_VERSION} peak RSS",
                     f"{max(r[1] for r in their_runs):.1f} MB", "reference", ""))
        ratio = wall / rlms_wall
        rows.append(("ours / rlms", f"{ratio:.2f}x", "<= 0.5x",
                     "yes" if ratio <= 0.5 else "NO"))
    elif not args.skip_rlms:
        rows.append((f"rlms {RLMS_VERSION} whole process",
                     "not measured (no rlms venv)", "reference", ""))
    seconds = statistics.median(r[2]["seconds"] for r in fan)
    ideal = FANOUT / CONCURRENCY * LATENCY
    rows.append((f"{FANOUT} sub-calls, run --json seconds",
                 f"{seconds:.3f} s ({seconds / ideal:.2f}x ideal)", "< 0.92 s",
                 "yes" if seconds < 0.92 else "NO"))
    rows.append((f"{FANOUT} sub-calls, whole process",
                 f"{statistics.median(r[0] for r in fan):.3f} s", "", ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>24}  {'goal':<10}  met")
    for figure, value, goal, met in rows:
        print(f"{figure:<{width}}  {value:>24}  {goal:<10}  {met}".rstrip())


if __name__ == "__main__":
    main()
