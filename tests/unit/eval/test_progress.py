"""The eval's progress line: done/total, accuracy and cost so far, time left; silent when
stderr is not a terminal."""

from __future__ import annotations

import io

from rlm_tui.eval.progress import EvalProgress


def test_the_line_counts_done_right_and_cost_and_says_the_time_left():
    stream = io.StringIO()
    progress = EvalProgress(4, done=1, correct=1, scored=1, cost=0.01, stream=stream,
                            enabled=True)
    progress.started()
    progress.started()
    progress.finished({"status": "answered", "correct": False, "cost_usd": 0.02})
    line = progress.line()
    assert line.startswith("2/4 done · 1 running · 1 correct (50%) · $0.0300 · ")
    assert line.endswith(" left")
    progress.finished(None)  # interrupted: not counted
    assert progress.line().startswith("2/4 done · 1 correct (50%)")
    progress.close()
    assert stream.getvalue().endswith("\n") and "\r\x1b[2K" in stream.getvalue()


def test_an_unpriced_model_shows_cost_unknown_and_nothing_is_drawn_off_a_terminal():
    stream = io.StringIO()
    progress = EvalProgress(2, stream=stream, enabled=False)
    progress.started()
    progress.finished({"status": "answered", "correct": True, "cost_usd": None})
    assert "cost unknown" in progress.line()
    progress.close()
    assert stream.getvalue() == ""
