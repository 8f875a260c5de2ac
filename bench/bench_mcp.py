"""What an answer through `rlm-tui mcp` costs in time, beside the same question through
`rlm-tui run`: a 2-iteration scripted run (one cell that prints, one that answers) on a small
repository, the models on the local OpenAI-compatible test server (replies at once).

1. `rlm-tui mcp` start: the subprocess spawned to the MCP `initialize` answered.
2. `rlm_ask`, from the client's call to its answer: the server's first call (SETTLE_S after
   its start: its warm-up has imported the engine by then), then the median of --repeat more on the same server (each its own session:
   context load, sandbox worker, 2 iterations, transcript, close).
3. `rlm-tui run PATH --query Q`: the median wall time of --repeat runs, each a process of its
   own (start-up included, as a script pays it).

    .venv/bin/python bench/bench_mcp.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.openai_server import OpenAIServer, Reply  # noqa: E402

QUESTION = "How many files are there?"
SETTLE_S = 2.0


def two_iterations(body: dict) -> Reply:
    """Root: a cell that prints, then one that answers; stateless, so calls may overlap."""
    replied = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
    code = "print(len(context.files))" if replied == 0 else "FINAL(str(len(context.files)))"
    return Reply(text=f"Let me look.\n\n```repl\n{code}\n```\n")


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "src").mkdir(parents=True)
    for i in range(20):
        (repo / "src" / f"mod{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    (repo / "README.md").write_text("# bench\n")
    return repo


def environment(tmp: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "OPENAI_API_KEY": "sk-bench", "XDG_CONFIG_HOME": os.devnull,
            "XDG_DATA_HOME": str(tmp / "data")}


def model_flags(server: OpenAIServer) -> list[str]:
    return ["--model", "openai/root", "--api-base", server.base_url, "--config", os.devnull]


async def through_mcp(server: OpenAIServer, repo: Path, tmp: Path,
                      repeat: int) -> tuple[float, float, list[float]]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "rlm_tui", "mcp", *model_flags(server)],
                                   cwd=str(repo), env=environment(tmp))
    with open(tmp / "mcp-stderr.txt", "w") as errlog:
        started = time.perf_counter()
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                ready = time.perf_counter() - started
                # A client asks some time after it starts its servers: the server's warm-up
                # (the engine's and transports' imports) is done by then.
                await asyncio.sleep(SETTLE_S)
                times = []
                for _ in range(repeat + 1):
                    t = time.perf_counter()
                    result = await session.call_tool("rlm_ask", {"question": QUESTION,
                                                                 "paths": ["."]})
                    times.append(time.perf_counter() - t)
                    assert result.structured_content["iterations"] == 2, result
                    assert result.content[0].text == "21", result
    return ready, times[0], times[1:]


def through_run(server: OpenAIServer, repo: Path, tmp: Path, repeat: int) -> list[float]:
    env = {**os.environ, **environment(tmp)}
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "rlm_tui", "run", str(repo), "--query",
                               QUESTION, *model_flags(server)], capture_output=True,
                              text=True, env=env, timeout=120)
        times.append(time.perf_counter() - t)
        assert done.returncode == 0 and done.stdout == "21\n", done.stderr
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as name, OpenAIServer() as server:
        tmp = Path(name)
        repo = make_repo(tmp)
        server.responder = two_iterations
        ready, first, warm = asyncio.run(through_mcp(server, repo, tmp, args.repeat))
        runs = through_run(server, repo, tmp, args.repeat)
    rows = [
        ("rlm-tui mcp: start to initialize answered", f"{ready * 1000:.0f} ms"),
        ("rlm_ask 2 iterations: server's first call", f"{first * 1000:.0f} ms"),
        (f"rlm_ask 2 iterations: median of {len(warm)} more", f"{statistics.median(warm) * 1000:.0f} ms"),
        (f"rlm-tui run 2 iterations: median of {len(runs)} (a process each)",
         f"{statistics.median(runs) * 1000:.0f} ms"),
    ]
    print(f"{'figure':<60}  {'value':<10}  {'goal':<8}  met")
    for figure, value in rows:
        print(f"{figure:<60}  {value:<10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
