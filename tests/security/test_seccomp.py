"""The worker's seccomp filter: socket() and socketpair() for AF_UNIX fail with EPERM.

Landlock does not cover connecting to a Unix socket by its path (/run/docker.sock, an
ssh-agent), so the worker may make none. Model code cannot reach `socket` through
RestrictedPython; this tests the OS wall alone, as the other limit tests do: a process locks
itself down with the worker's own `limits.apply_limits`, then tries.
"""

from __future__ import annotations

import asyncio
import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_tui.sandbox import Sandbox
from rlm_tui.sandbox import limits

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"),
    reason="the filter is built for Linux on x86_64 and aarch64")

_REPO = str(Path(__file__).resolve().parents[2])

_PROBE = """\
import ctypes, errno, json, socket, sys
sys.path[:0] = [{repo!r}]
from rlm_tui.sandbox import limits
applied = limits.apply_limits(512)
outcome = {{"applied": applied}}

def attempt(name, make):
    try:
        made = make()
    except OSError as exc:
        outcome[name] = errno.errorcode.get(exc.errno, str(exc.errno))
    else:
        outcome[name] = "made"
        for s in made if isinstance(made, tuple) else (made,):
            s.close()

attempt("unix_stream", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
attempt("unix_dgram", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
attempt("unix_cloexec", lambda: socket.socket(socket.AF_UNIX,
                                              socket.SOCK_STREAM | socket.SOCK_CLOEXEC))
attempt("socketpair", lambda: socket.socketpair())
attempt("inet", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
libc = ctypes.CDLL(None, use_errno=True)
nr = {{"x86_64": 41, "aarch64": 198}}[{machine!r}]
# The domain with high bits set: the kernel reads an int, so this is AF_UNIX too.
fd = libc.syscall(nr, ctypes.c_long(0x100000001), 1, 0)
outcome["raw_high_bits"] = "made" if fd >= 0 else errno.errorcode[ctypes.get_errno()]
print(json.dumps(outcome), flush=True)
"""


def _probe(tmp_path: Path) -> dict:
    code = _PROBE.format(repo=_REPO, machine=platform.machine())
    tmp_path.chmod(0o777)
    proc = subprocess.run([sys.executable, "-I", "-c", code], env={}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_unix_sockets_are_refused_with_eperm_and_other_families_are_not(tmp_path):
    outcome = _probe(tmp_path)
    assert "no-unix-sockets" in outcome["applied"]
    for name in ("unix_stream", "unix_dgram", "unix_cloexec", "socketpair", "raw_high_bits"):
        assert outcome[name] == "EPERM", (name, outcome)
    assert outcome["inet"] == "made"  # the filter is about AF_UNIX only


def test_the_filter_checks_the_architecture_first():
    program = limits.unix_socket_filter()
    assert program[0] == (0x20, 0, 0, 4)  # load seccomp_data.arch
    arches = {k for code, _, _, k in program[1:4] if code == 0x15}
    assert arches == {0xC000003E, 0xC00000B7, 0x40000003}  # x86_64, aarch64, i386
    assert program[4] == (0x06, 0, 0, 0x7FFF0000)  # any other: allowed
    assert program[-1] == (0x06, 0, 0, 0x00050000 | 1)  # SECCOMP_RET_ERRNO | EPERM
    for index, (code, jt, jf, _) in enumerate(program):
        if code == 0x15:  # every jump lands inside the program
            assert index + 1 + max(jt, jf) < len(program)


async def test_the_worker_reports_the_filter_and_still_runs_cells():
    async with Sandbox("ctx") as sandbox:
        assert "no-unix-sockets" in sandbox.protections
        result = await asyncio.wait_for(sandbox.run_cell("print(len(context))"), 30)
        assert result.stdout == "3\n"
