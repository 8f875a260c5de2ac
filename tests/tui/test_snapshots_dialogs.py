"""Snapshots of the dialogs over the main screen at 120x40: export (as it opens, and refusing
a path), the quit question while a run is live, and the command palette. Nothing on screen
names a temporary path: the export dialog's default is under a fixed user data dir, and the
working directory its hint names is `/`.
Update with `pytest tests/tui/test_snapshots_dialogs.py --snapshot-update`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rlm_tui.tui.screens.confirm import ConfirmScreen
from rlm_tui.tui.screens.export import ExportScreen
from rlm_tui.tui.screens.model_question import ModelQuestionScreen
from tests.tui.conftest import make_app, wait_for
from tests.tui.event_script import mid_run
from tests.tui.snapshot_scenes import (
    NARROW,
    SIZE,
    answered,
    palette_titles,
    pressing,
    settled,
    showing,
    until,
)

QUERY = "How does the sandbox stop a runaway cell?"


@pytest.fixture
def fixed_dirs(sample: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The sample context by its absolute path, with the working directory `/` and the user
    data dir a fixed path (never written: these tests export nothing)."""
    monkeypatch.setenv("XDG_DATA_HOME", "/home/you/.local/share")
    monkeypatch.chdir("/")
    return str(tmp_path / sample)


def dialog_open(kind: type) -> Callable:
    return until(lambda app: isinstance(app.screen, kind), f"the {kind.__name__}")


def test_the_export_dialog_offering_its_default_path(snap_compare, fixed_dirs):
    assert snap_compare(make_app(fixed_dirs), terminal_size=SIZE,
                        run_before=showing(answered, pressing("e"), dialog_open(ExportScreen)))


def test_the_export_dialog_refusing_an_unknown_suffix(snap_compare, fixed_dirs):
    def refused(app) -> bool:
        return "unknown suffix" in str(app.screen.query_one("#message").render())

    assert snap_compare(make_app(fixed_dirs), terminal_size=SIZE,
                        run_before=showing(answered, pressing("e"), dialog_open(ExportScreen),
                                           pressing(*"notes.txt", "enter"),
                                           until(refused, "the refusal")))


def test_the_quit_question_while_a_run_is_live(snap_compare, sample):
    """A demo-model run started paused: live, and still on its first turn."""
    app = make_app(sample, query=QUERY, start_paused=True)

    async def run_before(pilot) -> None:
        await wait_for(pilot, lambda: app.summary.state == "paused", what="paused")
        assert app.run_is_live
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                       what="the question")
        await settled(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_the_command_palette_finding_commands_of_the_app_and_of_textual(snap_compare,
                                                                        sample):
    """Searched for "sc": Textual's Screenshot first (the best match), then the app's
    commands that switch models or hold cells, in the palette's order (commands.py)."""

    def found(app) -> bool:
        titles = palette_titles(app)
        return titles[:1] == ["Screenshot"] and sorted(titles) == sorted([
            "Screenshot", "Hold cells: every cell", "Hold cells: cells that end the run (FINAL)",
            "Switch root model…", "Switch sub-model…"])

    assert snap_compare(make_app(sample), terminal_size=SIZE,
                        run_before=showing(mid_run, pressing("ctrl+p", "s", "c"),
                                           until(found, "the palette's matches")))


def test_the_command_palette_with_nothing_typed(snap_compare, sample):
    """Mid-run, the calls pane in focus: Ask, holding cells, the models, export, themes,
    the run's controls, ..., Quit last."""

    def listed(app) -> bool:
        titles = palette_titles(app)
        return titles[:1] == ["Ask"] and titles[-1:] == ["Quit"]

    assert snap_compare(make_app(sample), terminal_size=SIZE,
                        run_before=showing(mid_run, pressing("ctrl+p"),
                                           until(listed, "the palette's commands")))


@pytest.fixture
def first_run(sample: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """No model set; one provider's key in the environment (a placeholder: no call is
    made); the config file named under a fixed home (never written: nothing is saved)."""
    from rlm_tui.lm.suggested import KEYED_MODELS

    for variable, _ in KEYED_MODELS:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-placeholder")
    monkeypatch.setenv("HOME", "/home/you")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/home/you/.config")
    return sample


def offered(app) -> bool:
    screen = app.screen
    if not isinstance(screen, ModelQuestionScreen):
        return False
    listed = screen.query_one("#choices")
    return listed.option_count == 4  # the keyed model found, beside the three others


@pytest.mark.parametrize("size", [SIZE, NARROW], ids=["120x40", "80x24"])
def test_the_model_question_on_a_first_run(snap_compare, first_run, size):
    assert snap_compare(make_app(first_run, model=None), terminal_size=size,
                        run_before=showing(None, until(offered, "the question")))


def test_the_model_question_asking_for_a_local_server(snap_compare, first_run):
    async def local(pilot) -> None:
        listed = pilot.app.screen.query_one("#choices")
        listed.highlighted = 1
        await pilot.press("enter")

    assert snap_compare(make_app(first_run, model=None), terminal_size=SIZE,
                        run_before=showing(None, until(offered, "the question"), local,
                                           pressing(*"127.0.0.1:8080/v1", "enter")))
