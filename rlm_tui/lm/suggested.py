"""Models to offer someone who has set none (the app's first run): one per provider whose API
key is in the environment. Only the variables' names are read here, never their values."""

from __future__ import annotations

import os
from collections.abc import Mapping

# (the provider's key variable, as litellm reads it; a small, cheap model of that provider,
# by litellm's name). tests/unit/lm/test_suggested.py checks each is in litellm's price map.
KEYED_MODELS: tuple[tuple[str, str], ...] = (
    ("OPENAI_API_KEY", "openai/gpt-5-mini"),
    ("ANTHROPIC_API_KEY", "anthropic/claude-haiku-4-5"),
    ("GEMINI_API_KEY", "gemini/gemini-2.5-flash"),
    ("DEEPSEEK_API_KEY", "deepseek/deepseek-chat"),
    ("MISTRAL_API_KEY", "mistral/mistral-small-latest"),
)


def models_with_keys(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(model, key variable) for each provider whose key is set (an empty one is no key)."""
    environ = os.environ if environ is None else environ
    return [(model, name) for name, model in KEYED_MODELS if environ.get(name, "").strip()]
