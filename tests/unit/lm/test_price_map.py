"""Prices read from litellm's bundled map as a file are litellm's own prices, entry by entry,
and reading them imports no litellm."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_tui.lm import load_litellm
from rlm_tui.lm.price_map import AskLitellm, load_price_map, lookup, price_map_path
from rlm_tui.lm.pricing import PriceTable, _litellm_cost

TOKENS = [(1_234, 567), (0, 1_000), (250_000, 40_000)]


def user_names() -> list[str]:
    """Every chat model in the map, named as a user writes it: `provider/name`."""
    names = []
    for key, entry in load_price_map().items():
        if not isinstance(entry, dict) or entry.get("mode") != "chat":
            continue
        provider = entry.get("litellm_provider")
        if not isinstance(provider, str):
            continue
        names.append(key if key.startswith(provider + "/") else f"{provider}/{key}")
    return names


def test_the_map_is_the_file_litellm_ships_and_reads():
    litellm = load_litellm()
    path = price_map_path()

    assert path is not None and path.parent == Path(litellm.__file__).parent
    in_file = json.loads(path.read_text())
    assert all(in_file[name] == entry for name, entry in litellm.model_cost.items())
    # litellm drops only what is not a model (its "fallback_generalizations" notes).
    assert not any("mode" in in_file[name] for name in in_file.keys() - litellm.model_cost)


def test_every_chat_model_the_map_prices_costs_what_litellm_says():
    names = user_names()
    priced_here = 0
    for model in names:
        try:
            entry = lookup(model)
        except AskLitellm:
            continue
        for prompt, completion in TOKENS:
            ours = entry.cost_usd(prompt, completion) if entry is not None else None
            theirs = _litellm_cost(model, prompt, completion)
            assert ours == pytest.approx(theirs, rel=1e-12), (model, prompt, completion)
        priced_here += entry is not None and entry.cost_usd(1, 1) is not None
    # OpenAI's models are, but for those priced by tiers and thresholds.
    openai = [name for name in names if name.startswith("openai/")]
    assert priced_here > len(openai) * 0.8


@pytest.mark.parametrize("model", [
    "openai/gpt-4o-mini", "openai/gpt-4o", "openai/gpt-4.1", "openai/gpt-3.5-turbo",
    "openai/o3-mini", "openai/gpt-5", "openai/gpt-5-mini", "anthropic/claude-3-5-haiku-20241022",
    "deepseek/deepseek-chat", "groq/llama3-8b-8192", "gemini/gemini-2.0-flash",
])
def test_the_models_we_price_today_cost_what_litellm_says(model):
    table = PriceTable()
    for prompt, completion in TOKENS:
        assert table.cost_usd(model, prompt, completion) == pytest.approx(
            _litellm_cost(model, prompt, completion), rel=1e-12)


@pytest.mark.parametrize("model", [
    "openai/my-local-model", "openai/root-2-0", "openai/meta-llama/Llama-3.1-8B",
    "openai/qwen2.5-coder:7b", "openai/gpt-4o-mini-my-finetune",
])
def test_an_openai_name_missing_from_the_map_is_unpriced_as_litellm_says(model):
    assert lookup(model) is None
    assert _litellm_cost(model, 1000, 1000) is None


def test_pricing_a_mapped_model_imports_no_litellm():
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM_")}
    code = ("import sys\n"
            "from rlm_tui.lm import PriceTable\n"
            "t = PriceTable()\n"
            "print(t.cost_usd('openai/gpt-4o-mini', 1000, 1000) > 0,"
            " t.cost_usd('openai/local', 1, 1), 'litellm' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)

    assert done.stdout.split() == ["True", "None", "False"], done.stderr


def test_without_the_file_litellm_is_asked(monkeypatch):
    from rlm_tui.lm import price_map
    from rlm_tui.lm.routes import known_openai_route
    from rlm_tui.lm.spec import ModelSpec

    monkeypatch.setattr(price_map, "_map", {})
    price_map._lookup.cache_clear()
    try:
        with pytest.raises(AskLitellm):
            lookup("openai/gpt-4o-mini")
        assert known_openai_route(ModelSpec(model="openai/local",
                                            api_base="http://127.0.0.1:9/v1")) is None
    finally:
        price_map._lookup.cache_clear()
