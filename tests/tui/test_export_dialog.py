"""The export dialog (`e`) in a live run, on a fed session and in a replay: where the file goes
by default, paths it refuses with a one-line message, asking before an overwrite, and write
errors that name the path."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rlm_tui.transcript import TranscriptWriter, read_transcript
from rlm_tui.tui.replay_app import ReplayApp
from rlm_tui.tui.screens.export import ExportScreen
from rlm_tui.transcript.export import default_export_path
from tests.tui.conftest import ended, loaded, make_app, wait_for
from tests.tui.event_script import RUN, EventScript, mid_run

QUERY = "How does the sandbox stop a runaway cell?"
SIZE = (120, 40)


def finished_script() -> list:
    script = EventScript()
    mid_run(script)
    script.finish("done")
    return script.take()


async def show_a_finished_session(pilot) -> None:
    await loaded(pilot)
    pilot.app.feed(finished_script())
    await pilot.app.flush_events()


async def open_export(pilot) -> ExportScreen:
    pilot.app.query_one("#calls").focus()
    await pilot.press("e")
    assert isinstance(pilot.app.screen, ExportScreen)
    return pilot.app.screen


async def type_path(pilot, path: str | Path) -> None:
    """Replace the path box's text (selected when the dialog opens) and press enter."""
    await pilot.press(*str(path), "enter")
    await pilot.pause()


@contextlib.asynccontextmanager
async def export_dialog(sample) -> AsyncIterator[tuple[Any, Any, ExportScreen]]:
    """The app on `sample` with a finished session shown and the export dialog open."""
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await show_a_finished_session(pilot)
        yield app, pilot, await open_export(pilot)


def dialog_message(app) -> str:
    return str(app.screen.query_one("#message").render())


def errors(app) -> list[str]:
    return [n.message for n in app._notifications if n.title == "Export failed"]


async def test_the_default_export_goes_to_the_user_data_dir_not_the_working_directory(
        sample, tmp_path: Path):
    async with export_dialog(sample) as (app, pilot, screen):
        default = default_export_path(RUN)
        assert default.is_absolute()
        assert default.is_relative_to(tmp_path / "xdg_data_home")  # the test's user dirs
        assert screen.query_one("#export-path").value == str(default)  # shown in full
        await pilot.press("enter")
        await wait_for(pilot, default.exists, what="the export")
        await app.workers.wait_for_complete()
    assert read_transcript(default).events == finished_script()
    assert not list(tmp_path.glob("rlm-tui-*")) and not list(Path.cwd().glob("rlm-tui-*"))


async def test_a_relative_path_is_from_the_working_directory(sample, tmp_path: Path):
    async with export_dialog(sample) as (app, pilot, _):
        await type_path(pilot, "here.md")
        await wait_for(pilot, (tmp_path / "here.md").exists, what="the export")
        await app.workers.wait_for_complete()


async def test_a_missing_directory_keeps_the_dialog_open_and_writes_nothing(sample,
                                                                            tmp_path: Path):
    target = tmp_path / "nonexistent" / "dir" / "x.md"
    async with export_dialog(sample) as (app, pilot, _):
        await type_path(pilot, target)
        assert isinstance(app.screen, ExportScreen)
        assert dialog_message(app) == f"no such directory: {target.parent}"
        await app.workers.wait_for_complete()
        await pilot.press("escape")
    assert not (tmp_path / "nonexistent").exists()


async def test_an_existing_file_is_overwritten_only_after_enter_again(sample, tmp_path: Path):
    target = tmp_path / "old.md"
    target.write_text("keep me")
    async with export_dialog(sample) as (app, pilot, _):
        await type_path(pilot, target)
        assert isinstance(app.screen, ExportScreen)
        assert dialog_message(app) == f"{target} exists: enter again to overwrite"
        await app.workers.wait_for_complete()
        assert target.read_text() == "keep me"
        await pilot.press("enter")
        assert not isinstance(app.screen, ExportScreen)
        await wait_for(pilot, lambda: target.read_text() != "keep me", what="the overwrite")
        await app.workers.wait_for_complete()
    assert QUERY in target.read_text()


async def test_escape_or_an_edit_after_the_warning_keeps_the_existing_file(sample,
                                                                           tmp_path: Path):
    target = tmp_path / "old.md"
    target.write_text("keep me")
    async with export_dialog(sample) as (app, pilot, _):
        await type_path(pilot, tmp_path / "old.mdx")  # not the file: refused, no warning
        await pilot.press("backspace", "enter")  # now the existing file: asks first
        assert dialog_message(app) == f"{target} exists: enter again to overwrite"
        await pilot.press("end", "x", "backspace")  # an edit forgets the answer
        assert dialog_message(app) == ""
        await pilot.press("enter")
        assert isinstance(app.screen, ExportScreen)  # asked again
        await pilot.press("escape")
        assert not isinstance(app.screen, ExportScreen)
        await app.workers.wait_for_complete()
    assert target.read_text() == "keep me"


