"""What a model call returns: text, token usage, cost and the retries it took."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from rlm_tui.events import Usage
from rlm_tui.units import CHARS_PER_TOKEN
from rlm_tui.lm.errors import ErrorKind

# A call's usage is the one Usage of rlm_tui.events (`Usage.of_call`): tokens as the provider
# reported them (`reported` False when it sent none: the counts are then 0 and mean "unknown",
# not "free"), and `cost_usd` None when the cost is unknown (no usage, or no price for the
# model); it is never estimated.
__all__ = ["Completion", "RetryInfo", "Usage", "estimated_tokens"]

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
