"""What a call cost: custom prices from the config first, then litellm's bundled price map
(read as a file by price_map.py; litellm itself is asked only about entries the file alone
cannot price as litellm would)."""

from __future__ import annotations

from collections.abc import Mapping

from rlm_tui.lm.litellm_loader import load_litellm
from rlm_tui.lm.price_map import AskLitellm, cached_cost, lookup

PER_MILLION = 1_000_000
# A custom price: (input, output, cached input, cache write) USD per million tokens; the
# last two None (or left off) price those tokens at the input price.
CustomPrice = tuple[float, float, float | None, float | None]


class PriceTable:
    """Prices per model, in USD.

    `custom` maps a model name (as written in a `ModelSpec`, with or without its provider
    prefix) to `(input, output)` or `(input, output, cached_input, cache_write)` USD per
    million tokens, as in the config's `[prices]` table; these override litellm's map.
    Cached prompt tokens are priced at the cache-read price (the map's
    `cache_read_input_token_cost`, or `cached_input`), cache writes at the cache-write one;
    a model with no such price pays its input price for them.

    litellm's map prices a provider's own endpoint, so it is used only for calls without an
    `api_base`. A model pointed at another server (a local one, a proxy) is priced only by
    `custom`; otherwise its cost is unknown (None), never guessed.
    """

    def __init__(self, custom: Mapping[str, tuple[float | None, ...]] | None = None) -> None:
        self._custom: dict[str, CustomPrice] = {}
        for model, prices in (custom or {}).items():
            if len(prices) < 2 or len(prices) > 4:
                raise ValueError(f"price for {model} needs an input and an output price")
            full = (*prices, None, None)[:4]
            if full[0] is None or full[1] is None:
                raise ValueError(f"price for {model} needs an input and an output price")
            parsed = tuple(None if p is None else float(p) for p in full)
            if any(p is not None and p < 0 for p in parsed):
                raise ValueError(f"price for {model} is negative")
            self._custom[model] = parsed  # type: ignore[assignment]

    def cost_usd(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        custom_endpoint: bool = False,
        cached_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float | None:
        """USD for these tokens of `model`, or None when the model has no known price.

        `custom_endpoint` is True when the call went to an `api_base` of the user's own.
        `cached_tokens` / `cache_write_tokens` are the parts of `prompt_tokens` read from /
        written to the provider's prompt cache.
        """
        custom = self._custom_price(model)
        if custom is not None:
            input_price, output_price, read_price, write_price = custom
            return cached_cost(prompt_tokens, completion_tokens, cached_tokens,
                               cache_write_tokens, input_price, output_price, read_price,
                               write_price) / PER_MILLION
        if custom_endpoint:
            return None
        return _map_cost(model, prompt_tokens, completion_tokens, cached_tokens,
                         cache_write_tokens)

    def is_priced(self, model: str, *, custom_endpoint: bool = False) -> bool:
        """Whether `cost_usd` can give a number for `model`."""
        return self.cost_usd(model, 1, 1, custom_endpoint=custom_endpoint) is not None

    def _custom_price(self, model: str) -> CustomPrice | None:
        if model in self._custom:
            return self._custom[model]
        _, _, bare = model.partition("/")
        return self._custom.get(bare) if bare else None


def _map_cost(model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0,
              cache_write_tokens: int = 0) -> float | None:
    try:
        entry = lookup(model)
    except AskLitellm:
        return _litellm_cost(model, prompt_tokens, completion_tokens, cached_tokens,
                             cache_write_tokens)
    if entry is None:
        return None
    return entry.cost_usd(prompt_tokens, completion_tokens, cached_tokens=cached_tokens,
                          cache_write_tokens=cache_write_tokens)


def _litellm_cost(model: str, prompt_tokens: int, completion_tokens: int,
                  cached_tokens: int = 0, cache_write_tokens: int = 0) -> float | None:
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
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            # litellm counts both inside prompt_tokens, as we do (checked in the unit tests)
            cache_read_input_tokens=cached_tokens, cache_creation_input_tokens=cache_write_tokens,
        )
    except Exception:  # noqa: BLE001
        return None
    return float(input_cost) + float(output_cost)
