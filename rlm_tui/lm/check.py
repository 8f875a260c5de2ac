"""Validating a model spec before a run starts, without calling the model."""

from __future__ import annotations

import os

from rlm_tui.lm.demo import is_demo
from rlm_tui.lm.errors import ModelCallError
from rlm_tui.lm.litellm_loader import load_litellm
from rlm_tui.lm.spec import ModelSpec


def check_model(spec: ModelSpec) -> None:
    """Raise `ModelCallError` if `spec` cannot work, judged offline.

    - kind `unknown_model`: litellm cannot tell the provider from the model name;
    - kind `auth`: the key is missing: `spec.api_key_env` is named but unset, or, for a
      provider's own endpoint (no `api_base`), the provider's usual variables are unset.
      With `api_base` and no `api_key_env`, no key is needed (a dummy one is sent).

    An `openai/...` model is checked without litellm (its provider is in its name); any
    other loads litellm (~3 s the first time): call it from a worker thread in an event loop.
    """
    if is_demo(spec.model):
        return
    if _is_openai_by_name(spec.model):
        # As litellm's validate_environment says for openai.
        _check_key(spec, "openai", [n for n in ("OPENAI_API_KEY",) if n not in os.environ])
        return
    litellm = load_litellm()
    try:
        _, provider, _, _ = litellm.get_llm_provider(model=spec.model, api_base=spec.api_base)
    except Exception:  # noqa: BLE001 - litellm raises BadRequestError for an unknown provider
        raise ModelCallError(
            f"{spec.model}: unknown model: name a provider prefix, e.g. openai/gpt-4o-mini, "
            "or openai/<name> with api_base for an OpenAI-compatible server",
            kind="unknown_model",
        ) from None
    if spec.api_key_env is not None or spec.api_base is not None:
        _check_key(spec, provider, [])
        return
    try:
        missing = list(litellm.validate_environment(model=spec.model).get("missing_keys") or [])
    except Exception:  # noqa: BLE001 - a provider litellm cannot check: let the call tell
        return
    _check_key(spec, provider, [name for name in missing
                                if name not in _DEFAULTS_TO_THIS_MACHINE])


def _is_openai_by_name(model: str) -> bool:
    """`openai/NAME`: litellm's provider is openai whatever the rest (unless a LiteLLM proxy
    takes every call, which litellm then checks)."""
    provider, _, name = model.partition("/")
    return provider == "openai" and bool(name) and not os.environ.get(
        "USE_LITELLM_PROXY", "").strip()


def _check_key(spec: ModelSpec, provider: str, missing: list[str]) -> None:
    """Raise the `auth` error: for the named variable if any, else, for the provider's own
    endpoint, for `missing` (its variables that are unset) or its usual one if empty."""
    if spec.api_key_env is not None:
        if not os.environ.get(spec.api_key_env):
            raise ModelCallError(
                f"{spec.model}: no API key: ${spec.api_key_env} is not set", kind="auth"
            )
        return
    if spec.api_base is not None:
        return
    # litellm counts a variable set to "" as present; an empty key is no key.
    missing += [name for name in _usual_key_variables(provider)
                if name in os.environ and not os.environ[name].strip() and name not in missing]
    if missing:
        names = " and ".join(f"${name}" for name in missing)
        raise ModelCallError(
            f"{spec.model}: no API key for provider {provider}: set {names}", kind="auth"
        )


# Variables litellm asks for that name a server it finds on this machine when they are unset:
# Ollama's, at localhost:11434. Ollama takes no key, so `--model ollama/llama3` needs nothing.
_DEFAULTS_TO_THIS_MACHINE = frozenset({"OLLAMA_API_BASE"})


def _usual_key_variables(provider: str) -> list[str]:
    """The environment variable a provider's key usually lives in (e.g. OPENAI_API_KEY)."""
    return [f"{provider.upper().replace('-', '_')}_API_KEY"]
