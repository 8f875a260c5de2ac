"""Which transport carries a model's calls, and where the direct one sends them.

The direct transport (openai_stream.py) speaks OpenAI's Chat Completions wire format and
nothing else, so a model goes direct only when litellm would send its request unchanged:

- the provider is one litellm reaches with just a base URL and a key (`DIRECT_PROVIDERS`),
  and litellm's request config for the model is that provider's plain one: litellm rewrites
  requests for OpenAI's o-series and GPT-5 models, and sends some models to the Responses
  API, so those stay on litellm;
- `params` holds only sampling parameters that litellm passes through as they are;
- `spec.transport` is `auto`.

Providers left out on purpose (litellm 1.106.2 transforms their requests or streams):
openrouter (extra headers, cache_control moves, its own chunk parser), deepseek (reasoning
content filled in, /beta base), groq (message transforms, its own chunk parser), together_ai
(message transforms), fireworks_ai (model names rewritten to accounts/fireworks/models/...),
azure, anthropic, gemini, bedrock, ollama and the rest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType

from rlm_tui import __version__
from rlm_tui.lm.errors import ModelCallError
from rlm_tui.lm.litellm_loader import load_litellm
from rlm_tui.lm.price_map import load_price_map
from rlm_tui.lm.spec import ModelSpec

# Sent to an `api_base` server when no key is named: OpenAI-compatible local servers expect
# some key, and an explicit one stops litellm from sending OPENAI_API_KEY to a foreign host.
PLACEHOLDER_API_KEY = "no-key"

# Sampling parameters that litellm's plain OpenAI configs copy into the request unchanged.
PASSTHROUGH_PARAMS = frozenset(
    {"temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty",
     "frequency_penalty"}
)

OPENAI_API_BASE = "https://api.openai.com/v1"
USER_AGENT = f"rlm-tui/{__version__}"
_CHAT_PATH = "/chat/completions"


@dataclass(frozen=True)
class _Provider:
    configs: frozenset[str]  # litellm's request configs that leave a request unchanged
    key_env: str | None  # the provider's own key, for its own endpoint (no api_base)
    base_envs: tuple[str, ...]  # where litellm looks for the base URL when api_base is None
    default_base: str | None  # None: the provider has no endpoint of its own


# Base URLs and key variables as litellm 1.106.2 resolves them (main.py
# `_complete_custom_openai` for openai and custom_openai; `HostedVLLMChatConfig` for
# hosted_vllm, which goes direct only with an api_base).
DIRECT_PROVIDERS: dict[str, _Provider] = {
    "openai": _Provider(frozenset({"OpenAIGPTConfig", "OpenAIUnknownModelConfig"}),
                        "OPENAI_API_KEY", ("OPENAI_BASE_URL", "OPENAI_API_BASE"),
                        OPENAI_API_BASE),
    "custom_openai": _Provider(frozenset({"OpenAILikeChatConfig"}), "OPENAI_API_KEY",
                               ("OPENAI_BASE_URL", "OPENAI_API_BASE"), OPENAI_API_BASE),
    "hosted_vllm": _Provider(frozenset({"HostedVLLMChatConfig"}), None, (), None),
}


@dataclass(frozen=True)
class DirectRoute:
    """A model the direct transport can call: litellm's provider name for it, and the model
    name the server expects in the request body."""

    provider: str
    model: str

    def url(self, spec: ModelSpec) -> str:
        """The chat completions URL: `spec.api_base`, else the provider's own endpoint."""
        base = spec.api_base
        if base is None:
            provider = DIRECT_PROVIDERS[self.provider]
            base = next((os.environ[n] for n in provider.base_envs if os.environ.get(n)),
                        provider.default_base)
        base = (base or "").rstrip("/")
        return base if base.endswith(_CHAT_PATH) else base + _CHAT_PATH

    def headers(self, spec: ModelSpec) -> dict[str, str]:
        """The request headers, with the key `api_key` chooses (read now, never stored)."""
        key = api_key(spec)
        if key is None:
            env = DIRECT_PROVIDERS[self.provider].key_env
            key = os.environ.get(env) if env else None
            if not key:
                raise ModelCallError(
                    f"{spec.model}: no API key for provider {self.provider}: set ${env}",
                    kind="auth",
                )
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                   "Accept": "text/event-stream", "User-Agent": USER_AGENT}
        if spec.api_base is None:
            # As the OpenAI SDK sends them for litellm, to the provider's own endpoint only.
            for header, names in (("OpenAI-Organization", ("OPENAI_ORGANIZATION",
                                                           "OPENAI_ORG_ID")),
                                  ("OpenAI-Project", ("OPENAI_PROJECT_ID",))):
                value = next((os.environ[n] for n in names if os.environ.get(n)), None)
                if value:
                    headers[header] = value
        return headers


