"""litellm's price map, read as the JSON file litellm ships, without importing litellm.

litellm bundles its map of models (prices per token, mode, provider) as
`model_prices_and_context_window_backup.json` in its package directory, and reads that file
itself when `LITELLM_LOCAL_MODEL_COST_MAP` is set (as litellm_loader.py sets it, unless the
user set it otherwise: litellm then downloads a newer map, whose prices may differ). Reading
the same file here prices a call and tells a chat model from a Responses one without
litellm's ~3 s import. Parsing it takes ~25 ms and ~5 MB, once per process (measured: not
worth a cache on disk).

Only OpenAI's entries priced per token and nothing else (no thresholds, tiers or off-peak
hours) are priced here; for the rest `lookup` says to ask litellm. tests/unit/lm/
test_price_map.py checks every answer given here against litellm's, entry by entry.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"

# Providers priced from the file. OpenAI's models are in the map under their own names or not
# at all, so a name missing from it has no price. Many other providers' names are rewritten
# by litellm before its lookup (vertex_ai, bedrock, ...), or priced by rules of their own
# (dashscope, volcengine); their calls go through litellm anyway, so litellm prices them.
FILE_PRICED_PROVIDERS = frozenset({"openai"})

# An entry priced with these keys alone costs `prompt x input + completion x output` for a
# call whose usage is plain prompt and completion tokens (no cached, audio or reasoning
# details, no service tier): litellm's cost_per_token gives the same, as the test checks.
PLAIN_PRICE_KEYS = frozenset({
    "input_cost_per_token", "output_cost_per_token",
    "cache_read_input_token_cost", "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
    "input_cost_per_token_batches", "output_cost_per_token_batches",
    "cache_read_input_token_cost_batches", "cache_creation_input_token_cost_batches",
    "input_cost_per_token_priority", "output_cost_per_token_priority",
    "cache_read_input_token_cost_priority", "cache_creation_input_token_cost_priority",
    "input_cost_per_token_flex", "output_cost_per_token_flex",
    "cache_read_input_token_cost_flex",
    "search_context_cost_per_query",
    "input_cost_per_audio_token", "output_cost_per_audio_token",
    "cache_read_input_audio_token_cost", "cache_creation_input_audio_token_cost",
    "output_cost_per_reasoning_token",
})


@dataclass(frozen=True)
class MapEntry:
    """What the map says of one model, when this module can answer for litellm."""

    mode: str | None
    input_per_token: float | None
    output_per_token: float | None
    cache_read_per_token: float | None = None
    cache_write_per_token: float | None = None

    def cost_usd(self, prompt_tokens: int, completion_tokens: int, *, cached_tokens: int = 0,
                 cache_write_tokens: int = 0) -> float | None:
        """USD for these tokens, as litellm's cost_per_token gives it; None if unpriced.
        `cached_tokens` and `cache_write_tokens` are parts of `prompt_tokens`, priced at the
        entry's cache prices (at its input price where it lists none, as litellm does)."""
        if self.input_per_token is None or self.output_per_token is None:
            return None
        return cached_cost(prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens,
                           self.input_per_token, self.output_per_token,
                           self.cache_read_per_token, self.cache_write_per_token)


def cached_cost(prompt_tokens: int, completion_tokens: int, cached_tokens: int,
                cache_write_tokens: int, input_price: float, output_price: float,
                cache_read_price: float | None, cache_write_price: float | None) -> float:
    """A call's cost when `cached_tokens` and `cache_write_tokens` of its `prompt_tokens`
    have prices of their own (None: the input price); any unit, the same for all four."""
    cached = max(0, min(cached_tokens, prompt_tokens))
    written = max(0, min(cache_write_tokens, prompt_tokens - cached))
    plain = prompt_tokens - cached - written
    read = input_price if cache_read_price is None else cache_read_price
    write = input_price if cache_write_price is None else cache_write_price
    return plain * input_price + cached * read + written * write + completion_tokens * output_price


class AskLitellm(Exception):
    """The map alone cannot answer as litellm would (an entry priced by tiers, a provider
    that names models in several ways): ask litellm."""


_lock = threading.Lock()
_map: dict[str, Any] | None = None


def price_map_path() -> Path | None:
    """Where the installed litellm keeps its bundled map, found without importing litellm
    (`find_spec` on a top-level package locates it and runs none of its code)."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for directory in spec.submodule_search_locations:
        path = Path(directory) / PRICE_MAP_FILE
        if path.is_file():
            return path
    return None


def load_price_map() -> Mapping[str, Any]:
    """The map, parsed on first use (~25 ms); empty when litellm or its file is missing."""
    global _map
    if _map is None:
        with _lock:
            if _map is None:
                path = price_map_path()
                loaded: Any = {}
                if path is not None:
                    try:
                        loaded = json.loads(path.read_bytes())
                    except (OSError, ValueError):
                        loaded = {}
                _map = loaded if isinstance(loaded, dict) else {}
    return _map


def lookup(model: str) -> MapEntry | None:
    """The map's entry for `model` (`provider/name`), None when the map has none and litellm
    would find none either. Raises `AskLitellm` when only litellm can tell. Remembered per
    model (every call of a run is priced)."""
    entry = _lookup(model)
    if entry is _ASK:
        raise AskLitellm(model)
    return entry


_ASK = MapEntry(mode=None, input_per_token=None, output_per_token=None)


def model_window(model: str) -> int | None:
    """The model's input window in tokens, as the map lists it (under its full name or the
    name after its provider); None if it is not listed."""
    price_map = load_price_map()
    for name in (model, model.split("/", 1)[-1]):
        entry = price_map.get(name)
        if isinstance(entry, dict):
            window = entry.get("max_input_tokens") or entry.get("max_tokens")
            if isinstance(window, int) and window > 0:
                return window
    return None


@functools.lru_cache(maxsize=256)
def _lookup(model: str) -> MapEntry | None:
    provider, slash, bare = model.partition("/")
    if not slash or not bare or provider not in FILE_PRICED_PROVIDERS:
        return _ASK  # litellm also guesses the provider of a bare name
    price_map = load_price_map()
    if not price_map:
        return _ASK  # the file is missing or unreadable: litellm knows what it has
    found = [e for e in (price_map.get(model), price_map.get(bare)) if isinstance(e, dict)]
    if not found:
        return None
    entry = found[0]
    if entry.get("litellm_provider") != provider:
        return _ASK
    if not {key for key in entry if "cost" in key} <= PLAIN_PRICE_KEYS:
        return _ASK
    return MapEntry(mode=entry.get("mode"),
                    input_per_token=_price(entry.get("input_cost_per_token")),
                    output_per_token=_price(entry.get("output_cost_per_token")),
                    cache_read_per_token=_price(entry.get("cache_read_input_token_cost")),
                    cache_write_per_token=_price(entry.get("cache_creation_input_token_cost")))


def _price(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
