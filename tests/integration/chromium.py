"""Headless Chromium driven over its DevTools protocol (a small client over aiohttp's
websockets), for the tests of `rlm-tui serve`: open a page, read the text of a textual-serve
terminal, press keys, take a screenshot."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

# Debian's package names it chromium; others chromium-browser or google-chrome.
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Without the background-networking flags, Chromium's own connections out (updates, sync)
# are what a closed network refuses, slowly.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", "--window-size=1280,800")

# Run before the page's scripts: textual-serve's page keeps its xterm.js Terminal as
# `this.terminal` of an object of its own; a setter on Object.prototype catches it as it is
# assigned, so that the test reads the screen's text from the terminal's buffer.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true});
    if (value && value.buffer) { window.__terminal = value; }
  },
});
"""
SCREEN_TEXT = """(() => {
  const t = window.__terminal;
  if (!t) return null;
  const b = t.buffer.active, rows = [];
  for (let i = 0; i < t.rows; i++) {
    const line = b.getLine(b.viewportY + i);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
})()"""
# What CDP's Input.dispatchKeyEvent needs to type each key the tests press.
KEYS = {
    " ": {"key": " ", "code": "Space", "windowsVirtualKeyCode": 32, "text": " "},
    "escape": {"key": "Escape", "code": "Escape", "windowsVirtualKeyCode": 27},
    "enter": {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"},
}


def find_browser() -> str | None:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    return None


class Browser:
    """One headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self, executable: str, profile: Path) -> None:
        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.profile = profile
        self.ids = itertools.count(1)
        self.session: aiohttp.ClientSession | None = None
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.reader: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 30) -> Browser:
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            await asyncio.sleep(0.05)
        port = port_file.read_text().split()[0]
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json/list") as response:
            pages = [t for t in await response.json() if t["type"] == "page"]
        self.socket = await self.session.ws_connect(pages[0]["webSocketDebuggerUrl"],
                                                    max_msg_size=0)
        self.reader = asyncio.create_task(self._read())
        await self.call("Page.enable")
        await self.call("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
        return self

    async def _read(self) -> None:
        assert self.socket is not None
        async for message in self.socket:
            data = json.loads(message.data)
            if (future := self.pending.pop(data.get("id", -1), None)) and not future.done():
                future.set_result(data)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self.socket is not None
        key = next(self.ids)
        future = self.pending[key] = asyncio.get_running_loop().create_future()
        await self.socket.send_json({"id": key, "method": method, "params": params})
        data = await asyncio.wait_for(future, 30)
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return data.get("result", {})

    async def open(self, url: str) -> None:
        await self.call("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression,
                                 returnByValue=True)
        return result.get("result", {}).get("value")

    async def screen_text(self) -> str:
        return await self.evaluate(SCREEN_TEXT) or ""

    async def wait_for_text(self, *words: str, timeout: float = 30) -> str:
        """The terminal's text once it shows every one of `words`; AssertionError after
        `timeout` seconds, with the last text seen."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = await self.screen_text()
            if all(word in text for word in words):
                return text
            await asyncio.sleep(0.1)
        raise AssertionError(f"the page never showed {words!r}; it shows:\n{text}")

    async def press(self, key: str) -> None:
        """Type one key into the focused terminal, as a person's keyboard would."""
        await self.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
        fields = KEYS.get(key) or {"key": key, "text": key}
        if key not in KEYS and key.isascii() and key.isalpha():
            fields = {**fields, "code": f"Key{key.upper()}",
                      "windowsVirtualKeyCode": ord(key.upper())}
        await self.call("Input.dispatchKeyEvent", type="keyDown", **fields)
        await self.call("Input.dispatchKeyEvent", type="keyUp",
                        **{k: v for k, v in fields.items() if k != "text"})

    async def type(self, text: str) -> None:
        for key in text:
            await self.press(key)

    async def screenshot(self, path: Path) -> Path:
        data = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.socket is not None:
            await self.socket.close()
        if self.session is not None:
            await self.session.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