def api_key(spec: ModelSpec) -> str | None:
    """The key to send: the named variable's, a placeholder for `api_base`, or None (the
    provider's usual variable then applies). Never logged or stored."""
    if spec.api_key_env is not None:
        key = os.environ.get(spec.api_key_env)
        if not key:
            raise ModelCallError(
                f"{spec.model}: no API key: ${spec.api_key_env} is not set", kind="auth"
            )
        return key
    if spec.api_base is not None:
        return PLACEHOLDER_API_KEY
    return None


def direct_route(spec: ModelSpec) -> DirectRoute | None:
    """The direct route for `spec`, or None when litellm must carry its calls.

    An `openai/...` chat model is decided from its name and litellm's price map, read as a
    file (`known_openai_route`); any other model asks litellm itself, loading it (~3 s the
    first time). Call it from a worker thread, once per spec (its answer does not change).
    """
    if spec.transport != "auto" or not PASSTHROUGH_PARAMS.issuperset(spec.params):
        return None
    known = known_openai_route(spec)
    return known if known is not None else litellm_route(spec)


def known_openai_route(spec: ModelSpec) -> DirectRoute | None:
    """The direct route of an `openai/NAME` model that litellm sends unchanged, decided
    without litellm; None when only litellm can tell (it then decides, as for any model).

    litellm 1.106.2 takes `openai/` for its provider whatever the api_base, unless
    $USE_LITELLM_PROXY sends everything to a LiteLLM proxy, and rewrites requests only for
    the o-series and GPT-5 and later (by name), and for models the map puts in another mode
    than chat (the Responses API). tests/unit/lm/test_lm_routes.py checks this against
    litellm for every OpenAI model in the map.
    """
    provider, _, name = spec.model.partition("/")
    if provider != "openai" or not name or os.environ.get("USE_LITELLM_PROXY", "").strip():
        return None
    if _is_reasoning_series(name) or "responses/" in name:
        return None
    price_map = load_price_map()
    if not price_map:
        return None  # the file is missing or unreadable: litellm decides
    entry = next((e for e in (price_map.get(spec.model), price_map.get(name))
                  if isinstance(e, dict)), None)
    if entry is not None and (entry.get("litellm_provider") != "openai"
                              or entry.get("mode") != "chat"):
        return None
    return DirectRoute(provider="openai", model=name)


def _is_reasoning_series(name: str) -> bool:
    """The o-series (o1, o3-mini, ...) and GPT-5 and later, as litellm's request configs
    tell them (a wider net: an `o4-local` also goes to litellm, which decides)."""
    last = name.rsplit("/", 1)[-1]
    o_series = len(last) > 1 and last[0] == "o" and last[1].isdigit()
    return o_series or "gpt-5" in name or "gpt-6" in name


def litellm_route(spec: ModelSpec) -> DirectRoute | None:
    """The direct route for `spec` as litellm's own provider and request config say;
    loads litellm. Call `direct_route`, which checks the transport and params first."""
    litellm = load_litellm()
    try:
        model, provider, _, _ = litellm.get_llm_provider(model=spec.model,
                                                         api_base=spec.api_base)
    except Exception:  # noqa: BLE001 - litellm's own path reports an unknown provider
        return None
    known = DIRECT_PROVIDERS.get(provider)
    if known is None or (known.default_base is None and spec.api_base is None):
        return None
    if _request_config_name(litellm, model, provider) not in known.configs:
        return None
    try:
        mode = litellm.get_model_info(model, custom_llm_provider=provider).get("mode")
    except Exception:  # noqa: BLE001 - a model missing from the map is a plain chat model
        mode = None
    if mode not in (None, "chat"):
        return None  # e.g. "responses": litellm bridges these to the Responses API
    return DirectRoute(provider=provider, model=model)


def _request_config_name(litellm: ModuleType, model: str, provider: str) -> str | None:
    try:
        config = litellm.utils.ProviderConfigManager.get_provider_chat_config(
            model, litellm.types.utils.LlmProviders(provider)
        )
    except Exception:  # noqa: BLE001
        return None
    return type(config).__name__ if config is not None else None
