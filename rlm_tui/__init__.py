"""rlm-tui: run Recursive Language Models on a repository, watch and steer the run live.

From Python (see docs/python-api.md, "Use from Python"):

    import rlm_tui

    result = rlm_tui.ask("Which endpoints does the SDK call?", context=["../sdk", "../api"],
                         model="openai/gpt-5", sub_model="openai/gpt-5-mini", max_cost=1.0)
    result.answer, result.value, result.status, result.cost_usd, result.transcript

    async with rlm_tui.Session(context="repo/", model="openai/gpt-5-mini") as session:
        first = await session.ask("Should we checkpoint?", schema=Checkpoint)
        again = await session.ask("Which file worries you most?")

`import rlm_tui` is cheap: the API (the engine, pydantic) is imported on first use of one of
its names, and litellm, Textual and Ray never by it.
"""

from __future__ import annotations

__version__ = "0.1.0"

import os as _os
import sys as _sys

# `python -m rlm_tui` puts the current directory first on the module path, as CPython does for
# -m: inside an untrusted repository, its `logging.py` or `json.py` would be imported as the
# standard library's. The entry is taken off while the package is found (sys.argv[0] is "-m"
# then), before anything else is imported; the package's own modules are found through it.
# (A directory named rlm_tui there would be imported instead of this package: see docs/security.md.)
def _working_directory_off_the_path() -> None:
    try:
        here = _os.getcwd()
    except OSError:  # removed since: nothing there to import from either
        here = None
    if _sys.argv[:1] == ["-m"] and _sys.path and _sys.path[0] in ("", here):
        del _sys.path[0]


_working_directory_off_the_path()

import logging as _logging  # noqa: E402
from typing import Any  # noqa: E402 - after the path is safe: a repository's typing.py

# Library warnings (a bad line in a .gitignore, say) are for log handlers the program sets up;
# without one they must not reach the terminal unprefixed.
_logging.getLogger("rlm_tui").addHandler(_logging.NullHandler())

from rlm_tui.errors import (  # noqa: E402 - cheap: no imports of its own
    ConfigError,
    InputError,
    ModelError,
    RlmTuiError,
    SandboxError,
    UsageError,
)

# Type checkers read the public names' types from __init__.pyi beside this file.
# Public names and the module each lives in, imported on first use (PEP 562).
_LAZY = {
    "ask": "rlm_tui.api", "ask_async": "rlm_tui.api", "Session": "rlm_tui.api",
    "Result": "rlm_tui.api", "Tokens": "rlm_tui.api", "RunFailed": "rlm_tui.api",
    "ModelFailed": "rlm_tui.api", "SandboxFailed": "rlm_tui.api",
    "Source": "rlm_tui.context.sources",
}

__all__ = [
    "ConfigError", "InputError", "ModelError", "ModelFailed", "Result", "RlmTuiError",
    "RunFailed", "SandboxError", "SandboxFailed", "Session", "Source", "Tokens",
    "UsageError", "ask", "ask_async",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rlm_tui' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups find it directly
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
