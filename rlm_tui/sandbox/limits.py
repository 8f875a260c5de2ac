"""Operating-system limits the worker puts on itself before it runs any model code.

These are a second wall behind RestrictedPython: were the language-level guards ever escaped,
the process still has no network, no way to write files or start processes, bounded memory,
and (when started as root) no privileges.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import sys
import sysconfig
from typing import Any

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


# seccomp: a classic BPF filter over each system call (prctl(PR_SET_SECCOMP)). Landlock does
# not cover connecting to a Unix socket by its path (/run/docker.sock, an ssh-agent), so the
# worker may not make one: socket() and socketpair() with domain AF_UNIX fail with EPERM. The
# protocol pipe is inherited fds, and nothing the worker runs needs a Unix socket.
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_SECCOMP_RET_ALLOW, _SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_RET_K = 0x20, 0x15, 0x06
_AF_UNIX, _EPERM = 1, 1
_AUDIT_ARCH_X86_64, _AUDIT_ARCH_AARCH64, _AUDIT_ARCH_I386 = 0xC000003E, 0xC00000B7, 0x40000003
_X32_BIT = 0x40000000
# socket and socketpair for each architecture checked; i386 (a 32-bit call on an x86_64
# kernel) also multiplexes them through socketcall, whose domain is in memory: refused whole.
_SOCKET_CALLS = {
    _AUDIT_ARCH_X86_64: (41, 53, 41 | _X32_BIT, 53 | _X32_BIT),
    _AUDIT_ARCH_AARCH64: (198, 199),
    _AUDIT_ARCH_I386: (359, 360),
}
_REFUSED_CALLS = {_AUDIT_ARCH_I386: (102,)}


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def unix_socket_filter() -> list[tuple[int, int, int, int]]:
    """The BPF program: (code, jt, jf, k) each. seccomp_data is {int nr; u32 arch; u64 ip;
    u64 args[6]}: nr at 0, arch at 4, the low half of args[0] (the domain) at 16 or 20."""
    domain = 16 if sys.byteorder == "little" else 20
    deny, allow = "deny", "allow"
    prog: list[tuple[int, Any, Any, Any]] = [(_BPF_LD_W_ABS, 0, 0, 4)]
    for arch in _SOCKET_CALLS:
        prog.append((_BPF_JEQ_K, f"arch{arch}", 0, arch))
    prog.append((_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    for arch, calls in _SOCKET_CALLS.items():
        prog.append(("label", f"arch{arch}", 0, 0))
        prog.append((_BPF_LD_W_ABS, 0, 0, 0))
        for nr in _REFUSED_CALLS.get(arch, ()):
            prog.append((_BPF_JEQ_K, deny, 0, nr))
        for nr in calls:
            prog.append((_BPF_JEQ_K, "domain", 0, nr))
        prog.append((_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    prog += [("label", "domain", 0, 0), (_BPF_LD_W_ABS, 0, 0, domain),
             (_BPF_JEQ_K, deny, allow, _AF_UNIX),
             ("label", allow, 0, 0), (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
             ("label", deny, 0, 0), (_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | _EPERM)]
    labels: dict[str, int] = {}
    out: list[tuple[int, Any, Any, Any]] = []
    for code, jt, jf, k in prog:
        if code == "label":
            labels[jt] = len(out)
        else:
            out.append((code, jt, jf, k))

    def jump(target: Any, at: int) -> int:
        # A jump's offset counts from the next instruction.
        return target if isinstance(target, int) else labels[target] - at - 1

    return [(c, jump(jt, i), jump(jf, i), k) for i, (c, jt, jf, k) in enumerate(out)]


def _apply_seccomp(libc: ctypes.CDLL) -> bool:
    """Refuse Unix sockets (see above); False where the kernel or the machine cannot."""
    if platform.machine() not in ("x86_64", "aarch64", "arm64"):
        return False
    program = unix_socket_filter()
    filters = (_SockFilter * len(program))(*(_SockFilter(*ins) for ins in program))
    fprog = _SockFprog(len(program), filters)
    return libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


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
    if libc is not None and "no-new-privileges" in applied and _apply_seccomp(libc):
        applied.append("no-unix-sockets")  # seccomp: socket(AF_UNIX) and socketpair refused
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
