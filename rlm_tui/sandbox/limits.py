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
import sysconfig

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


# Landlock (Linux 5.13+): an unprivileged process can take away its own access rights.
_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_FS_READ_FILE, _FS_READ_DIR = 1 << 2, 1 << 3
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _landlock_fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute, write, read, remove and make-anything
    if abi >= 2:
        rights |= 1 << 13  # refer (link or rename across directories)
    if abi >= 3:
        rights |= 1 << 14  # truncate
    if abi >= 5:
        rights |= 1 << 15  # ioctl on devices
    return rights


def readable_paths(extra: list[str]) -> list[str]:
    """What the worker may still read once locked: Python's own library and the packages it
    imports (lazily loaded modules, encodings), the rlm_tui package, and `extra` (the pack)."""
    paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # rlm_tui/
    paths.update(extra)
    return sorted(p for p in paths if p and os.path.isdir(p))


def _apply_landlock(libc: ctypes.CDLL, read_paths: list[str]) -> bool:
    """Only reads beneath `read_paths`; no writes, execs or TCP anywhere; signals and abstract
    sockets only within the worker itself. False when the kernel lacks Landlock."""
    abi = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, _LANDLOCK_CREATE_RULESET_VERSION)
    if abi < 1:
        return False
    attr = _RulesetAttr(_landlock_fs_rights(abi),
                        _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return False
    try:
        for path in read_paths:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = _PathBeneathAttr(_FS_READ_FILE | _FS_READ_DIR, fd)
                libc.syscall(_SYS_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH,
                             ctypes.byref(rule), 0)
            finally:
                os.close(fd)
        return libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) == 0
    finally:
        os.close(ruleset)


def apply_limits(memory_mb: int, read_paths: list[str] | None = None) -> list[str]:
    """Lock the process down; returns the names of the protections that took effect.

    `read_paths`: directories the worker still needs to read (the context pack), besides
    Python's own library (see `readable_paths`)."""
    applied: list[str] = []
    readable = readable_paths(list(read_paths or []))  # before the user changes: /root is private
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
    if libc is not None and "no-new-privileges" in applied and _apply_landlock(libc, readable):
        applied.append("landlock")  # files: read-only, Python's dirs and the pack; no exec
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
