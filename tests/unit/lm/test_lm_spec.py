"""ModelSpec: defaults and the arguments callers may not override."""

import pytest
from pydantic import ValidationError

from rlm_tui.lm import ModelSpec


def test_defaults_suit_a_provider_endpoint():
    spec = ModelSpec(model="openai/gpt-4o-mini")

    assert (spec.api_base, spec.api_key_env) == (None, None)
    assert spec.timeout == 600.0
    assert spec.max_retries == 4
    assert spec.params == {}


@pytest.mark.parametrize("name", ["stream", "api_key", "num_retries", "messages", "timeout"])
def test_params_may_not_override_what_the_client_sets(name):
    with pytest.raises(ValidationError, match=name):
        ModelSpec(model="openai/m", params={name: 1})


def test_ordinary_params_pass():
    assert ModelSpec(model="openai/m", params={"temperature": 0}).params == {"temperature": 0}


@pytest.mark.parametrize("fields", [{"timeout": 0}, {"max_retries": -1}, {"model": ""}])
def test_impossible_values_are_rejected(fields):
    with pytest.raises(ValidationError):
        ModelSpec(**{"model": "openai/m", **fields})


def test_a_spec_is_immutable():
    spec = ModelSpec(model="openai/m")

    with pytest.raises(ValidationError):
        spec.model = "other"
