"""`rlm-tui serve`: the app in a real browser (headless Chromium over its DevTools protocol),
behind the secret URL it prints; its bad input as one line and exit 2 before serving."""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.integration.chromium import Browser, find_browser
from tests.integration.openai_server import Reply
from tests.integration.test_cli_run import CANARY_KEY, model_args, repo, rlm_tui  # noqa: F401
from tests.integration.test_engine import Scripted, repl

# A directory name a shell would run: the app must get it as one argument, and run nothing.
SHELL_BAIT = "repo $(touch pwned) 'q\" ;x"
QUERY = "What does main return?"


def serve(*args: str, cwd: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """`rlm-tui serve ARGS --port 0` until the test ends: the process and the URL it
    printed. The apps' data dir (transcripts, exports) is cwd/data."""
    env = {**os.environ, "OPENAI_API_KEY": CANARY_KEY, "XDG_CONFIG_HOME": os.devnull,
           "XDG_DATA_HOME": str(cwd / "data")}
    env.pop("RLM_TUI_MODEL", None)
    process = subprocess.Popen([sys.executable, "-m", "rlm_tui", "serve", *args, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=cwd)
    try:
        assert process.stdout is not None
        waiting = selectors.DefaultSelector()
        waiting.register(process.stdout, selectors.EVENT_READ)
        assert waiting.select(timeout=60), "rlm-tui serve printed no URL"
        line = process.stdout.readline()
        assert "?token=" in line, (line, process.stderr.read() if process.poll() else "")
        yield process, line.split()[-1]
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def slow_run(openai_server, tmp_path: Path):
    """A served app whose run (on the local test server) goes on for a minute: one
    iteration every ~2 s, so that a key pressed mid-run finds it running."""
    slow = Reply(text=repl("x = len(context)", "Looking at the files one by one, slowly."),
                 chunk_delay=0.25)
    openai_server.responder = Scripted([slow] * 30)
    root = tmp_path / SHELL_BAIT
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return 'hello'\n")
    yield from serve(str(root), *model_args(openai_server), cwd=tmp_path)


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    """Where the screenshots go: $TEST_ARTEFACTS_DIR (kept, e.g. by CI), else the
    test's tmp_path (pytest keeps the last three runs')."""
    kept = os.environ.get("TEST_ARTEFACTS_DIR")
    where = Path(kept) if kept else tmp_path
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def browser(tmp_path: Path) -> Browser:
    executable = find_browser()
    if executable is None:
        pytest.skip("no chromium on PATH: apt-get install chromium (see the README's "
                    "Run the tests)")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    return Browser(executable, profile)


async def test_the_app_runs_in_a_browser_with_its_panes_and_keys(slow_run, browser, tmp_path,
                                                                 artefacts):
    process, url = slow_run
    await browser.start()
    try:
        await browser.open(url)
        # The path arrived whole, as one argument: its files are loaded.
        text = await browser.wait_for_text("IDLE", "Context", "Reasoning", "src/  1 file",
                                           timeout=60)
        assert "repo $(touch pwned) '" in text, text
        await browser.type(QUERY)
        await browser.press("enter")
        await browser.wait_for_text("RUNNING", "Looking at the files", timeout=60)
        shot = await browser.screenshot(artefacts / "serve-running.png")
        print(f"screenshot: {shot}")
        await browser.press(" ")
        await browser.wait_for_text("PAUSED")
        await browser.press("e")
        await browser.wait_for_text("Export this session to:")
        shot = await browser.screenshot(artefacts / "serve-export.png")
        print(f"screenshot: {shot}")
        await browser.press("enter")
        exports = tmp_path / "data" / "rlm-tui" / "exports"
        deadline = time.monotonic() + 30
        while not list(exports.glob("rlm-tui-*.jsonl")):
            assert time.monotonic() < deadline, "the export never appeared"
            await asyncio.sleep(0.1)
        (export,) = exports.glob("rlm-tui-*.jsonl")
        assert QUERY in export.read_text()
    finally:
        await browser.close()
    assert not (tmp_path / "pwned").exists()
    # The tab closed: its app and sandbox worker end, serve goes on.
    deadline = time.monotonic() + 20
    while left := [pid for pid in descendants(process.pid) if alive(pid)]:
        assert time.monotonic() < deadline, f"still running after the tab closed: {left}"
        await asyncio.sleep(0.1)
    assert process.poll() is None


def descendants(pid: int) -> set[int]:
    """Every process under `pid` (Linux's /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        one = todo.pop()
        for task in Path(f"/proc/{one}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
async def test_ctrl_c_stops_serve_and_every_app_and_worker(slow_run, browser):
    process, url = slow_run
    await browser.start()
    try:
        await browser.open(url)
        await browser.wait_for_text("Context", "Reasoning", timeout=60)
        await browser.type(QUERY)
        await browser.press("enter")
        await browser.wait_for_text("RUNNING", timeout=60)
        apps = descendants(process.pid)
        assert len(apps) >= 2, "no app and sandbox worker under serve"
        process.send_signal(signal.SIGINT)
        began = time.monotonic()
        assert process.wait(30) == 0
        print(f"serve stopped {time.monotonic() - began:.2f} s after SIGINT")
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read()
        deadline = time.monotonic() + 10
        while left := [pid for pid in apps if alive(pid)]:
            assert time.monotonic() < deadline, f"still running after serve stopped: {left}"
            await asyncio.sleep(0.1)
    finally:
        await browser.close()


async def test_without_the_token_there_is_no_page_no_file_and_no_websocket(slow_run):
    _, url = slow_run
    base = url.split("?")[0]
    origin = base.rstrip("/")
    async with aiohttp.ClientSession() as http:
        for path in ("", "?token=wrong", "static/js/textual.js", "download/x", "ws"):
            async with http.get(base + path) as response:
                assert response.status == 403, path
        for ws in (f"{origin}/ws", f"{origin}/ws?token=wrong"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(ws)
            assert refused.value.status == 403
        # With the token, from a page of another site: refused too.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{origin}/ws?{url.split('?')[1]}",
                                  origin="http://evil.example")
        assert refused.value.status == 403


async def test_a_browser_without_the_token_is_refused(slow_run, browser):
    _, url = slow_run
    base = url.split("?")[0]
    await browser.start()
    try:
        await browser.open(base)
        deadline = time.monotonic() + 30
        while "open the URL" not in (await browser.evaluate("document.body.innerText") or ""):
            assert time.monotonic() < deadline, "the page without a token was not refused"
            await asyncio.sleep(0.1)
        assert await browser.evaluate("window.__terminal === undefined")
    finally:
        await browser.close()


def test_a_missing_path_is_one_line_and_exit_2(tmp_path):
    done = rlm_tui("serve", str(tmp_path / "nowhere"), "--model", "demo", "--port", "0")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "no such file or directory" in done.stderr


def test_a_port_in_use_is_one_line_and_exit_2(repo):  # noqa: F811
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = rlm_tui("serve", str(repo), "--model", "demo", "--port", str(port))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "in use" in done.stderr


def test_another_host_says_in_one_line_that_the_url_drives_a_paid_run(repo, monkeypatch,  # noqa: F811
                                                                       capsys):
    # Never listens beyond this machine: the host asked for is recorded and the socket bound
    # on 127.0.0.1 instead; nothing is served (the printed URL and its token are the other
    # tests', on 127.0.0.1).
    from rlm_tui import cli
    from rlm_tui.tui import serve as served

    asked: list[str] = []
    real_bind = served.bind

    def bind(host: str, port: int) -> socket.socket:
        asked.append(host)
        return real_bind("127.0.0.1", port)

    served_on: list[int] = []

    def serve_once(argv: list[str], listener: socket.socket) -> None:
        served_on.append(listener.getsockname()[1])
        listener.close()

    monkeypatch.setattr(served, "bind", bind)
    monkeypatch.setattr(served, "serve", serve_once)
    assert cli.main(["serve", str(repo), "--model", "demo", "--host", "0.0.0.0"]) == 0
    assert asked == ["0.0.0.0"]
    stderr = capsys.readouterr().err
    assert len(served_on) == 1 and f"port {served_on[0]} " in stderr
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "anyone who reaches port" in warnings[0] and "spends money" in warnings[0]


def test_each_connection_runs_the_app_with_the_same_settings(tmp_path):
    """The app's command line, parsed again, gives the settings serve was given; a value
    that looks like a flag or holds shell syntax arrives as it was typed."""
    from rlm_tui.cli import build_parser
    from rlm_tui.cli.serve import app_argv

    given = [str(tmp_path / "a b"), "--query", "-x; $(rm -rf ~)", "--model", "demo",
             "--include", "*.py", "--include", "docs/**", "--max-cost", "1.5",
             "--max-file-size", "2M", "--include-secrets", "--approve", "cells",
             "--config", os.devnull]
    parser = build_parser()
    served = parser.parse_args(["serve", *given, "--port", "0", "--host", "::1"])
    serve_parser = parser._subparsers._group_actions[0].choices["serve"]  # type: ignore
    argv = app_argv(serve_parser, served)
    assert "--port" not in " ".join(argv) and "--host" not in " ".join(argv)
    app = parser.parse_args(["app", *argv])
    direct = parser.parse_args(["app", *given])
    for name, value in vars(direct).items():
        if name != "handler":
            assert getattr(app, name) == value, name


def test_stdin_cannot_be_served(repo):  # noqa: F811
    done = rlm_tui("serve", "-", "--model", "demo", "--port", "0")
    assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_only_loopback_addresses_count_as_this_machine_only():
    from rlm_tui.tui.serve import is_loopback

    assert all(map(is_loopback, ("127.0.0.1", "127.0.0.2", "::1", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "192.168.1.5", "example.com")))
