"""Operating-system limits the worker puts on itself before it runs any model code.

These are a second wall behind RestrictedPython: were the language-level guards ever escaped,
the process still has no network, no way to write files or start processes, bounded memory,
and (when started as root) no privileges.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_NOBODY = 65534


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _current_address_space() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _set(limit: int, soft: int, hard: int | None = None) -> bool:
    try:
        resource.setrlimit(limit, (soft, soft if hard is None else hard))
        return True
    except (ValueError, OSError):
        return False


def shield_host_process() -> None:
    """Make the host's /proc entries (environ, memory) unreadable by same-user processes.

    As root the worker drops to `nobody` and cannot read them anyway; otherwise it runs as
    the user, and would read the host's environment (API keys) were the sandbox escaped.
    """
    libc = _libc()
    if libc is not None and os.geteuid() != 0:
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this worker when the host goes away, so none is orphaned."""
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid and os.getppid() != parent_pid:  # the host died before we got here
        os._exit(1)


def apply_limits(memory_mb: int) -> list[str]:
    """Lock the process down; returns the names of the protections that took effect."""
    applied: list[str] = []
    libc = _libc()
    if libc is not None:
        # A network namespace of our own has no interfaces: nothing to connect to.
        if libc.unshare(_CLONE_NEWNET) == 0 or libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
            applied.append("no-network")
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
            applied.append("no-new-privileges")
    if os.geteuid() == 0:
        try:
            os.setgroups([])
            os.setgid(_NOBODY)
            os.setuid(_NOBODY)
            applied.append("unprivileged-user")
        except OSError:
            pass
    if memory_mb > 0 and _set(
        resource.RLIMIT_AS, _current_address_space() + memory_mb * 1024 * 1024
    ):
        applied.append(f"memory-{memory_mb}MB")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, not kills
    if _set(resource.RLIMIT_FSIZE, 0):
        applied.append("no-file-writes")
    if _set(resource.RLIMIT_NPROC, 0):
        applied.append("no-new-processes")
    _set(resource.RLIMIT_CORE, 0)
    _set(resource.RLIMIT_NOFILE, 64)
    return applied


def limit_cpu_for_cell(seconds: float) -> None:
    """Cap the CPU time of the next cell (a backstop behind the wall-clock timer)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    soft = int(spent + seconds * 2 + 5)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    _set(resource.RLIMIT_CPU, soft, hard)
