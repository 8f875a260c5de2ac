"""Idle cores are counted from what runs now: a helper process or a masking thread is started
only on a core that nothing else uses."""

from __future__ import annotations

import os
from pathlib import Path

from rlm_tui.context import cores


def test_spare_cores_counts_what_runs_now_not_the_last_minute(tmp_path: Path, monkeypatch):
    # After a busy minute the load average still says both cores are taken; what runs now
    # (this process's own threads, whatever they do, and nothing else) leaves one spare.
    stat = tmp_path / "stat"
    stat.write_bytes(b"cpu  1 2 3\nctxt 99\nprocs_running 2\nprocs_blocked 0\n")
    tasks = tmp_path / "task"
    for tid, state in (("100", "R"), ("101", "R"), ("102", "S")):
        (tasks / tid).mkdir(parents=True)
        (tasks / tid / "stat").write_text(f"{tid} (a (strange) name) {state} 1 2 3\n")
    monkeypatch.setattr(cores, "_PROC_STAT", str(stat))
    monkeypatch.setattr(cores, "_OWN_THREADS", str(tasks))
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0, 2.0, 2.0))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert cores.spare_cores() == 1
    stat.write_bytes(b"cpu  1 2 3\nprocs_running 3\n")  # and one thread of another process
    assert cores.spare_cores() == 0
    # Where the system does not say (or not as expected), the load average decides.
    for text in (b"cpu  1 2 3\n", b"cpu 1\nprocs_running many\n", None):
        if text is None:
            stat.unlink()
        else:
            stat.write_bytes(text)
        assert cores.spare_cores() == -1
