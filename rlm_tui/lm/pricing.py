"""What a call cost: custom prices from the config first, then litellm's bundled price map
(read as a file by price_map.py; litellm itself is asked only about entries the file alone
cannot price as litellm would)."""

from __future__ import annotations

from collections.abc import Mapping

from rlm_tui.lm.litellm_loader import load_litellm
from rlm_tui.lm.price_map import AskLitellm, lookup

PER_MILLION = 1_000_000


class PriceTable:
    """Prices per model, in USD.

    `custom` maps a model name (as written in a `ModelSpec`, with or without its provider
    prefix) to `(input_usd_per_million_tokens, output_usd_per_million_tokens)`, as in the
    config's `[prices]` table; these override litellm's map.

    litellm's map prices a provider's own endpoint, so it is used only for calls without an
    `api_base`. A model pointed at another server (a local one, a proxy) is priced only by
    `custom`; otherwise its cost is unknown (None), never guessed.
    """

    def __init__(self, custom: Mapping[str, tuple[float, float]] | None = None) -> None:
        self._custom: dict[str, tuple[float, float]] = {}
        for model, pair in (custom or {}).items():
            input_price, output_price = (float(p) for p in pair)
            if input_price < 0 or output_price < 0:
                raise ValueError(f"price for {model} is negative")
            self._custom[model] = (input_price, output_price)

    def cost_usd(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        custom_endpoint: bool = False,
    ) -> float | None:
        """USD for these tokens of `model`, or None when the model has no known price.

        `custom_endpoint` is True when the call went to an `api_base` of the user's own.
        """
        custom = self._custom_price(model)
        if custom is not None:
            input_price, output_price = custom
            return (prompt_tokens * input_price + completion_tokens * output_price) / PER_MILLION
        if custom_endpoint:
            return None
        return _map_cost(model, prompt_tokens, completion_tokens)

    def is_priced(self, model: str, *, custom_endpoint: bool = False) -> bool:
        """Whether `cost_usd` can give a number for `model`."""
        return self.cost_usd(model, 1, 1, custom_endpoint=custom_endpoint) is not None

    def _custom_price(self, model: str) -> tuple[float, float] | None:
        if model in self._custom:
            return self._custom[model]
        _, _, bare = model.partition("/")
        return self._custom.get(bare) if bare else None


def _map_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    try:
        entry = lookup(model)
    except AskLitellm:
        return _litellm_cost(model, prompt_tokens, completion_tokens)
    return entry.cost_usd(prompt_tokens, completion_tokens) if entry is not None else None


def _litellm_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    litellm = load_litellm()
    try:
        info = litellm.get_model_info(model)
    except Exception:  # noqa: BLE001 - litellm raises several types for an unmapped model
        return None
    # A map entry without per-token prices (per-second, per-image, ...) is not a price here.
    if info.get("input_cost_per_token") is None or info.get("output_cost_per_token") is None:
        return None
    try:
        input_cost, output_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # noqa: BLE001
        return None
    return float(input_cost) + float(output_cost)
