"""The cost of a run past its model's window: with compaction it answers, without it fails.

The same scripted root model (each iteration prints a screenful, the last one answers from a
variable set in the first one and from `history`) against the local OpenAI-compatible test
server in a mode that refuses prompts past --window tokens, as a real server does (400,
context_length_exceeded). Three runs of --iterations iterations:

1. --root-window N (compaction at 0.85 of it, the default): it answers.
2. The window unknown (no --root-window, a model the map does not list): the server's first
   refusal compacts, the request is sent again; it answers.
3. --no-compact: it fails where the conversation outgrows the window, as before.

For each: the outcome, iterations, compactions, calls, tokens, the largest root prompt, the
cost at gpt-5-mini's prices ($0.25 in / $2.00 out per million; set as custom prices, as the
test server's model has none) and the summary calls' share of it. Nothing is asserted.

    .venv/bin/python bench/bench_compaction.py [--iterations 60] [--window 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from rlm_tui import events as ev  # noqa: E402
from rlm_tui.config import Price, Settings  # noqa: E402
from rlm_tui.engine import Run, RunContext  # noqa: E402
from rlm_tui.lm import ModelClient  # noqa: E402
from tests.integration.openai_server import OpenAIServer, Reply  # noqa: E402

MODEL = "openai/bench-root"
PRICE = Price(input=0.25, output=2.0)


class LongScript:
    def __init__(self, iterations: int) -> None:
        self.iterations = iterations
        self.step = 0
        self.largest = 0  # characters of the largest root request

    def __call__(self, body: dict) -> Reply:
        messages = body.get("messages", [])
        if "Summarize your progress so far" in str(messages[-1].get("content", "")):
            return Reply(text=f"Steps 1 to {self.step} are done; `keep` holds the first "
                         "result; next: go on with the next step.")
        self.largest = max(self.largest, sum(len(str(m.get("content", ""))) for m in messages))
        self.step += 1
        if self.step == 1:
            code = "keep = 'set before'\nprint('step 1')"
        elif self.step < self.iterations:
            code = f"x{self.step} = {self.step}\nprint('step {self.step}: ' + 'data ' * 80)"
        else:
            code = "answer = keep + ' / ' + str(len(history))\nFINAL_VAR('answer')"
        return Reply(text=f"Step {self.step}.\n\n```repl\n{code}\n```\n")


async def one_run(server: OpenAIServer, iterations: int, **settings) -> dict:
    script = LongScript(iterations)
    server.reset()
    server.max_prompt_tokens = settings.pop("refuse_past")
    server.responder = script
    run = Run(Settings(model=MODEL, api_base=server.base_url, max_retries=0,
                       max_iterations=iterations, **settings),
              ModelClient(prices={MODEL: (PRICE.input, PRICE.output)}), bus := ev.EventBus())
    seen: list = []
    bus.subscribe(seen.append)
    started = time.perf_counter()
    outcome = await run.start("Work long.", RunContext.from_value("hello"))
    seconds = time.perf_counter() - started
    compactions = [e for e in seen if isinstance(e, ev.Compacted) and e.replaced]
    usage = run.ledger.usage
    summaries = sum((c.usage.cost_usd or 0.0) for c in compactions)
    return {"outcome": outcome, "compactions": len(compactions), "usage": usage,
            "largest": script.largest // 4, "seconds": seconds,
            "summary_share": summaries / usage.cost_usd if usage.cost_usd else 0.0,
            "refusals": sum(1 for e in seen if isinstance(e, ev.RootDone) and e.error)}


def rows(name: str, r: dict, window: int, *, answers: bool) -> list[tuple[str, str, str, str]]:
    o, u = r["outcome"], r["usage"]
    said = o.status if o.status == "answered" else f"{o.status} ({o.error_kind})"
    goal = "answered" if answers else "failed"
    met = "yes" if (o.status == "answered") == answers else "NO"
    return [
        (f"{name}: outcome", said, goal, met),
        (f"{name}: iterations", str(o.iterations), "", ""),
        (f"{name}: compactions", str(r["compactions"]), "", ""),
        (f"{name}: refused requests", str(r["refusals"]), "", ""),
        (f"{name}: model calls", str(u.calls), "", ""),
        (f"{name}: tokens in / out", f"{u.prompt_tokens:,} / {u.completion_tokens:,}", "", ""),
        (f"{name}: largest root prompt (tokens)", f"~{r['largest']:,}", f"<= {window:,}",
         "yes" if r["largest"] <= window or not answers else "NO"),
        (f"{name}: cost (USD)", f"${u.cost_usd or 0.0:.5f}", "", ""),
        (f"{name}: summary calls' share of cost", f"{100 * r['summary_share']:.1f}%", "", ""),
        (f"{name}: time (s)", f"{r['seconds']:.2f}", "", ""),
    ]


async def main_async(args: argparse.Namespace) -> None:
    window = args.window
    with OpenAIServer() as server:
        compacted = await one_run(server, args.iterations, root_window=window,
                                  refuse_past=window)
        refused = await one_run(server, args.iterations, refuse_past=window)
        failed = await one_run(server, args.iterations, root_window=window, compact_at=0,
                               refuse_past=window)
    print(f"a {args.iterations}-iteration run against a server that refuses prompts past "
          f"{window:,} tokens; prices ${PRICE.input}/{PRICE.output} per M (gpt-5-mini)\n")
    table = [("figure", "value", "goal", "met"),
             *rows("--root-window (compact at 0.85)", compacted, window, answers=True),
             *rows("window unknown (compact on refusal)", refused, window, answers=True),
             *rows("--no-compact", failed, window, answers=False)]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--window", type=int, default=5000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
