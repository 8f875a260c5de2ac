"""`rlm-tui` in a pseudo-terminal of its own, as a person runs it: for the benches that time or
measure the app with its real driver (its writes to the terminal included)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator


@contextlib.contextmanager
def app_on_pty(args: list[str], *, env: dict[str, str], cwd: str,
               size: tuple[int, int] = (120, 40)) -> Iterator[tuple[subprocess.Popen, int]]:
    """`python -m rlm_tui ARGS` on a pty of `size` (columns, rows): the process and the pty's
    master end, to read what the app draws. On leaving: ctrl+q, then a kill if it lingers."""
    master, slave = pty.openpty()
    columns, rows = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "rlm_tui", *args], stdin=slave,
                            stdout=slave, stderr=slave, env=env, cwd=cwd,
                            start_new_session=True)
    os.close(slave)
    try:
        yield proc, master
    finally:
        try:
            os.write(master, b"\x11")  # ctrl+q
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(5)
        os.close(master)
