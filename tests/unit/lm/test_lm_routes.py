"""Which models go direct, where the direct transport sends them, and with which key."""

import pytest

from rlm_tui.lm import PLACEHOLDER_API_KEY, ModelCallError, ModelSpec
from rlm_tui.lm.routes import (
    OPENAI_API_BASE,
    USER_AGENT,
    DirectRoute,
    direct_route,
    known_openai_route,
    litellm_route,
)

LOCAL = "http://127.0.0.1:8000/v1"
KEY_VARIABLES = ("USE_LITELLM_PROXY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "OPENAI_ORGANIZATION",
                 "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "MY_SERVER_KEY", "RLM_TUI_TRANSPORT")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("model", "api_base", "provider", "sent_as"), [
    ("openai/test-model", LOCAL, "openai", "test-model"),
    ("openai/meta-llama/Llama-3.1-8B", LOCAL, "openai", "meta-llama/Llama-3.1-8B"),
    ("openai/gpt-4o-mini", None, "openai", "gpt-4o-mini"),
    ("gpt-4o-mini", None, "openai", "gpt-4o-mini"),
    ("custom_openai/my-model", LOCAL, "custom_openai", "my-model"),
    ("hosted_vllm/my-model", LOCAL, "hosted_vllm", "my-model"),
])
def test_openai_compatible_chat_models_go_direct(model, api_base, provider, sent_as):
    route = direct_route(ModelSpec(model=model, api_base=api_base))

    assert route == DirectRoute(provider=provider, model=sent_as)


@pytest.mark.parametrize("model", [
    "openai/o3-mini",  # litellm rewrites max_tokens and more for the o-series
    "openai/gpt-5",  # and for GPT-5
    "openai/o1-pro",  # litellm sends this one to the Responses API
    "anthropic/claude-3-5-sonnet-20240620",
    "gemini/gemini-1.5-pro",
    "azure/gpt-4o",
    "ollama/llama3",
    "openrouter/openai/gpt-4o",
    "groq/llama3-8b-8192",
    "deepseek/deepseek-chat",
    "together_ai/meta-llama/Llama-3-8b-chat-hf",
    "fireworks_ai/llama-v3-8b-instruct",
    "hosted_vllm/my-model",  # without an api_base: litellm says what is missing
    "foo/bar",
])
def test_everything_else_stays_on_litellm(model):
    assert direct_route(ModelSpec(model=model)) is None


def test_the_transport_setting_forces_litellm():
    spec = ModelSpec(model="openai/test-model", api_base=LOCAL, transport="litellm")

    assert direct_route(spec) is None


def test_the_transport_default_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RLM_TUI_TRANSPORT", "litellm")

    assert ModelSpec(model="openai/test-model").transport == "litellm"


def test_plain_sampling_params_go_direct_and_others_stay_on_litellm():
    plain = {"temperature": 0.2, "top_p": 0.9, "max_tokens": 64, "stop": ["\n"], "seed": 1}

    assert direct_route(ModelSpec(model="openai/m", api_base=LOCAL, params=plain)) is not None
    for extra in ({"top_k": 3}, {"tools": []}, {"max_completion_tokens": 5}, {"n": 2}):
        assert direct_route(ModelSpec(model="openai/m", api_base=LOCAL, params=extra)) is None


@pytest.mark.parametrize(("api_base", "url"), [
    (LOCAL, f"{LOCAL}/chat/completions"),
    (LOCAL + "/", f"{LOCAL}/chat/completions"),
    (f"{LOCAL}/chat/completions", f"{LOCAL}/chat/completions"),
])
def test_the_url_is_the_api_base_and_the_chat_path(api_base, url):
    spec = ModelSpec(model="openai/m", api_base=api_base)

    assert direct_route(spec).url(spec) == url


