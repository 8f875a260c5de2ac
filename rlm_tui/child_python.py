"""Starting a Python process of our own (the sandbox worker, the load helper) safely.

A child is started isolated (`-I`: no current directory on its path, no PYTHON* variables,
no user site) in a directory of its own, and handed this process's module path, so that it
runs this very code with the same packages and nothing else: a repository opened with
`rlm-tui .` may hold a `logging.py` or `pickle.py` at its top, which a child whose path began
with the current directory would import and run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


def child_paths() -> list[str]:
    """This process's module path for a child, in its order: existing directories only (not
    "", the current directory), with the directory this package is in (found through an
    editable install's finder here, which a child started without site lacks)."""
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    if _PACKAGE_ROOT not in paths:
        paths.insert(0, _PACKAGE_ROOT)
    return paths


def boot_code(paths: list[str], statement: str) -> str:
    """Code for `python -I -c` that takes `paths` as its module path, then runs `statement`."""
    return f"import sys; sys.path[:0] = {paths!r}; {statement}"
