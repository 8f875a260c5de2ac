"""What a model call returns: text, token usage, cost and the retries it took."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from rlm_tui.events import Usage
from rlm_tui.units import CHARS_PER_TOKEN
from rlm_tui.lm.errors import ErrorKind

# A call's usage is the one Usage of rlm_tui.events (`Usage.of_call`): tokens as the provider
# reported them (`reported` False when it sent none: the counts are then 0 and mean "unknown",
# not "free"), and `cost_usd` None when the cost is unknown (no usage, or no price for the
# model); it is never estimated.
__all__ = ["Completion", "ReportedTokens", "RetryInfo", "Usage", "estimated_tokens",
           "reported_tokens"]

# When a server reports no usage (llama.cpp's streams never do), tokens are estimated by a
# stated rule: about four characters a token (units.CHARS_PER_TOKEN), plus four a message
# for its role and framing.
TOKENS_PER_MESSAGE = 4


def estimated_tokens(messages: Sequence[Mapping[str, Any]], reply: str | int) -> tuple[int, int]:
    """(prompt, completion) tokens of a call by the rule above; `reply` its text, or how many
    characters of it streamed."""
    prompt = sum(len(str(m.get("content", ""))) // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE
                 for m in messages)
    chars = reply if isinstance(reply, int) else len(reply)
    return prompt, chars // CHARS_PER_TOKEN


class ReportedTokens(NamedTuple):
    """The token counts a provider reported for one call. `cached` (read from its prompt
    cache) and `cache_write` (written to it) are parts of `prompt`, as OpenAI counts them
    and litellm normalises every provider's usage to."""

    prompt: int
    completion: int
    total: int
    cached: int = 0
    cache_write: int = 0


def reported_tokens(usage: Any) -> ReportedTokens | None:
    """The counts in a usage report: OpenAI's JSON (a dict, streamed or not) or litellm's
    usage object. Cached tokens from `prompt_tokens_details.cached_tokens` (OpenAI, and
    litellm for every provider) or Anthropic's `cache_read_input_tokens`; cache writes from
    `cache_creation_input_tokens` (Anthropic, as litellm keeps it) or
    `prompt_tokens_details.cache_creation_tokens` (litellm's). None: no report."""
    if usage is None or isinstance(usage, (str, bytes, int, float, list)):
        return None
    prompt = _count(_field(usage, "prompt_tokens"))
    completion = _count(_field(usage, "completion_tokens"))
    total = _count(_field(usage, "total_tokens")) or prompt + completion
    details = _field(usage, "prompt_tokens_details")
    cached = (_count(_field(details, "cached_tokens"))
              or _count(_field(usage, "cache_read_input_tokens")))
    written = (_count(_field(usage, "cache_creation_input_tokens"))
               or _count(_field(details, "cache_creation_tokens")))
    # A report whose parts exceed the whole is read as no more than the whole.
    cached = min(cached, prompt)
    written = min(written, prompt - cached)
    return ReportedTokens(prompt, completion, total, cached, written)


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return 0
    return int(value) if value > 0 else 0


class RetryInfo(BaseModel):
    """One failed attempt that the client is about to retry.

    `attempt` is the 1-based number of the attempt that failed, `wait_s` how long the client
    waits before the next one. `discarded_output` is True when that attempt had already
    delivered text to `on_delta`: the caller should clear it, as the next attempt streams
    the answer again from the start.
    """

    model_config = ConfigDict(frozen=True)

    attempt: int
    kind: ErrorKind
    reason: str
    status_code: int | None = None
    wait_s: float
    discarded_output: bool = False


class Completion(BaseModel):
    """A finished model call.

    `model` is the model name the provider reported (the requested one if it reported none),
    `latency_s` the wall time of the whole call including retries and waits, `attempts`
    how many requests were made, and `retries` what went wrong in each failed one.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    usage: Usage
    model: str
    finish_reason: str
    latency_s: float
    attempts: int
    retries: tuple[RetryInfo, ...] = ()
