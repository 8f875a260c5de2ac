"""Private temporary directories, named after the process that owns them, so that whatever a
killed run left behind (a context pack is a copy of every loaded file) is removed by the next.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_PREFIX = "rlm-tui-"


def make_scratch_dir(kind: str) -> str:
    """A new directory `rlm-tui-<kind>-<pid>-<random>` in the temp dir; stale ones (of dead
    processes) are removed first."""
    sweep_stale()
    return tempfile.mkdtemp(prefix=f"{_PREFIX}{kind}-{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return "\nState:\tZ" not in status  # a zombie is dead, reaped or not


def sweep_stale() -> None:
    """Remove scratch directories whose owning process is gone."""
    try:
        entries = list(os.scandir(tempfile.gettempdir()))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(_PREFIX):
            continue
        parts = entry.name[len(_PREFIX):].split("-")
        if len(parts) < 3 or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(entry.path, ignore_errors=True)