async def test_a_directory_is_an_error_in_the_dialog(sample, tmp_path: Path):
    async with export_dialog(sample) as (app, pilot, _):
        await type_path(pilot, tmp_path)
        assert isinstance(app.screen, ExportScreen)
        assert dialog_message(app) == f"{tmp_path} is a directory: add a file name"


async def test_an_unknown_suffix_is_refused_naming_the_known_ones(sample, tmp_path: Path):
    async with export_dialog(sample) as (app, pilot, screen):
        hint = str(screen.query_one("#hint").render())
        assert ".jsonl: transcript" in hint and ".md: Markdown" in hint
        await type_path(pilot, "x.txt")
        assert isinstance(app.screen, ExportScreen)
        assert dialog_message(app) == ("x.txt: unknown suffix .txt (use one of .jsonl, .md, "
                                       ".markdown, .html, .json, .rlm.jsonl)")
        await app.workers.wait_for_complete()
    assert not (tmp_path / "x.txt").exists()


async def test_a_write_error_in_a_live_run_names_the_path_and_why(sample, tmp_path: Path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    target = tmp_path / "full.jsonl"
    target.symlink_to("/dev/full")  # opens, then refuses the data: no space left on device
    app = make_app(sample, query=QUERY)
    async with app.run_test(size=SIZE) as pilot:
        await ended(pilot)
        await open_export(pilot)
        await type_path(pilot, target)
        await pilot.press("enter")  # it exists: overwrite
        await wait_for(pilot, lambda: errors(app), what="the error")
        await app.workers.wait_for_complete()
    assert errors(app) == [f"cannot write {target}: {os.strerror(28)}"]


async def test_a_replay_exports_to_the_user_data_dir_and_refuses_a_missing_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "saved.jsonl"
    writer = TranscriptWriter(source, query=QUERY, settings={}, context={})
    for event in finished_script():
        writer(event)
    writer.close()
    app = ReplayApp(read_transcript(source))
    missing = tmp_path / "gone" / "x.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.cursor.position >= app.cursor.first_stop,
                       what="the replay to open")
        screen = await open_export(pilot)
        default = default_export_path(RUN)
        assert screen.query_one("#export-path").value == str(default)
        await pilot.press("enter")
        await wait_for(pilot, default.exists, what="the export")
        await open_export(pilot)
        await type_path(pilot, missing)
        assert dialog_message(app) == f"no such directory: {missing.parent}"
        await app.workers.wait_for_complete()
    assert read_transcript(default).events == read_transcript(source).events
    assert not missing.parent.exists()


async def test_a_path_that_cannot_be_looked_at_is_said_in_the_dialog_not_a_crash(sample):
    # `~nosuchuser/...` raised out of the dialog and ended the app (and any live run).
    async with export_dialog(sample) as (app, pilot, _):
        await type_path(pilot, "~no-such-user-here/x.jsonl")
        assert isinstance(app.screen, ExportScreen)
        assert dialog_message(app).startswith("cannot use ~no-such-user-here/x.jsonl: ")
        await pilot.press("escape")
        assert not isinstance(app.screen, ExportScreen)


async def test_the_dialog_writes_every_format_the_cli_writes(sample, tmp_path: Path):
    """The app and `rlm-tui export` share one export path: the suffix chooses among the
    CLI's formats, the rlms log (.rlm.jsonl) among them."""
    from rlm_tui.transcript import read_transcript
    from rlm_tui.transcript.export import EXPORT_FORMATS, SUFFIXES

    assert set(SUFFIXES) == set(EXPORT_FORMATS)
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await show_a_finished_session(pilot)
        for fmt in EXPORT_FORMATS:
            target = tmp_path / f"session{SUFFIXES[fmt]}"
            await open_export(pilot)
            await type_path(pilot, target)
            await wait_for(pilot, target.exists, what=f"the {fmt} export")
            await app.workers.wait_for_complete()
    rlms = read_transcript(tmp_path / "session.rlm.jsonl")
    assert rlms.source_format == "rlms" and rlms.fold().answer == "done"
    assert read_transcript(tmp_path / "session.jsonl").events == finished_script()
