"""What a user can get wrong: shown in the app when a query starts, or refused with a
one-line error (exit 2) before the app opens."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_tui import cli
from rlm_tui.tui.widgets.final_answer import FinalAnswer
from tests.tui.conftest import ended, loaded, make_app, wait_for


async def _start(pilot, query: str = "what is this?") -> None:
    await loaded(pilot)
    await pilot.press(*query, "enter")
    await ended(pilot, timeout=60)  # the first check imports litellm (~3 s)


async def test_an_unknown_model_is_shown_in_the_app(sample):
    app = make_app(sample, model="no-such-provider-model-x")
    async with app.run_test(size=(120, 40)) as pilot:
        await _start(pilot)
        assert app.is_running
        assert app.summary.state == "failed"
        status = app.query_one(FinalAnswer).status_line
        assert status.startswith("Error: no-such-provider-model-x: unknown model")
        assert any("unknown model" in str(n.message) for n in app._notifications)


async def test_a_missing_api_key_is_shown_in_the_app(sample, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = make_app(sample, model="openai/gpt-4o-mini")
    async with app.run_test(size=(120, 40)) as pilot:
        await _start(pilot)
        assert app.summary.state == "failed"
        assert "no API key" in app.query_one(FinalAnswer).status_line
        assert "OPENAI_API_KEY" in app.summary.reason


async def test_a_context_that_cannot_be_loaded_closes_the_app_with_exit_code_2(tmp_path):
    (tmp_path / "empty").mkdir()
    app = make_app(str(tmp_path / "empty"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    assert app.return_code == 2
    assert app.exit_error.endswith("is an empty directory")


@pytest.mark.parametrize("argv, message", [
    (["no/such/dir", "--model", "demo"], "rlm-tui: no/such/dir: no such file or directory"),
    (["app", ".", "--config", "missing.toml"], "rlm-tui: config file not found: missing.toml"),
    ([".", "--max-iterations", "0"], "rlm-tui: --max-iterations: Input should be greater "
                                     "than or equal to 1"),
])
def test_bad_input_exits_2_before_the_app_opens(argv, message, capsys, monkeypatch):
    monkeypatch.setattr("rlm_tui.tui.app.RlmApp.run", lambda self: pytest.fail("opened"))
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == message


def test_bad_flags_exit_2_with_argparse_usage(capsys):
    assert cli.main([".", "--max-iterations", "many"]) == 2
    assert "invalid int value" in capsys.readouterr().err


@pytest.mark.parametrize("argv, path, query", [
    ([], ".", None),
    (["--model", "demo"], ".", None),
    (["some/dir", "--query", "why?"], "some/dir", "why?"),
    (["app", "-", "-q", "q"], "-", "q"),
])
def test_argv_without_a_command_opens_the_app(argv, path, query, monkeypatch):
    seen = {}

    def launch(p, q, settings, config_path=None):
        seen.update(path=p, query=q, config_path=config_path)
        return 0

    monkeypatch.setattr("rlm_tui.tui.launch.launch_app", launch)
    assert cli.main(argv) == 0
    assert seen == {"path": path, "query": query, "config_path": None}


def test_the_apps_config_file_is_where_a_chosen_model_is_saved(tmp_path, monkeypatch):
    config = tmp_path / "mine.toml"
    config.write_text("max_iterations = 4\n")
    seen = {}
    monkeypatch.setattr("rlm_tui.tui.launch.launch_app",
                        lambda p, q, settings, config_path=None: seen.update(
                            config=config_path, iterations=settings.max_iterations) or 0)
    assert cli.main([".", "--config", str(config)]) == 0
    assert seen == {"config": config, "iterations": 4}


def test_known_commands_are_not_routed_to_the_app(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("rlm-tui ")


# -- without a terminal --------------------------------------------------------------------------

NO_TERMINAL = ("rlm-tui: the app needs a terminal (stdin and stdout); use "
               "'rlm-tui {instead}' for scripts")
TRANSCRIPT = (
    '{"type": "header", "format": "rlm-tui-transcript", "schema": 1, "query": "q"}\n'
    '{"seq": 1, "ts": 1.0, "session_id": "s", "node_id": "s", "type": "session_started", '
    '"query": "q", "root_model": "demo", "sub_model": "demo", "max_iterations": 3}\n'
)


@pytest.mark.parametrize("argv, stdin, stdout, instead", [
    (["sample", "--model", "demo"], "devnull", "pipe", "run PATH --query Q"),
    (["sample", "--model", "demo"], "terminal", "pipe", "run PATH --query Q"),
    (["sample", "--model", "demo"], "devnull", "terminal", "run PATH --query Q"),
    (["-", "--model", "demo"], "text", "pipe", "run PATH --query Q"),
    (["replay", "t.jsonl"], "devnull", "pipe", "export FILE"),
    (["replay", "t.jsonl"], "terminal", "pipe", "export FILE"),
], ids=["app-no-terminal", "app-stdout-a-file", "app-stdin-not-a-terminal",
        "app-piped-text-stdout-a-file", "replay-no-terminal", "replay-stdout-a-file"])
def test_without_a_terminal_the_app_says_so_in_one_line_and_exits_2(
        sample, argv, stdin, stdout, instead):
    """Started from a script, the app would draw escape codes into a file and never end."""
    Path("t.jsonl").write_text(TRANSCRIPT)
    master, terminal = pty.openpty()
    streams = {"devnull": subprocess.DEVNULL, "pipe": subprocess.PIPE, "terminal": terminal,
               "text": None}  # None: subprocess.run pipes `input` in
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rlm_tui", *argv], stdin=streams[stdin],
            stdout=streams[stdout], stderr=subprocess.PIPE, text=True, cwd=Path.cwd(),
            input="some notes\n" if stdin == "text" else None, timeout=60)
    finally:
        os.close(terminal)
        os.close(master)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [NO_TERMINAL.format(instead=instead)]
    assert not done.stdout  # nothing drawn
