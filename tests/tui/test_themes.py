"""Theme files: the shipped ones load, bad ones are reported, user ones are found, and the
choice made in the app is remembered."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlm_tui.tui.preferences import Preferences, preferences_path
from rlm_tui.tui.themes import (
    BUILTIN_THEMES_DIR,
    ThemeFileError,
    load_theme_file,
    load_themes,
    user_themes_dir,
)
from tests.tui.conftest import loaded, make_app

GOOD = 'name = "mine"\ndark = false\nprimary = "#336699"\n[variables]\n"x" = "#000"\n'


def test_the_shipped_themes_load():
    loaded_themes = load_themes([BUILTIN_THEMES_DIR])
    assert loaded_themes.errors == []
    assert {"rlm-dusk", "rlm-paper", "rlm-phosphor"} <= set(loaded_themes.themes)
    assert loaded_themes.themes["rlm-paper"].dark is False


@pytest.mark.parametrize("text, message", [
    ('name = "x"\n', "'primary' is required"),
    ('primary = "#fff"\n', "'name' must be a non-empty string"),
    ('name = "x"\nprimary = "blurple"\n', "'primary': not a colour: 'blurple'"),
    ('name = "x"\nprimary = "#fff"\nshade = 1\n', "unknown key 'shade'"),
    ('name = "x"\nprimary = "#fff"\ndark = "yes"\n', "'dark' must be true or false"),
    ('name = = "x"', "not valid TOML"),
])
def test_a_bad_theme_file_names_the_problem(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ThemeFileError, match="bad.toml") as raised:
        load_theme_file(path)
    assert message in str(raised.value)


def test_user_themes_load_and_bad_ones_are_reported_not_fatal():
    directory = user_themes_dir()
    directory.mkdir(parents=True)
    (directory / "mine.toml").write_text(GOOD)
    (directory / "broken.toml").write_text('name = "b"\n')
    loaded_themes = load_themes()
    assert "mine" in loaded_themes.themes and "rlm-dusk" in loaded_themes.themes
    assert loaded_themes.errors == ["broken.toml: 'primary' is required"]


async def test_the_theme_chosen_is_remembered_for_the_next_start(sample):
    app = make_app(sample)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.theme == "rlm-dusk"
        app.theme = "rlm-paper"
        await pilot.pause()
    assert Preferences.load(preferences_path()).theme == "rlm-paper"
    again = make_app(sample)
    assert again.theme == "rlm-paper"
    pinned = make_app(sample, theme="rlm-phosphor")  # the config file's choice wins
    assert pinned.theme == "rlm-phosphor"


async def test_an_unknown_theme_falls_back_with_a_warning(sample):
    app = make_app(sample, theme="no-such-theme")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.theme == "rlm-dusk"
        assert any("no-such-theme" in str(n.message) for n in app._notifications)
