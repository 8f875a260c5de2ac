"""How many cores are idle now: a second process (parallel.py) or a masking thread
(directory.py) helps only on a core that nothing else is using."""

from __future__ import annotations

import os


def spare_cores() -> float:
    """About how many cores nothing uses now, this thread included: those this process may
    run on, less one for this thread and the threads of other processes that run or wait to
    run (Linux: `procs_running` in /proc/stat less this process's own running threads, the
    fewest of three looks; the app's own threads, drawing its first frame, say, do not keep
    a helper out); elsewhere, less one and the load average of the last minute. (That lags:
    for a minute after a busy spell it says the cores are taken.)"""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    others = _running_elsewhere()
    if others is not None:
        return cores - 1 - others
    try:
        return cores - 1 - os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average here
        return cores - 2


_PROC_STAT = "/proc/stat"
_OWN_THREADS = "/proc/self/task"


def _running_elsewhere() -> int | None:
    """Threads of other processes running or runnable now; None where the system does not
    say."""
    counts = []
    for _ in range(3):  # a process that ran for an instant is not a busy core
        try:
            with open(_PROC_STAT, "rb") as stream:
                data = stream.read()
            at = data.index(b"\nprocs_running ") + len(b"\nprocs_running ")
            running = int(data[at : data.index(b"\n", at)])
        except (OSError, ValueError):  # not there, or not as expected
            return None
        counts.append(running - _own_running_threads())
    return max(0, min(counts))


def _own_running_threads() -> int:
    running = 0
    try:
        tasks = os.listdir(_OWN_THREADS)
    except OSError:
        return 1  # this one
    for task in tasks:
        try:
            with open(f"{_OWN_THREADS}/{task}/stat", "rb") as stream:
                # "tid (name) S ...": the name may hold spaces and parentheses.
                state = stream.read().rpartition(b")")[2][1:2]
        except OSError:
            continue  # a thread that ended meanwhile
        running += state == b"R"
    return max(1, running)
