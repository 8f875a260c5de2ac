"""The baseline: the same root model answers once with the whole context in its prompt, cut
to the model's window and marked so (the paper's comparison with the plain model).

The window comes from the price map litellm ships (lm/price_map.py reads its JSON file as a
file: importing litellm costs ~3 s), else --baseline-window, else DEFAULT_WINDOW_TOKENS. The context is cut
at about WINDOW_CHARS_PER_TOKEN characters a token, leaving room for the reply and the
question; a prompt the provider still finds too long is cut to half once more.
"""

from __future__ import annotations

import time
from typing import Any

from rlm_tui.context.pack import ContextPack
from rlm_tui.engine.run import Run
from rlm_tui.lm import ModelCallError, ModelClient
from rlm_tui.lm.price_map import model_window

DEFAULT_WINDOW_TOKENS = 128_000
# Fewer characters a token than the 4 of English prose: code and numbers take more tokens,
# and a cut a little early beats a prompt the provider refuses.
WINDOW_CHARS_PER_TOKEN = 3
PROMPT_ALLOWANCE_TOKENS = 512  # the instructions, the question and the cut mark

INSTRUCTIONS = ("Answer the question from the context below. Reply with the answer alone, "
                "no explanation.")


def context_text(pack: ContextPack, limit: int) -> tuple[str, int, bool]:
    """The context as one text, as `context.text` joins it (each file after a `==> path <==`
    line when there are several), up to `limit` characters; its whole length (headers and
    text); and whether it was cut."""
    single = pack.kind == "text"
    heads = ["" if single else f"==> {e.path} <==\n" for e in pack.entries]
    total = sum(len(h) + e.chars for h, e in zip(heads, pack.entries, strict=True))
    parts: list[str] = []
    left = limit
    with open(pack.blob_path, "rb") as blob:
        for head, entry in zip(heads, pack.entries, strict=True):
            if left < len(head) + entry.chars:
                if left > len(head):  # as much of this file as fits, then stop
                    blob.seek(entry.offset)
                    # A file's characters are at most its bytes: read no more than needed.
                    text = blob.read(min(entry.size, left * 4)).decode("utf-8", "ignore")
                    parts += [head, text[:left - len(head)]]
                return "".join(parts), total, True
            blob.seek(entry.offset)
            text = blob.read(entry.size).decode("utf-8", "replace")
            if head and text and not text.endswith("\n"):
                text += "\n"
            parts += [head, text]
            left -= len(head) + len(text)
    return "".join(parts), total, False


def baseline_prompt(query: str, text: str, total: int, cut: bool) -> str:
    """The one user message: instructions, the context (marked where it was cut), the
    question."""
    mark = ""
    if cut:
        mark = (f"\n[context cut here to fit the model's window: the first "
                f"{len(text):,} of {total:,} characters are shown]\n")
    return (f"{INSTRUCTIONS}\n\nContext:\n<<<\n{text}\n>>>{mark}\n\nQuestion: {query}")


async def run_baseline(query: str, pack: ContextPack, run: Run, client: ModelClient, *,
                       window: int | None) -> dict[str, Any]:
    """Ask the root model once, the context in the prompt; the baseline's record."""
    spec = run.spec(0)
    tokens = window or model_window(spec.model) or DEFAULT_WINDOW_TOKENS
    reply_tokens = int(spec.params.get("max_tokens") or 0)
    limit = max(0, (tokens - reply_tokens - PROMPT_ALLOWANCE_TOKENS) * WINDOW_CHARS_PER_TOKEN)
    started = time.monotonic()
    for attempt in range(2):
        text, total, cut = context_text(pack, limit)
        messages = [{"role": "user", "content": baseline_prompt(query, text, total, cut)}]
        try:
            async with run.limiter:
                done = await client.complete(spec, messages)
        except ModelCallError as exc:
            if exc.kind == "context_window" and attempt == 0 and limit > 1_000:
                limit //= 2  # the provider counts tokens its own way: cut to half, once
                continue
            return {"status": "failed", "answer": None, "reason": str(exc),
                    "error_kind": str(exc.kind), "cut": cut,
                    "context_chars": len(text), "context_total_chars": total,
                    "seconds": round(time.monotonic() - started, 3)}
        usage = done.usage
        return {
            "status": "answered", "answer": done.text.strip(), "reason": None,
            "cut": cut, "context_chars": len(text),
            "context_total_chars": total, "window_tokens": tokens,
            "tokens": {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens,
                       "total": usage.total_tokens, "cached": usage.cached_tokens,
                       "cache_write": usage.cache_write_tokens,
                       "estimated": not usage.reported},
            "cost_usd": None if usage.cost_usd is None or not usage.cost_known
            else round(usage.cost_usd, 6),
            "seconds": round(time.monotonic() - started, 3),
        }
    raise AssertionError("unreachable")  # pragma: no cover
