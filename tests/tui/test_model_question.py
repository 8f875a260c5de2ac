"""A first run without a model: the app asks which model answers before the first question
(the models whose keys are set, a local server, another by name, the demo), checks the choice
as "Switch root model…" does, and saves it to the config file only when asked to."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.widgets import Checkbox, OptionList

from rlm_tui.config import default_config_path
from rlm_tui.tui.screens.model_question import ModelQuestionScreen
from rlm_tui.tui.widgets.final_answer import FinalAnswer
from tests.integration.openai_server import Reply
from tests.tui.conftest import ended, loaded, make_app, wait_for


def asking(app) -> bool:
    return isinstance(app.screen, ModelQuestionScreen)


def options(app) -> list[str]:
    if not asking(app):
        return []
    listed = app.screen.query_one(OptionList)
    return [listed.get_option_at_index(i).id or "" for i in range(listed.option_count)]


async def choose(pilot, option: str) -> None:
    """Highlight `option` in the question's list, and choose it."""
    await wait_for(pilot, lambda: option in options(pilot.app), what=option)
    listed = pilot.app.screen.query_one(OptionList)
    listed.focus()
    listed.highlighted = options(pilot.app).index(option)
    await pilot.press("enter")


def test_the_tests_own_config_dir_is_not_the_users(tmp_path):
    assert default_config_path().is_relative_to(tmp_path)


async def test_a_first_run_asks_for_a_model_offering_those_with_keys(sample, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    app = make_app(sample, model=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: asking(app), what="the question")
        await wait_for(pilot, lambda: "model:openai/gpt-5-mini" in options(app),
                       what="the keyed model")
        assert options(app) == ["model:openai/gpt-5-mini", "local", "other", "demo"]
        await choose(pilot, "model:openai/gpt-5-mini")
        await wait_for(pilot, lambda: not asking(app), what="the check")
        assert app.settings.model == "openai/gpt-5-mini" and app.settings.api_base is None
        assert app.session.status_bar.model == "openai/gpt-5-mini"
    assert not default_config_path().exists()  # not asked to save


async def test_a_question_asked_later_waits_for_the_model_then_runs(sample):
    app = make_app(sample, model=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: asking(app), what="the question")
        await pilot.press("escape")  # later
        await wait_for(pilot, lambda: not asking(app), what="the question to close")
        app.session.query_bar.edit()
        await pilot.press(*"what is this?", "enter")
        await wait_for(pilot, lambda: asking(app), what="the question again")
        assert app.live_run is None  # nothing ran without a model
        await choose(pilot, "demo")
        await ended(pilot)
        assert app.summary.state == "done" and app.summary.query == "what is this?"


async def test_a_local_server_becomes_api_base_and_answers(openai_server, sample):
    openai_server.script(Reply(text="```repl\nFINAL('from the local server')\n```"))
    app = make_app(sample, model=None, max_retries=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await choose(pilot, "local")
        await pilot.press(*openai_server.base_url, "enter", *"tiny-model", "enter")
        await wait_for(pilot, lambda: not asking(app), what="the check")
        assert app.settings.model == "openai/tiny-model"
        assert app.settings.api_base == openai_server.base_url
        app.session.query_bar.edit()
        await pilot.press(*"q", "enter")
        await ended(pilot)
        assert app.query_one(FinalAnswer).answer == "from the local server"


async def test_a_model_that_fails_its_check_is_said_in_the_question(sample, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = make_app(sample, model=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await choose(pilot, "other")
        await pilot.press(*"openai/gpt-4o-mini", "enter")
        message = app.screen.query_one("#message")
        await wait_for(pilot, lambda: "no API key" in str(message.render()), what="the refusal")
        assert asking(app) and app.settings.model is None
        await choose(pilot, "demo")
        await wait_for(pilot, lambda: not asking(app), what="the demo")
        assert app.settings.model == "demo"


async def test_a_choice_is_saved_to_the_config_file_when_asked(sample, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('# mine\nmax_iterations = 12\n\n[prices."openai/x"]\ninput = 1.0\n'
                      'output = 2.0\n')
    app = make_app(sample, model=None)
    app.config_path = config
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: asking(app), what="the question")
        app.screen.query_one(Checkbox).value = True
        await choose(pilot, "demo")
        await wait_for(pilot, lambda: "demo" in config.read_text(), what="the file")
    saved = tomllib.loads(config.read_text())
    assert saved == {"model": "demo", "max_iterations": 12,
                     "prices": {"openai/x": {"input": 1.0, "output": 2.0}}}
    assert config.read_text().startswith('model = "demo"\n# mine\n')


async def test_a_model_given_asks_nothing(sample):
    app = make_app(sample)  # --model demo
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.pause(0.2)
        assert not asking(app)


def test_the_question_names_its_config_file_under_home(tmp_path, monkeypatch):
    from rlm_tui.tui.model_setup import _home

    monkeypatch.setenv("HOME", str(tmp_path))
    assert _home(tmp_path / ".config" / "rlm-tui" / "config.toml") == \
        "~/.config/rlm-tui/config.toml"
    assert _home(Path("/etc/rlm-tui.toml")) == "/etc/rlm-tui.toml"


async def test_the_palette_leads_to_the_question_while_no_model_is_set(sample):
    from tests.tui.snapshot_scenes import palette_titles

    app = make_app(sample, model=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: asking(app), what="the question")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: "Quit" in palette_titles(app), what="the palette")
        assert palette_titles(app)[:2] == ["Ask", "Choose a model…"]
        await pilot.press(*"switch root", "enter")
        await wait_for(pilot, lambda: asking(app), what="the question, not a blank name")
        await choose(pilot, "demo")
        await wait_for(pilot, lambda: not asking(app), what="the demo")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: "Quit" in palette_titles(app), what="the palette")
        assert "Choose a model…" not in palette_titles(app)
