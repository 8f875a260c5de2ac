"""What a run costs when the provider caches prompts: the cost rlm-tui reports against the
bill for the usage the server reported, and the share of prompt tokens read from the cache.

One scripted session of N iterations (default 30; a sub-call every third) against the local
test server (tests/integration/openai_server.py) in its PromptCache mode: OpenAI's rule
(a prefix of at least 1024 tokens reused, in steps of 128, reported as
`usage.prompt_tokens_details.cached_tokens`). The model is priced as `openai/gpt-5-mini` in
litellm's bundled map (read here from the JSON file: input, cached input, output per token);
rlm-tui gets those prices as a [prices] entry (a model on a local api_base is otherwise
unpriced). The bill is computed here, independently, from the server's usage records.
Also printed: the prompt tokens the root sent per iteration (the server's count, 4
characters a token). With `--rlms-src DIR` (a checkout of github.com/alexzhang13/rlm, e.g.
`git archive HEAD rlm | tar -x -C DIR`; imported offline, not installed), rlms's own prompt
builders (`build_rlm_system_prompt`, `build_user_prompt`) make its first root request for
the same question and context, counted the same way; later iterations are not compared
(they need rlms's loop). Without it that row says "not measured". Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlm_tui import events as ev  # noqa: E402
from rlm_tui.config import Settings  # noqa: E402
from rlm_tui.engine import Run, RunContext  # noqa: E402
from rlm_tui.lm import ModelClient  # noqa: E402
from rlm_tui.lm.price_map import price_map_path  # noqa: E402
from tests.integration.openai_server import OpenAIServer, PromptCache, Reply  # noqa: E402

PRICED_AS = "gpt-5-mini"
QUERY = "What does this repository do?"
CONTEXT = "".join(f"line {i}: some text of the repository to read\n" for i in range(3000))


def rlms_first_request_tokens(source: str | None) -> str:
    if not source:
        return "not measured"
    sys.path.insert(0, source)
    from rlm.core.types import QueryMetadata
    from rlm.utils.prompts import RLM_SYSTEM_PROMPT, build_rlm_system_prompt, build_user_prompt

    messages = build_rlm_system_prompt(RLM_SYSTEM_PROMPT, QueryMetadata(CONTEXT),
                                       root_prompt=QUERY)
    messages.append(build_user_prompt(root_prompt=QUERY, iteration=0))
    return f"{sum(len(str(m['content'])) for m in messages) // 4:,}"


def map_prices() -> tuple[float, float, float]:
    entry = json.loads(price_map_path().read_bytes())[PRICED_AS]
    return (entry["input_cost_per_token"], entry["output_cost_per_token"],
            entry["cache_read_input_token_cost"])


def script(iterations: int):
    def responder(body: dict) -> Reply:
        messages = body.get("messages", [])
        if not any(m.get("role") == "system" for m in messages):
            return Reply(text="a sub-answer of a few words.")
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        if turn + 1 >= iterations:
            code = "FINAL('done')"
        elif turn % 3 == 2:
            code = f"s{turn} = llm_query('summarise part {turn}: ' + context[:200])\nprint(s{turn})"
        else:
            code = f"print(context[{turn * 300}:{turn * 300 + 600}])"
        return Reply(text=f"Step {turn}: looking further.\n\n```repl\n{code}\n```\n")
    return responder


async def session(server: OpenAIServer, iterations: int, prices: tuple[float, float, float]):
    per_million = tuple(p * 1e6 for p in prices)
    settings = Settings(model="openai/root", sub_model="openai/sub", api_base=server.base_url,
                        max_iterations=iterations + 2, max_retries=0)
    table = {m: (per_million[0], per_million[1], per_million[2], None)
             for m in ("openai/root", "openai/sub")}
    bus = ev.EventBus()
    run = Run(settings, ModelClient(prices=table), bus)
    outcome = await run.start(QUERY, RunContext.from_value(CONTEXT))
    await run.close()
    return run, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--rlms-src", metavar="DIR", help="a checkout of rlms's source")
    args = parser.parse_args()
    prices = map_prices()
    with OpenAIServer(prompt_cache=PromptCache()) as server:
        server.responder = script(args.iterations)
        run, outcome = asyncio.run(session(server, args.iterations, prices))
        usages = list(server.usages)
        roots = [r.json["messages"] for r in server.completion_requests
                 if any(m.get("role") == "system" for m in r.json["messages"])]
    bill = 0.0
    prompt = cached = 0
    for u in usages:
        hit = (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        bill += ((u["prompt_tokens"] - hit) * prices[0] + hit * prices[2]
                 + u["completion_tokens"] * prices[1])
        prompt += u["prompt_tokens"]
        cached += hit
    uncached_bill = sum(u["prompt_tokens"] * prices[0] + u["completion_tokens"] * prices[1]
                        for u in usages)
    reported = run.ledger.usage.cost_usd or 0.0
    off = abs(reported - bill) / bill * 100 if bill else 0.0
    sizes = [sum(len(str(m.get("content", ""))) for m in msgs) // 4 for msgs in roots]
    print(f"session: {outcome.status}, {len(roots)} root requests, {len(usages) - len(roots)} "
          f"sub-calls; priced as {PRICED_AS} (litellm's map)")
    print(f"prompt tokens sent per iteration (ours): first {sizes[0]:,}, "
          f"last {sizes[-1]:,}, mean {sum(sizes) / len(sizes):,.0f}")
    print(f"{'figure':<54}  {'value':<14}  {'goal':<8}  met")
    rows = [
        ("cost rlm-tui reports", f"${reported:.6f}", "", ""),
        ("bill for the usage the server reported", f"${bill:.6f}", "", ""),
        ("reported vs bill", f"{off:.3f}% off", "<= 1%", "yes" if off <= 1 else "NO"),
        ("the same tokens without cache prices", f"${uncached_bill:.6f}", "", ""),
        ("cached share of prompt tokens", f"{cached / prompt * 100:.1f}%", "", ""),
        ("root prompt tokens, first request (ours)", f"{sizes[0]:,}", "", ""),
        ("root prompt tokens, first request (rlms)",
         rlms_first_request_tokens(args.rlms_src), "", ""),
    ]
    for figure, value, goal, met in rows:
        print(f"{figure:<54}  {value:<14}  {goal:<8}  {met}".rstrip())


if __name__ == "__main__":
    main()
