"""Fixtures for the app's tests: a small fixed context on disk, user dirs kept in the test's
temporary directory, the local OpenAI-compatible server, and helpers to drive the app."""

from __future__ import annotations

import asyncio
import gc
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich._export_format import CONSOLE_SVG_FORMAT
from rich.console import Console

from rlm_tui.config import Settings
from rlm_tui.tui.app import RlmApp
from tests.integration.conftest import (  # noqa: F401 - fixtures shared with integration
    _litellm_warnings_silenced,
    _openai_server_process_wide,
    openai_server,
)
from tests.tui.event_script import T0

SAMPLE_FILES = {
    "README.md": "# Sample\n\nA tiny project for the app's tests.\n",
    "app.py": "def main():\n    print('hello from the sample app')\n\n\nif __name__ == '__main__':"
              "\n    main()\n",
    "sandbox/host.py": "CELL_TIMEOUT = 60\n\n\ndef run_cell(code, timeout=CELL_TIMEOUT):\n"
                       "    \"\"\"Run code; stop it after `timeout` seconds.\"\"\"\n"
                       "    return execute(code, deadline=timeout)\n" * 3,
    "sandbox/limits.py": "MEMORY_MB = 2048\nCPU_SECONDS = 60\n",
    "util.py": "def shout(text):\n    return text.upper()\n",
}


@pytest.fixture(autouse=True)
def _heap_unfrozen_after():
    """The app freezes long-lived objects (rlm_tui/tui/heap.py): once its test is over they
    are not long-lived, and the next test's app must not freeze them with its own."""
    yield
    gc.unfreeze()


# Screenshots name no address off this machine: Rich's SVG template asks for its font from a
# CDN (which a browser showing a snapshot report would fetch) and credits a web site. The same
# template, less those: the font is the local one, or the browser's monospace.
_LOCAL_SVG_FORMAT = re.sub(
    r',\s*url\("https://[^"]*"\) format\("[^"]*"\)', "", CONSOLE_SVG_FORMAT
).replace("Generated with Rich https://www.textualize.io", "Generated with Rich")
assert "://" not in _LOCAL_SVG_FORMAT.replace('xmlns="http://www.w3.org/2000/svg"', "")


@pytest.fixture(autouse=True)
def _screenshots_name_no_remote_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(Console.export_svg.__kwdefaults__, "code_format", _LOCAL_SVG_FORMAT)


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Transcripts, preferences and user themes go to the test's directory, not the user's."""
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    for name in list(__import__("os").environ):
        if name.startswith("RLM_TUI_"):
            monkeypatch.delenv(name)


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A small context dir named `sample` (the working directory is its parent, so nothing
    on screen names a temporary path), with one binary file that is skipped."""
    root = tmp_path / "sample"
    for path, text in SAMPLE_FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    monkeypatch.chdir(tmp_path)
    return "sample"


def make_app(source: str, *, clock: Callable[[], float] | None = None, **settings) -> RlmApp:
    settings.setdefault("model", "demo")
    options = {k: settings.pop(k) for k in ("query", "start_paused") if k in settings}
    return RlmApp(source, Settings(**settings), clock=clock or (lambda: T0 + 42), **options)


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 20.0,
                   what: str = "the condition") -> None:
    """Let the app run until `condition()` holds (events are flushed as they arrive)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    await pilot.app.flush_events()
    await pilot.pause()


async def loaded(pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.workspace is not None, what="the workspace")


async def ended(pilot, timeout: float = 30.0) -> None:
    """Until the live run's worker is done (its outcome shown)."""
    app = pilot.app

    def done() -> bool:
        worker = app._run_worker
        return worker is not None and worker.is_finished

    await wait_for(pilot, done, timeout, "the run to end")
    await asyncio.sleep(0)
