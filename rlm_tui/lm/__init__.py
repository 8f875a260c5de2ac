"""The model boundary: the only package that talks to litellm, or to any provider.

    client = ModelClient(prices={"openai/my-model": (0.5, 1.5)})  # USD per million tokens
    check_model(spec)                      # offline: unknown provider, missing key
    done = await client.complete(spec, messages, on_delta=print_piece, on_retry=show_retry)
    done.text, done.usage.cost_usd, done.attempts, done.retries

OpenAI-compatible chat models are streamed directly over HTTP (openai_stream.py; routes.py
says which), the rest through litellm; `ModelSpec(transport="litellm")` forces litellm.
litellm is imported on first use (~3 s, ~170 MB); `await warm_up()` does it in the background.
"""

from rlm_tui.lm.check import check_model
from rlm_tui.lm.client import (
    PLACEHOLDER_API_KEY,
    DeltaCallback,
    Message,
    ModelClient,
    RetryCallback,
    prepare_models,
)
from rlm_tui.lm.completion import Completion, RetryInfo, Usage
from rlm_tui.lm.errors import RETRYABLE_KINDS, ErrorKind, ModelCallError, scrub_secrets
from rlm_tui.lm.litellm_loader import is_loaded, is_warm, load_litellm, warm_up
from rlm_tui.lm.pricing import PriceTable
from rlm_tui.lm.retry import RetryPolicy, parse_retry_after
from rlm_tui.lm.spec import ModelSpec

__all__ = [
    "PLACEHOLDER_API_KEY",
    "RETRYABLE_KINDS",
    "Completion",
    "DeltaCallback",
    "ErrorKind",
    "Message",
    "ModelCallError",
    "ModelClient",
    "ModelSpec",
    "PriceTable",
    "RetryCallback",
    "RetryInfo",
    "RetryPolicy",
    "Usage",
    "check_model",
    "is_loaded",
    "is_warm",
    "load_litellm",
    "parse_retry_after",
    "prepare_models",
    "scrub_secrets",
    "warm_up",
]
