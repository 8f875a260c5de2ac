"""Settings: defaults < config file < RLM_TUI_* environment < flags; bad input named in one line."""

from pathlib import Path

import pytest

from rlm_tui.config import Settings, load_settings
from rlm_tui.errors import ConfigError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "config"


def load(flags=None, config="good.toml", environ=None) -> Settings:
    return load_settings(flags, config_path=FIXTURES / config, environ=environ or {})


def test_defaults_apply_when_nothing_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    settings = load_settings(config_path=None, environ={})
    assert settings.max_iterations == 30 and settings.max_depth == 1
    assert settings.max_concurrency == 16 and settings.cell_timeout == 60


def test_the_config_file_sets_values_with_dashes_or_underscores():
    settings = load()
    assert settings.model == "openai/x" and settings.max_iterations == 3
    assert settings.prices["openai/x"].input == 1.5


def test_environment_beats_the_file_and_flags_beat_the_environment():
    env = {"RLM_TUI_MAX_ITERATIONS": "7", "RLM_TUI_MODEL": "openai/env"}
    assert load(environ=env).max_iterations == 7
    settings = load({"max_iterations": 9, "model": None}, environ=env)
    assert settings.max_iterations == 9
    assert settings.model == "openai/env"  # a flag left unset does not override


def test_the_platform_config_file_is_read_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "rlm-tui").mkdir()
    (tmp_path / "rlm-tui" / "config.toml").write_text('model = "openai/from-file"\n')
    assert load_settings(config_path=None, environ={}).model == "openai/from-file"


def test_a_named_config_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(config_path=tmp_path / "absent.toml", environ={})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("wrong_type.toml", "max_iterations: Input should be a valid integer"),
        ("unknown_key.toml", "max_iteration: unknown setting"),
        ("not_toml.toml", "is not valid TOML"),
        ("negative_price.toml", "prices.m.input"),
        ("bad_url.toml", "api_base"),
        ("binary.toml", "cannot read config file"),
        ("reserved_model_param.toml", "openai/x: may not set stream (rlm-tui sets them)"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_the_key(config, message):
    with pytest.raises(ConfigError) as caught:
        load(config=config)
    text = str(caught.value)
    assert message in text and "\n" not in text
    assert config in text


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RLM_TUI_MAX_COST": "lots"}, "RLM_TUI_MAX_COST"),
        ({"RLM_TUI_NO_SUCH": "1"}, "RLM_TUI_NO_SUCH: unknown setting"),
        ({"RLM_TUI_PRICES": "x"}, "set prices in the config file"),
        ({"RLM_TUI_MODELS": "x"}, "set models in the config file"),
    ],
)
def test_a_bad_environment_variable_is_named(environ, message):
    with pytest.raises(ConfigError, match=message):
        load(environ=environ)


def test_a_bad_flag_is_named_as_the_flag():
    with pytest.raises(ConfigError, match="--max-depth"):
        load({"max_depth": 0})


def test_public_settings_drop_credentials_from_urls():
    settings = Settings(api_base="https://user:pw@example.com/v1")
    assert settings.public_dict()["api_base"] == "https://example.com/v1"


def test_each_reply_is_capped_by_default_and_a_models_own_max_tokens_wins():
    from rlm_tui.config import Settings

    s = Settings(model="openai/x", models={"openai/y": {"max_tokens": 99, "temperature": 0}})
    assert s.model_params("openai/x", sub=False) == {"max_tokens": 4096}
    assert s.model_params("openai/x", sub=True) == {"max_tokens": 2048}
    assert s.model_params("openai/y", sub=True) == {"max_tokens": 99, "temperature": 0}
    one = Settings(max_output_tokens=500)
    assert one.model_params("m", sub=False) == one.model_params("m", sub=True) == {
        "max_tokens": 500}
