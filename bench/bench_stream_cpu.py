"""The app's own CPU while a long reply streams from a slow model, and a headless run's beside it.

    python bench/bench_stream_cpu.py              # 16,000 characters at 25 and 2,000 chunks/s
    python bench/bench_stream_cpu.py --quick      # 4,000 characters
    python bench/bench_stream_cpu.py --floor      # and the app with the reply not drawn
    python bench/bench_stream_cpu.py --terminal   # and `rlm-tui app` in a pseudo-terminal
    python bench/bench_stream_cpu.py --stream-flush 200   # text drawn every 200 ms, not 100
    python bench/bench_stream_cpu.py --only slow --terminal --repeat 3   # and the median
    python bench/bench_stream_cpu.py --only slow --text bench/texts/gemma3-270m-replies.md \
        --chunk-chars 4 --rate 50   # what a real local model wrote, a token a chunk

A local model on a small machine streams a few tokens at a time for minutes, and the app shares
the cores with it: what the app spends drawing is taken from the model. The reply comes from
the local OpenAI-compatible test server (tests/integration/openai_server.py), run in its own
process so that its CPU is not counted, over the real client code, as llama.cpp sends it (no
usage while streaming): Markdown written as a small model writes it, in chunks of 8 characters
(about two tokens), 25 chunks a second (~50 tokens/s, a local model) or 2,000 (a fast hosted
one). The app runs headless at 120x40 (Textual's Pilot); the headless run is the same engine
with `rlm-tui run`'s subscribers (the transcript writer and the progress line's fold).

CPU is this process's (every thread; the sandbox worker and the server are other processes),
from the first character of the reply to the last, as a share of one core; the reply is cut
into segments by characters to show whether the cost grows as the reply does. Goals: at 25
chunks/s the app at most 5% of a core, flat to the last segment; at 2,000 chunks/s no more
CPU per character than at 25. A figure, not a test.
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
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

CHUNK_CHARS = 8  # --chunk-chars: llama.cpp sends a token a chunk (~4 characters)
TEXT: Path | None = None  # --text: a reply a model wrote, streamed in place of reply_text's
SEGMENTS = 4
CPU_GOAL = 0.05  # of one core, at 25 chunks/s

_WORDS = ("the sandbox stops a runaway cell with a timeout and the host reads what it printed "
          "before the worker restarts so that nothing the model wrote can hold the run "
          "while the person watches every call and its cost in the panes").split()


def reply_text(chars: int) -> str:
    """Markdown as a small model writes it: headings, paragraphs, lists, a fenced block now
    and then (```text: nothing runs), and a FINAL at the end."""
    parts: list[str] = []
    size = 0
    n = 0
    while size < chars - 40:
        n += 1
        if n % 7 == 1:
            block = f"## Step {n // 7 + 1}: what the code does"
        elif n % 7 == 4:
            block = "\n".join(f"- **{_WORDS[(n + i) % len(_WORDS)]}**: "
                              + " ".join(_WORDS[(n * i + j) % len(_WORDS)] for j in range(9))
                              for i in range(4))
        elif n % 7 == 6:
            block = ("```text\n" + "\n".join(
                f"value_{i} = compute('{_WORDS[(n + i) % len(_WORDS)]}', limit={i * 10})"
                for i in range(4)) + "\n```")
        else:
            block = " ".join(_WORDS[(n * 3 + j) % len(_WORDS)] for j in range(60)).capitalize()
            block += "."
        parts.append(block)
        size += len(block) + 2
    text = "\n\n".join(parts)[: chars - 20]
    return text + "\n\nFINAL(done)\n"


