"""A fork's rebuild: how long the REPL of a recorded session takes to rebuild up to iteration K.

A session of 30 iterations with 500 sub-calls is recorded against the local OpenAI-compatible
test server (tests/integration/openai_server.py, 127.0.0.1, instant replies), as a transcript
file. Then, timed separately:
- reading the transcript and planning the fork (`rlm_tui.forks.load_fork`);
- the rebuild: a new session runs the recorded cells of iterations 1..30 again in a new
  worker, each sub-call answered from its recorded response (the worker's start included);
while the server counts the model calls made meanwhile (there must be none). Not a test:
nothing is asserted, the figures are printed.

    .venv/bin/python bench/bench_fork.py [--iterations 30] [--sub-calls 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from rlm_tui import events as ev  # noqa: E402
from rlm_tui.config import Settings  # noqa: E402
from rlm_tui.engine import Run, RunContext, Session  # noqa: E402
from rlm_tui.engine.fork import rebuild  # noqa: E402
from rlm_tui.forks import load_fork  # noqa: E402
from rlm_tui.lm import ModelClient  # noqa: E402
from rlm_tui.transcript import TranscriptWriter  # noqa: E402
from tests.integration.openai_server import OpenAIServer, Reply  # noqa: E402

CONTEXT = "\n".join(f"line {i}: some recorded context text" for i in range(2_000))


def script(iterations: int, sub_calls: int):
    """Root replies: iterations 1..N-1 each send a share of the sub-calls in a batch and keep
    the answers; the last answers with FINAL. Sub-calls answer at once."""
    per = [sub_calls // (iterations - 1) + (i < sub_calls % (iterations - 1))
           for i in range(iterations - 1)]

    def reply(body: dict) -> Reply:
        messages = body.get("messages", [])
        if not any(m.get("role") == "system" for m in messages):
            return Reply(text="recorded: " + messages[-1]["content"][:40])
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        if turn < iterations - 1:
            code = (f"r{turn} = llm_query_batched(['part %d of {turn}: ' % i + "
                    f"context[i * 100:(i + 1) * 100] for i in range({per[turn]})])\n"
                    f"print(len(r{turn}), r{turn}[0][:30])")
        else:
            code = "FINAL(sum(len(v) for k, v in dict(globals()).items() if k[:1] == 'r'))"
        return Reply(text=f"Step {turn + 1}.\n```repl\n{code}\n```", chunks=1)

    return reply


def settings(server: OpenAIServer, iterations: int) -> Settings:
    return Settings(model="openai/root", sub_model="openai/sub", api_base=server.base_url,
                    max_iterations=iterations + 5, max_concurrency=64)


async def record(server: OpenAIServer, path: Path, iterations: int, sub_calls: int) -> None:
    server.responder = script(iterations, sub_calls)
    s = settings(server, iterations)
    writer = TranscriptWriter(path, query="bench", settings=s.public_dict(), context={})
    bus = ev.EventBus()
    bus.subscribe(writer)
    outcome = await Run(s, ModelClient(), bus).start("bench", RunContext.from_value(CONTEXT))
    writer.close()
    assert outcome.status == "answered", outcome


async def rebuild_once(server: OpenAIServer, path: Path, iterations: int) -> dict[str, float]:
    started = time.perf_counter()
    loaded = load_fork(path, str(iterations - 1))
    planned = time.perf_counter()
    calls_before = len(server.completion_requests)
    run = Run(settings(server, iterations), ModelClient(), ev.EventBus())
    session = Session(run, loaded.plan.query, RunContext.from_value(CONTEXT), depth=0,
                      session_id=run.run_id)
    run.root = session
    session.open(fork_of=loaded.plan.fork_of, opening=False)
    await rebuild(session, loaded.plan)
    rebuilt = time.perf_counter()
    await run.close()
    return {"plan": planned - started, "rebuild": rebuilt - planned,
            "model_calls": len(server.completion_requests) - calls_before,
            "sub_calls": loaded.plan.sub_calls, "iterations": loaded.plan.iteration}


async def main_async(args: argparse.Namespace) -> None:
    with OpenAIServer() as server, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recorded.jsonl"
        await record(server, path, args.iterations + 1, args.sub_calls)
        size = path.stat().st_size
        runs = [await rebuild_once(server, path, args.iterations + 1)
                for _ in range(args.repeat)]
    first = runs[0]
    print(f"recorded session: {first['iterations']} iterations, {first['sub_calls']} "
          f"sub-calls, transcript {size / 1e6:.2f} MB")
    print(f"read and plan the fork: {statistics.median(r['plan'] for r in runs):.3f} s "
          f"(median of {len(runs)})")
    print(f"rebuild to iteration {first['iterations']}: "
          f"{statistics.median(r['rebuild'] for r in runs):.3f} s (median of {len(runs)}; "
          f"min {min(r['rebuild'] for r in runs):.3f} s), worker start included")
    print(f"model calls during the rebuilds: {sum(int(r['model_calls']) for r in runs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--sub-calls", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
