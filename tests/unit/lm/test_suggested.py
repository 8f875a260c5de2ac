"""The models a first run offers: one per provider whose key is set, each a chat model that
litellm's price map knows under that provider."""

from rlm_tui.lm.price_map import load_price_map
from rlm_tui.lm.suggested import KEYED_MODELS, models_with_keys


def test_each_offered_model_is_a_chat_model_of_its_provider_in_the_price_map():
    price_map = load_price_map()
    for _, model in KEYED_MODELS:
        provider, _, name = model.partition("/")
        entry = price_map.get(model) or price_map.get(name)
        assert entry is not None, model
        assert entry["litellm_provider"] == provider and entry["mode"] == "chat", model


def test_only_the_providers_with_a_key_set_are_offered():
    environ = {"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "  ", "OTHER": "y"}
    assert models_with_keys(environ) == [("openai/gpt-5-mini", "OPENAI_API_KEY")]
    assert models_with_keys({}) == []
