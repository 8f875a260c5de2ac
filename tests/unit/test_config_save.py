"""Saving a model chosen in the app to the config file: the other settings, comments and
tables kept as they were, the file replaced only by text that reads back, no secrets."""

import os
import tomllib

import pytest

from rlm_tui.config import load_settings, save_model_choice
from rlm_tui.errors import ConfigError

MINE = """# my settings
max-iterations = 12
model = "openai/old"   # the one I used
api_base = "http://localhost:8080/v1"

[prices."openai/x"]
input = 1.0
output = 2.0
"""


def test_a_new_file_gets_the_model_and_nothing_else(tmp_path):
    path = tmp_path / "rlm-tui" / "config.toml"
    assert save_model_choice("demo", None, path) == path
    assert path.read_text() == 'model = "demo"\n'
    assert load_settings(config_path=path, environ={}).model == "demo"


def test_the_users_other_lines_are_kept_and_the_model_replaced_in_place(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(MINE)
    save_model_choice("openai/tiny", "http://127.0.0.1:11434/v1", path)
    text = path.read_text()
    assert text == MINE.replace('model = "openai/old"   # the one I used', 'model = "openai/tiny"')\
        .replace("http://localhost:8080/v1", "http://127.0.0.1:11434/v1")
    settings = load_settings(config_path=path, environ={})
    assert (settings.model, settings.api_base) == ("openai/tiny", "http://127.0.0.1:11434/v1")
    assert settings.max_iterations == 12 and settings.prices["openai/x"].output == 2.0


def test_an_api_base_the_choice_does_not_need_is_commented_out_not_lost(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(MINE)
    save_model_choice("openai/gpt-5-mini", None, path)
    text = path.read_text()
    assert '# api_base = "http://localhost:8080/v1"' in text
    assert "api_base" not in tomllib.loads(text)


def test_keys_go_above_the_first_table(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[models."openai/x"]\ntemperature = 0.2\n')
    save_model_choice("openai/x", "http://h:1/v1", path)
    data = tomllib.loads(path.read_text())
    assert data == {"model": "openai/x", "api_base": "http://h:1/v1",
                    "models": {"openai/x": {"temperature": 0.2}}}


def test_a_name_with_quotes_and_backslashes_reads_back_as_given(tmp_path):
    path = tmp_path / "config.toml"
    name = 'openai/we"ird\\name é'
    save_model_choice(name, None, path)
    assert tomllib.loads(path.read_text())["model"] == name


def test_a_broken_file_is_left_alone(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("model = \n")
    with pytest.raises(ConfigError, match="was not changed"):
        save_model_choice("demo", None, path)
    assert path.read_text() == "model = \n"


def test_an_address_with_a_password_is_not_written(tmp_path):
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError, match="user or password"):
        save_model_choice("openai/x", "http://me:secret@host:8000/v1", path)
    assert not path.exists()


def test_the_files_permissions_are_kept(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("max_iterations = 3\n")
    os.chmod(path, 0o640)
    save_model_choice("demo", None, path)
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary left


def test_without_a_path_the_default_config_file_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # never the user's, nor the session's
    path = save_model_choice("demo", None)
    assert path == tmp_path / "rlm-tui" / "config.toml" and path.exists()