def the_reply(chars: int) -> str:
    """What the server streams: `reply_text`, or --text's reply repeated to `chars` (a fence
    the cut leaves open closed), and a FINAL at the end."""
    if TEXT is None:
        return reply_text(chars)
    source = TEXT.read_text(encoding="utf-8").strip()
    text = "\n\n".join([source] * (chars // (len(source) + 2) + 1))[: chars - 20]
    if text.count("```") % 2:
        text += "\n```"
    return text + "\n\nFINAL(done)\n"


# -- the server, in its own process -----------------------------------------------------------

def serve(chars: int, rate: float) -> None:
    """Run the test server (this script with --serve): every request gets the long reply."""
    import threading
    from types import SimpleNamespace

    import tests.integration.openai_server as server_module
    from tests.integration.openai_server import OpenAIServer, Reply

    # The server sleeps `chunk_delay` between chunks; a sleep of 0.5 ms lasts 1 ms or more, so
    # at 2,000 chunks/s it keeps to a schedule instead, sleeping only when ahead of it.
    schedule = {"due": 0.0, "chunks": 0}
    chunks = max(1, len(the_reply(chars)) // CHUNK_CHARS)

    async def paced_sleep(delay: float) -> None:
        if delay == 1 / rate:  # between two chunks: the stream's start and end, said
            schedule["chunks"] += 1
            if schedule["chunks"] in (1, chunks - 1):
                print("stream-start" if schedule["chunks"] == 1 else "stream-end", flush=True)
        now = time.monotonic()
        due = schedule["due"] = max(schedule["due"], now - 0.05) + delay
        if due - now > 0.002:
            await asyncio.sleep(due - now)

    server_module.asyncio = SimpleNamespace(**{**vars(asyncio), "sleep": paced_sleep})

    text = the_reply(chars)
    reply = Reply(text=text, chunks=chunks, chunk_delay=1 / rate, send_usage=False)
    with OpenAIServer() as server:
        server.responder = lambda body: reply
        print(server.base_url, flush=True)
        threading.Event().wait()


class Server:
    def __init__(self, chars: int, rate: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--chars", str(chars), "--rate", str(rate),
             "--chunk-chars", str(CHUNK_CHARS), *(["--text", str(TEXT)] if TEXT else [])],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()

    def said(self, what: str, timeout: float) -> None:
        """Wait until the server says `what` ("stream-start", "stream-end")."""
        import select

        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready and self.proc.stdout.readline().strip() == what:
                return
        raise TimeoutError(f"the server did not say {what}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# -- the measure ------------------------------------------------------------------------------

@dataclass
class Samples:
    """(characters so far, wall, cpu) at the first character, at each segment's end, and at
    the reply's end; taken on the engine's side, as the deltas are emitted."""

    total: int
    points: list[tuple[int, float, float]] = field(default_factory=list)
    chars: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    frames: Frames | None = None

    def __call__(self, event) -> None:
        kind = getattr(event, "type", "")
        if self.done.is_set():
            return
        if kind == "root_delta" and event.text:
            if not self.points:
                self.points.append((0, time.monotonic(), time.process_time()))
                if self.frames is not None:
                    self.frames.on = True
            self.chars += len(event.text)
            if self.chars * SEGMENTS >= self.total * len(self.points) and \
                    len(self.points) < SEGMENTS:
                self.points.append((self.chars, time.monotonic(), time.process_time()))
        elif kind == "root_done":
            self.points.append((self.chars, time.monotonic(), time.process_time()))
            self.done.set()
            if self.frames is not None:
                self.frames.on = False

    def settle(self, seconds: float) -> None:
        """What the app still does after the last character (its last draws), counted in the
        last segment: the reply is not shown until then."""
        chars, wall, _ = self.points[-1]
        self.points[-1] = (chars, wall + seconds, time.process_time())

    def segments(self) -> list[tuple[int, int, float, float]]:
        """(from char, to char, cpu share of a core, cpu µs per character) per segment."""
        rows = []
        for (c0, w0, p0), (c1, w1, p1) in zip(self.points, self.points[1:]):
            wall, cpu = max(w1 - w0, 1e-9), p1 - p0
            rows.append((c0, c1, cpu / wall, cpu / max(c1 - c0, 1) * 1e6))
        return rows

    def whole(self) -> tuple[float, float, float]:
        """(wall seconds, cpu share of a core, cpu µs per character) of the whole reply."""
        (c0, w0, p0), (c1, w1, p1) = self.points[0], self.points[-1]
        wall = max(w1 - w0, 1e-9)
        return wall, (p1 - p0) / wall, (p1 - p0) / max(c1 - c0, 1) * 1e6


def settings_for(base_url: str):
    from rlm_tui.config import Settings

    return Settings(model="openai/local-model", api_base=base_url, max_iterations=2,
                    max_output_tokens=32_000, max_retries=0, request_timeout=60)


class Frames:
    """Frames the app drew (the screen's compositor refreshes) and layouts it made while the
    reply streamed: what the CPU pays for, and a count that a busy machine does not blur."""

    def __init__(self) -> None:
        from textual.screen import Screen

        self.on = False
        self.frames = self.layouts = 0
        frames = self
        compose, layout = Screen._compositor_refresh, Screen._refresh_layout

        def counted_compose(screen, *args, **kwargs):
            frames.frames += frames.on
            return compose(screen, *args, **kwargs)

        def counted_layout(screen, *args, **kwargs):
            frames.layouts += frames.on
            return layout(screen, *args, **kwargs)

        Screen._compositor_refresh = counted_compose  # type: ignore[method-assign]
        Screen._refresh_layout = counted_layout  # type: ignore[method-assign]


FRAMES: Frames | None = None


async def in_app(sample: str, base_url: str, chars: int, *, drawn: bool = True) -> Samples:
    """The app streaming the reply; `drawn` False: the Reasoning pane keeps the text and
    draws none of it (what the rest of the app costs while a reply streams: the floor)."""
    from rlm_tui.tui.app import RlmApp
    from rlm_tui.tui.relay import EventRelay
    from rlm_tui.tui.widgets.iteration_section import IterationSection

    write = IterationSection.write
    if not drawn:
        async def kept(section: IterationSection, text: str) -> None:
            section.text += text

        IterationSection.write = kept  # type: ignore[method-assign]

    global FRAMES
    FRAMES = FRAMES or Frames()
    FRAMES.frames = FRAMES.layouts = 0
    samples = Samples(chars, frames=FRAMES)

    class MeasuredRelay(EventRelay):
        def __call__(self, event) -> None:
            samples(event)
            super().__call__(event)

    app = RlmApp(sample, settings_for(base_url))
    async with app.run_test(size=(120, 40)) as pilot:
        while app.workspace is None:
            await pilot.pause(0.05)
        app.session.relay = MeasuredRelay()
        await pilot.pause(0.5)
        await app.start_run("What does the sandbox do with a runaway cell?")
        await asyncio.wait_for(samples.done.wait(), 600)
        await pilot.pause(0.3)  # the last batch drawn: counted in the last segment
        samples.settle(0.3)
        app.live_run.halt("the bench measured one reply")
        shown = app.query_one("#reasoning").sections[0].text
        if len(shown) < chars * 0.95:
            print(f"  (the pane shows {len(shown):,} characters of {chars:,})")
        await app.wait_for_run()
    IterationSection.write = write  # type: ignore[method-assign]
    return samples


async def idle_app(sample: str, seconds: float) -> float:
    """The app's CPU, as a share of a core, while it waits for a question."""
    from rlm_tui.tui.app import RlmApp

    app = RlmApp(sample, settings_for("http://127.0.0.1:9/v1"))
    async with app.run_test(size=(120, 40)) as pilot:
        while app.workspace is None:
            await pilot.pause(0.05)
        await pilot.pause(1.0)
        wall, cpu = time.monotonic(), time.process_time()
        await pilot.pause(seconds)
        return (time.process_time() - cpu) / (time.monotonic() - wall)


def headless(sample: str, base_url: str, chars: int) -> Samples:
    from rlm_tui import events as ev
    from rlm_tui.engine.workspace import Workspace
    from rlm_tui.progress import ProgressLine
    from rlm_tui.transcript import TranscriptWriter

    samples = Samples(chars)
    settings = settings_for(base_url)
    with tempfile.TemporaryDirectory() as tmp, Workspace.open(sample, settings) as ws:
        writer = TranscriptWriter(Path(tmp) / "run.jsonl", query="q",
                                  settings=settings.public_dict(), context=ws.context_summary())
        bus = ev.EventBus()
        bus.subscribe(writer)
        bus.subscribe(ProgressLine())
        bus.subscribe(samples)

        async def go() -> None:
            run = ws.new_run(bus)
            turn = asyncio.ensure_future(run.start("What does the sandbox do with a runaway "
                                                   "cell?", ws.run_context()))
            try:
                await samples.done.wait()
                run.control.halt("the bench measured one reply")
                await turn
            finally:
                await run.close()

        asyncio.run(go())
        writer.close()
    return samples


def in_terminal(sample: str, server: Server, chars: int) -> tuple[float, float, float]:
    """`rlm-tui app` as a person runs it: its own process in a pseudo-terminal of 120x40 (what
    it writes to the terminal, escape sequences and all, included; the headless app above
    skips that), the question given with --query. Its CPU is read from /proc from the
    server's first chunk to its last. (wall seconds, share of a core, bytes written a
    second)."""
    import threading

    from bench.pty_app import app_on_pty

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
               "HOME": home, "XDG_CONFIG_HOME": f"{home}/config",
               "XDG_DATA_HOME": f"{home}/data", "XDG_STATE_HOME": f"{home}/state",
               "XDG_CACHE_HOME": f"{home}/cache", "XDG_RUNTIME_DIR": f"{home}/run"}
        os.makedirs(f"{home}/run", mode=0o700)
        args = ["app", sample, "--query", "What does the sandbox do with a runaway cell?",
                "--model", "openai/local-model", "--api-base", server.base_url,
                "--max-iterations", "2", "--max-output-tokens", "32000"]
        with app_on_pty(args, env=env, cwd=home) as (app, master):
            written = {"bytes": 0, "on": False}

            def drain() -> None:  # the terminal: reads what the app writes, as one would
                while True:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        return
                    if not data:
                        return
                    if written["on"]:
                        written["bytes"] += len(data)

            threading.Thread(target=drain, daemon=True).start()
            tick = os.sysconf("SC_CLK_TCK")

            def cpu() -> float:
                fields = Path(f"/proc/{app.pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

            server.said("stream-start", 120)
            wall, used = time.monotonic(), cpu()
            written["on"] = True
            server.said("stream-end", 900)
            time.sleep(0.3)  # its last draws
            wall, used = time.monotonic() - wall, cpu() - used
            written["on"] = False
    return wall, used / wall, written["bytes"] / wall


def goal_flag(share: float) -> str:
    return "   goal <= 5%  " + ("ok" if share <= CPU_GOAL else "MISSED")


def report(name: str, samples: Samples, *, goal: bool) -> tuple[float, float]:
    wall, share, per_char = samples.whole()
    rate = samples.chars / CHUNK_CHARS / wall
    flag = goal_flag(share) if goal else ""
    print(f"  {name:<34} {share * 100:5.1f}% of a core  {per_char:6.1f} µs/char  "
          f"{samples.chars:,} chars in {wall:.1f} s ({rate:,.0f} chunks/s){flag}")
    if samples.frames is not None:
        print(f"      {samples.frames.frames / wall:.1f} frames/s, "
              f"{samples.frames.layouts / wall:.1f} layouts/s")
    for c0, c1, seg_share, seg_per_char in samples.segments():
        print(f"      chars {c0:>6,}-{c1:<6,}  {seg_share * 100:5.1f}% of a core  "
              f"{seg_per_char:6.1f} µs/char")
    return share, per_char


def main() -> None:
    global CHUNK_CHARS, TEXT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,000 characters, not 16,000")
    parser.add_argument("--chars", type=int, default=None)
    parser.add_argument("--rate", type=float, default=25.0, metavar="N",
                        help="chunks a second of the slow stream (25; the goal is for 25)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--text", type=Path, default=None, metavar="FILE",
                        help="stream FILE's text (repeated to --chars), not the generated "
                             "Markdown: bench/texts/ has what a local model wrote")
    parser.add_argument("--chunk-chars", type=int, default=CHUNK_CHARS, metavar="N",
                        help=f"characters a chunk ({CHUNK_CHARS}; llama.cpp sends a token, ~4)")
    parser.add_argument("--only", choices=("slow", "fast"), default=None,
                        help="only 25 chunks/s (slow) or 2,000 (fast)")
    parser.add_argument("--no-headless", action="store_true")
    parser.add_argument("--idle", type=float, default=15.0, metavar="S",
                        help="first the app idle for S seconds (0: not)")
    parser.add_argument("--floor", action="store_true",
                        help="also the app with the reply not drawn (what the rest costs)")
    parser.add_argument("--terminal", action="store_true",
                        help="also `rlm-tui app` in a real pseudo-terminal (its writes counted)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="the app (and --terminal's) N times at each rate, with the median")
    parser.add_argument("--stream-flush", type=float, default=None, metavar="MS",
                        help="the headless app draws streamed text at most every MS ms (the app's: 100)")
    args = parser.parse_args()
    chars = args.chars or (4_000 if args.quick else 16_000)
    CHUNK_CHARS, TEXT = args.chunk_chars, args.text
    if TEXT is not None and not TEXT.is_file():
        parser.error(f"--text: no such file: {TEXT}")
    if args.serve:
        serve(chars, args.rate)
        return
    if args.stream_flush is not None:  # the trade-off: fewer draws, text in bigger steps
        import rlm_tui.tui.relay
        import rlm_tui.tui.session_screen

        rlm_tui.tui.relay.STREAM_FLUSH_S = rlm_tui.tui.session_screen.STREAM_FLUSH_S = (
            args.stream_flush / 1000)
        print(f"(streamed text drawn at most every {args.stream_flush:g} ms)")
    print(f"the app's own CPU while a {chars:,}-character reply streams "
          f"({CHUNK_CHARS} characters a chunk; 120x40, headless)")
    from rlm_tui.tui.heap import freeze_long_lived  # noqa: F401 - the app's imports, first

    per_char: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample"
        sample.mkdir()
        for i in range(20):
            (sample / f"f{i}.py").write_text("x = 1\n" * 100)
        if args.idle:
            share = asyncio.run(idle_app(str(sample), args.idle))
            print(f"the app idle for {args.idle:g} s (no run): {share * 100:.2f}% of a core")
        rates = [("slow", args.rate), ("fast", 2000.0)]
        for label, rate in rates:
            if args.only and args.only != label:
                continue
            server = Server(chars, rate)
            try:
                print(f"at {rate:,.0f} chunks/s:")
                shares: dict[str, list[float]] = {"the app": [], "in a pseudo-terminal": []}
                chars_cost: list[float] = []
                for _ in range(args.repeat):  # run to run, a figure moves by about a point
                    app = asyncio.run(in_app(str(sample), server.base_url, chars))
                    share, cost = report("the app", app, goal=label == "slow")
                    shares["the app"].append(share)
                    chars_cost.append(cost)
                    if args.terminal:  # its own server: it says when its one stream starts
                        own = Server(chars, rate)
                        try:
                            wall, share, rate_out = in_terminal(str(sample), own, chars)
                        finally:
                            own.close()
                        shares["in a pseudo-terminal"].append(share)
                        print(f"  {'rlm-tui app in a pseudo-terminal':<34} {share * 100:5.1f}% "
                              f"of a core  {wall:.1f} s, {rate_out / 1000:.1f} kB/s to the "
                              f"terminal{goal_flag(share) if label == 'slow' else ''}")
                per_char[label] = statistics.median(chars_cost)
                if args.repeat > 1:
                    for name, values in shares.items():
                        if values:
                            middle = statistics.median(values)
                            print(f"  {name}, {len(values)} runs: median {middle * 100:.1f}% "
                                  f"of a core ({min(values) * 100:.1f}-{max(values) * 100:.1f})"
                                  f"{goal_flag(middle) if label == 'slow' else ''}")
                if args.floor:
                    report("the app, the reply not drawn",
                           asyncio.run(in_app(str(sample), server.base_url, chars, drawn=False)),
                           goal=False)
                if not args.no_headless:
                    report("headless (rlm-tui run's subscribers)",
                           headless(str(sample), server.base_url, chars), goal=False)
            finally:
                server.close()
    if "slow" in per_char and "fast" in per_char:
        ok = per_char["fast"] <= per_char["slow"]
        print(f"  the app's CPU per character, 2,000 vs 25 chunks/s: {per_char['fast']:.1f} vs "
              f"{per_char['slow']:.1f} µs   goal no more  {'ok' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
