"""Engine figures, side by side with the reference `rlms` package, measured the same way.

1. Overhead per iteration: a run of N iterations against an instant local server, each reply a
   trivial cell, the last a FINAL; whole-run wall time / N. Goal: under 10 ms, and at least 3x
   less than rlms.
2. Sub-call fan-out: one cell sends 256 prompts with llm_query_batched, each answered after
   50 ms, at concurrency 16 (ideal: 256 / 16 x 50 ms = 0.8 s); the run's wall time less the
   same run with an empty batch. Goal: within 1.15x of ideal, at least 2x faster than rlms.

Both engines talk to the same local OpenAI-compatible server (tests/integration/
openai_server.py) on 127.0.0.1. rlms runs in its own venv (created on first use under
bench/.venv-rlms, `pip install rlms==0.1.3`, or pass --rlms-python).

    .venv/bin/python bench/bench_engine.py [--iterations 50] [--rlms-python PATH]
        [--transport auto|litellm]

`--transport` sets $RLM_TUI_TRANSPORT, the default of `ModelSpec.transport`: `auto` streams
this OpenAI-compatible server directly, `litellm` goes through litellm.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlm_tui import events as ev  # noqa: E402
from rlm_tui.config import Settings  # noqa: E402
from rlm_tui.engine import Run, RunContext  # noqa: E402
from rlm_tui.lm import ModelClient  # noqa: E402
from rlm_tui.lm.spec import TRANSPORT_ENV  # noqa: E402
from tests.integration.openai_server import OpenAIServer, Reply  # noqa: E402

RLMS_VERSION = "0.1.3"
FANOUT = 256
LATENCY = 0.05
CONCURRENCY = 16

_RLMS_DRIVER = r'''
import json, sys, time
from rlm import RLM
base_url, iterations, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rlm = RLM(backend="openai", backend_kwargs={"model_name": f"root-{iterations}-{batch}",
          "base_url": base_url,
          "api_key": "no-key"}, environment="local", max_iterations=iterations + 5)
started = time.perf_counter()
rlm.completion("some context text " * 50, root_prompt="q")
print(json.dumps({"seconds": time.perf_counter() - started}))
'''


def reply_for(body: dict) -> Reply:
    """The scripted model. Root requests carry a system prompt and name the plan in the
    model: `root-<iterations>-<batch>` (trivial cells, a batch turn first when batch > 0, then
    FINAL). Sub-calls answer after LATENCY."""
    messages = body.get("messages", [])
    if not any(m.get("role") == "system" for m in messages):
        return Reply(text="ok", first_byte_delay=LATENCY)
    _, iterations, batch = str(body.get("model", "root-3-0")).rsplit("/", 1)[-1].split("-")
    iterations, batch = int(iterations), int(batch)
    turn = sum(1 for m in messages if m.get("role") == "assistant")
    if batch and turn == 0:
        code = f"r = llm_query_batched(['q%d' % i for i in range({batch})])"
    elif turn + 1 < iterations:
        code = "x = 1"
    else:
        code = "FINAL('done')"
    return Reply(text=f"```repl\n{code}\n```", chunks=1)


def serve() -> None:
    """Run the scripted server in this process (the bench starts it as a child process, so
    neither engine shares an interpreter with it)."""
    with OpenAIServer() as server:
        server.responder = reply_for
        print(server.base_url, flush=True)
        sys.stdin.read()  # until the bench closes our stdin


async def ours(base_url: str, iterations: int, batch: int) -> float:
    settings = Settings(model=f"openai/root-{iterations}-{batch}", api_base=base_url,
                        transport=os.environ.get(TRANSPORT_ENV, "auto"),
                        max_iterations=iterations + 5, max_concurrency=CONCURRENCY)
    run = Run(settings, ModelClient(), ev.EventBus())
    started = time.perf_counter()
    outcome = await run.start("q", RunContext.from_value("some context text " * 50))
    assert outcome.answer == "done", outcome
    return time.perf_counter() - started


def theirs(base_url: str, python: str, iterations: int, batch: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(_RLMS_DRIVER)
    try:
        done = subprocess.run([python, f.name, base_url, str(iterations), str(batch)],
                              capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        raise RuntimeError(f"rlms run failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def rlms_python(given: str | None) -> str:
    if given:
        return given
    venv = ROOT / "bench" / ".venv-rlms"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} with rlms=={RLMS_VERSION} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"rlms=={RLMS_VERSION}"],
                       check=True)
    return str(python)


def best(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rlms-python", help="python of a venv with rlms installed")
    parser.add_argument("--skip-rlms", action="store_true")
    parser.add_argument("--transport", choices=["auto", "litellm"],
                        help=f"our model transport (sets ${TRANSPORT_ENV})")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve()
    n = args.iterations
    if args.transport:
        os.environ[TRANSPORT_ENV] = args.transport
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        asyncio.run(ours(url, 3, 0))  # warm up: litellm import and first call
        ours_iter = best([asyncio.run(ours(url, n, 0)) for _ in range(args.repeat)]) / n
        base2 = best([asyncio.run(ours(url, 2, 0)) for _ in range(args.repeat)])
        fan = best([asyncio.run(ours(url, 2, FANOUT)) for _ in range(args.repeat)]) - base2
        rows = [(f"ours/{os.environ.get(TRANSPORT_ENV, 'auto')}", ours_iter, fan)]
        if not args.skip_rlms:
            py = rlms_python(args.rlms_python)
            theirs(url, py, 3, 0)
            t_iter = best([theirs(url, py, n, 0) for _ in range(args.repeat)]) / n
            t_base2 = best([theirs(url, py, 2, 0) for _ in range(args.repeat)])
            t_fan = best([theirs(url, py, 2, FANOUT) for _ in range(args.repeat)]) - t_base2
            rows.append((f"rlms {RLMS_VERSION}", t_iter, t_fan))
    finally:
        server.stdin.close()
        server.wait(10)
    ideal = FANOUT / CONCURRENCY * LATENCY
    print(f"{'engine':<12} {'ms/iteration':>13} {'fan-out 256 (s)':>16} {'x ideal':>8}")
    for name, per_iter, fan_s in rows:
        print(f"{name:<12} {per_iter * 1000:13.2f} {fan_s:16.3f} {fan_s / ideal:8.2f}")
    print(f"goal: ms/iteration < 10; fan-out within 1.15x of ideal {ideal:.1f} s")
    if len(rows) == 2:
        print(f"ratio rlms/ours: per iteration {rows[1][1] / rows[0][1]:.1f}x (goal >= 3), "
              f"fan-out {rows[1][2] / rows[0][2]:.1f}x (goal >= 2)")


if __name__ == "__main__":
    main()
