"""How soon `rlm-tui serve` shows the app in a browser: headless Chromium (over its DevTools
protocol, tests/integration/chromium.py) on 127.0.0.1, the demo model, a small repository.

1. serve's start: the process spawned to its URL printed.
2. first paint: the page asked for (with the token) to the app's status bar in the page's
   terminal (textual-serve's page and scripts, the websocket, a new `rlm-tui app` process).
3. context shown: the same, to the context loaded and the app IDLE (its tree in the pane).

Each of --repeat loads is a new page, so a new app process; medians printed.

    .venv/bin/python bench/bench_serve.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.chromium import Browser, find_browser  # noqa: E402


async def measure(repeat: int, work: Path) -> dict[str, list[float]]:
    repo = work / "repo"
    (repo / "src").mkdir(parents=True)
    for i in range(20):
        (repo / "src" / f"m{i}.py").write_text(f"def f{i}():\n    return {i}\n" * 20)
    env = {**os.environ, "XDG_CONFIG_HOME": os.devnull, "XDG_DATA_HOME": str(work / "data"),
           "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    serve = subprocess.Popen([sys.executable, "-m", "rlm_tui", "serve", str(repo), "--model",
                              "demo", "--port", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, env=env, cwd=work)
    figures: dict[str, list[float]] = {"start": [], "paint": [], "context": []}
    try:
        assert serve.stdout is not None
        url = serve.stdout.readline().split()[-1]
        figures["start"].append(time.perf_counter() - started)
        executable = find_browser()
        assert executable, "no chromium on PATH"
        for round_ in range(repeat):
            profile = work / f"profile-{round_}"
            profile.mkdir()
            browser = await Browser(executable, profile).start()
            try:
                began = time.perf_counter()
                await browser.open(url)
                await browser.wait_for_text("tokens", timeout=60)
                figures["paint"].append(time.perf_counter() - began)
                await browser.wait_for_text("IDLE", "src/", timeout=60)
                figures["context"].append(time.perf_counter() - began)
            finally:
                await browser.close()
    finally:
        serve.terminate()
        serve.wait(30)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if find_browser() is None:
        print("bench_serve: no chromium on PATH (apt-get install chromium): nothing measured")
        return
    with tempfile.TemporaryDirectory() as work:
        figures = asyncio.run(measure(args.repeat, Path(work)))
    paint, context = figures["paint"], figures["context"]
    print(f"rlm-tui serve, {args.repeat} page loads, headless Chromium, demo model")
    print("figure  value")
    print(f"start to URL printed  {figures['start'][0] * 1000:.0f} ms")
    print(f"page to first paint, median / max  "
          f"{statistics.median(paint) * 1000:.0f} / {max(paint) * 1000:.0f} ms")
    print(f"page to context shown, median / max  "
          f"{statistics.median(context) * 1000:.0f} / {max(context) * 1000:.0f} ms")

if __name__ == "__main__":
    main()
