"""check_model: offline validation before a run starts."""

import pytest

from rlm_tui.lm import ModelCallError, ModelSpec, check_model


@pytest.fixture(autouse=True)
def no_provider_keys(monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MY_SERVER_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("model", ["foo/bar", "no-such-model-anywhere"])
def test_an_unknown_provider_is_unknown_model(model):
    with pytest.raises(ModelCallError) as caught:
        check_model(ModelSpec(model=model))

    assert caught.value.kind == "unknown_model"
    assert model in str(caught.value)


def test_a_known_provider_without_its_key_names_the_variable():
    with pytest.raises(ModelCallError) as caught:
        check_model(ModelSpec(model="openai/gpt-4o-mini"))

    assert caught.value.kind == "auth"
    assert "OPENAI_API_KEY" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_anthropic_without_its_key_names_its_variable():
    with pytest.raises(ModelCallError) as caught:
        check_model(ModelSpec(model="anthropic/claude-3-5-sonnet-20240620"))

    assert "ANTHROPIC_API_KEY" in str(caught.value)


def test_a_known_provider_with_its_key_passes(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-value")

    check_model(ModelSpec(model="openai/gpt-4o-mini"))


def test_a_local_server_needs_no_key():
    check_model(ModelSpec(model="openai/local-model", api_base="http://127.0.0.1:8000/v1"))


@pytest.mark.parametrize("model", ["ollama/llama3", "ollama_chat/llama3"])
def test_ollama_needs_no_key_nor_its_address(model, monkeypatch):
    # litellm asks for $OLLAMA_API_BASE, but reaches localhost:11434 without it.
    monkeypatch.delenv("OLLAMA_API_BASE", raising=False)
    check_model(ModelSpec(model=model))


def test_a_named_key_variable_must_be_set():
    spec = ModelSpec(model="openai/local-model", api_base="http://127.0.0.1:8000/v1",
                     api_key_env="MY_SERVER_KEY")

    with pytest.raises(ModelCallError) as caught:
        check_model(spec)

    assert caught.value.kind == "auth"
    assert "$MY_SERVER_KEY" in str(caught.value)


def test_a_named_key_variable_that_is_set_passes(monkeypatch):
    monkeypatch.setenv("MY_SERVER_KEY", "value")

    check_model(ModelSpec(model="openai/gpt-4o-mini", api_key_env="MY_SERVER_KEY"))
