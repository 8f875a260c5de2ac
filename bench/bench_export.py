"""Transcript figures: read, fold and export a long synthetic session in each format.

    .venv/bin/python bench/bench_export.py [--iterations 1000] [--repeat 5] [--batch 8]

The session has the engine's shape: per iteration a streamed root reply (two deltas), one
cell with two sub-calls (every tenth one a child session), every seventh cell failing. It
is written as a transcript file, then timed: reading it back (parse + validate every event),
folding it, and each export from the fold. Best of --repeat runs. Not a test: no timing is
asserted anywhere.

Then the HTML page's picture of a run: a second session of --iterations / 3 iterations whose
cells each send a batch of --batch sub-calls, timed as building the timeline from the fold,
drawing it as SVG, and the whole HTML export, with the page's size and the SVG's share.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlm_tui.transcript import export_transcript, read_transcript  # noqa: E402
from rlm_tui.transcript.html_timeline import render_timeline  # noqa: E402
from rlm_tui.transcript.timeline import build_timeline  # noqa: E402
from tests.unit.transcript.synthetic import synthetic_events, write_transcript  # noqa: E402

FORMATS = ("markdown", "html", "json", "rlm-log")
# about what a real turn carries: a paragraph of reasoning, a line or two of output
FILLER = "The parser reads tokens from the stream and hands them to the builder. " * 4


def best(repeat: int, work) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8, help="sub-calls per batch (timeline)")
    args = parser.parse_args()

    events = synthetic_events(args.iterations, subcalls_per_cell=2, child_every=10,
                              error_every=7, text=FILLER)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_transcript(Path(tmp) / "long.jsonl", events)
        size = path.stat().st_size
        print(f"session: {args.iterations:,} iterations, {len(events):,} events, "
              f"transcript {size / 1e6:.1f} MB; best of {args.repeat}")
        read_s, transcript = best(args.repeat, lambda: read_transcript(path))
        print(f"  read     {read_s * 1000:8.1f} ms  ({len(events) / read_s:,.0f} events/s)")
        fold_s, model = best(args.repeat, transcript.fold)
        print(f"  fold     {fold_s * 1000:8.1f} ms")
        for fmt in FORMATS:
            export_s, text = best(args.repeat,
                                  lambda fmt=fmt: export_transcript(transcript, fmt, model))
            total = read_s + fold_s + export_s
            print(f"  {fmt:<8} {export_s * 1000:8.1f} ms  output {len(text) / 1e6:6.1f} MB;"
                  f"  read + fold + export {total * 1000:7.1f} ms")
        timeline_figures(Path(tmp), max(1, args.iterations // 3), args.batch, args.repeat)


def timeline_figures(tmp: Path, iterations: int, batch: int, repeat: int) -> None:
    events = synthetic_events(iterations, subcalls_per_cell=batch, child_every=10,
                              error_every=7, text=FILLER, parallel=True)
    transcript = read_transcript(write_transcript(tmp / "batched.jsonl", events))
    model = transcript.fold()
    build_s, timeline = best(repeat, lambda: build_timeline(model))
    anchors = [f"iteration-{n}" for n in range(1, len(timeline.iterations) + 1)]
    draw_s, svg = best(repeat, lambda: render_timeline(timeline, anchors))
    page_s, page = best(repeat, lambda: export_transcript(transcript, "html", model))
    print(f"timeline: {iterations:,} iterations, {timeline.sub_calls:,} sub-calls in batches "
          f"of {batch}, {timeline.lanes} lanes, {len(timeline.spans):,} bars")
    # Named apart from the exports above, so run_all.py's table keeps one row for each.
    print(f"  timeline-build {build_s * 1000:8.1f} ms")
    print(f"  timeline-svg   {draw_s * 1000:8.1f} ms  output {len(svg) / 1e6:6.2f} MB, "
          f"{len(svg) / max(1, len(timeline.spans)):.0f} bytes a bar")
    print(f"  timeline-page  {page_s * 1000:8.1f} ms  output {len(page) / 1e6:6.2f} MB, "
          f"the timeline {len(svg) / len(page):.0%} of it")


if __name__ == "__main__":
    main()