def test_without_api_base_the_url_is_openais_or_the_one_its_variables_name(monkeypatch):
    spec = ModelSpec(model="openai/gpt-4o-mini")
    route = direct_route(spec)

    assert route.url(spec) == f"{OPENAI_API_BASE}/chat/completions"
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example/v1")
    assert route.url(spec) == "https://proxy.example/v1/chat/completions"


def test_an_api_base_server_gets_the_placeholder_key_even_when_openais_is_set(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-notForThisServer0123456789")
    monkeypatch.setenv("OPENAI_ORGANIZATION", "org-123")
    spec = ModelSpec(model="openai/m", api_base=LOCAL)

    headers = direct_route(spec).headers(spec)

    assert headers["Authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"
    assert "OpenAI-Organization" not in headers
    assert headers["User-Agent"] == USER_AGENT


def test_the_named_key_variable_is_sent(monkeypatch):
    monkeypatch.setenv("MY_SERVER_KEY", "server-key-123")
    spec = ModelSpec(model="openai/m", api_base=LOCAL, api_key_env="MY_SERVER_KEY")

    assert direct_route(spec).headers(spec)["Authorization"] == "Bearer server-key-123"


def test_a_named_key_variable_that_is_unset_is_an_auth_error():
    spec = ModelSpec(model="openai/m", api_base=LOCAL, api_key_env="MY_SERVER_KEY")

    with pytest.raises(ModelCallError) as caught:
        direct_route(spec).headers(spec)

    assert caught.value.kind == "auth"
    assert "$MY_SERVER_KEY" in str(caught.value)


def test_openais_endpoint_gets_openais_key_organization_and_project(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-theOpenAIkey0123456789")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-456")
    spec = ModelSpec(model="openai/gpt-4o-mini")

    headers = direct_route(spec).headers(spec)

    assert headers["Authorization"] == "Bearer sk-proj-theOpenAIkey0123456789"
    assert headers["OpenAI-Organization"] == "org-123"
    assert headers["OpenAI-Project"] == "proj-456"


def test_openais_endpoint_without_its_key_is_an_auth_error_naming_the_variable():
    spec = ModelSpec(model="openai/gpt-4o-mini")

    with pytest.raises(ModelCallError) as caught:
        direct_route(spec).headers(spec)

    assert caught.value.kind == "auth"
    assert "$OPENAI_API_KEY" in str(caught.value)


def openai_names() -> list[str]:
    """Every OpenAI model in litellm's map (any mode), and names a local server uses."""
    from rlm_tui.lm.price_map import load_price_map

    mapped = [f"openai/{key.removeprefix('openai/')}" for key, entry in load_price_map().items()
              if isinstance(entry, dict) and entry.get("litellm_provider") == "openai"]
    return mapped + ["openai/test-model", "openai/meta-llama/Llama-3.1-8B", "openai/o3-local",
                     "openai/qwen2.5-coder:7b", "openai/gpt-5-local", "openai/gpt-4o-local",
                     "openai/gpt-3.5-turbo-instruct", "openai/gpt-5-chat-latest"]


@pytest.mark.parametrize("api_base", [None, LOCAL])
def test_openai_routes_decided_without_litellm_are_the_ones_litellm_decides(api_base):
    decided = set()
    for model in openai_names():
        spec = ModelSpec(model=model, api_base=api_base)
        known = known_openai_route(spec)
        if known is not None:
            decided.add(model)
            assert known == litellm_route(spec), model
    # The rest (o-series, GPT-5, embeddings, Responses models) litellm decides, as before.
    assert decided >= {"openai/test-model", "openai/meta-llama/Llama-3.1-8B",
                       "openai/qwen2.5-coder:7b", "openai/gpt-4o-mini", "openai/gpt-4o",
                       "openai/gpt-4.1", "openai/gpt-3.5-turbo"}


def test_a_litellm_proxy_in_the_environment_leaves_the_route_to_litellm(monkeypatch):
    monkeypatch.setenv("USE_LITELLM_PROXY", "True")

    assert known_openai_route(ModelSpec(model="openai/test-model", api_base=LOCAL)) is None
