"""Short garbage-collector pauses, so that keys stay answered within 100 ms.

Now and then Python's cyclic collector walks every object it tracks (a full collection), on
whichever thread allocates, holding the GIL; it comes each time the heap has grown by a
quarter. With Textual and our modules that is ~100,000 objects and a 60-90 ms pause; with
litellm loaded, ~700 ms (measured with a gc callback around `bench/bench_tui.py
--no-freeze`). `freeze_long_lived()` moves the objects alive now out of the collector's
sight (`gc.freeze()`), once the first screen is up, a context is shown and litellm is
imported: these live as long as the app, and the pauses then scale with what a run builds.
A run's own objects are not frozen: its panes churn (a streamed reply's layout objects die
a frame later), and frozen garbage would stay. `collect_for_new_run()` collects the last
run's leftovers when a new run replaces the panes, at the user's own action, rather than
at some later keypress.

`tune_collector()` also lets 10,000 allocations (not 700) pass between young collections:
the layout's and the renderer's objects of one frame then die before any collection sees
them, rather than surviving two and growing the heap that full collections walk. Streaming a
30,000-character reply at 2,000 tokens/s, time in the collector went from ~1.1 s to ~0.45 s
in 4 s and its longest pause from ~150 ms to ~60 ms.
"""

from __future__ import annotations

import gc


YOUNG_THRESHOLD = 10_000  # allocations between young collections (Python's default: 700)


def tune_collector() -> None:
    """Space young collections out (see the module's text); the older ones keep their
    thresholds."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze_long_lived() -> None:
    """Take every object alive now out of future full collections (cheap: a list move)."""
    gc.freeze()


def collect_for_new_run() -> None:
    """Collect what is not frozen (the last run's panes and leftovers)."""
    gc.collect()


__all__ = ["collect_for_new_run", "freeze_long_lived", "tune_collector"]
