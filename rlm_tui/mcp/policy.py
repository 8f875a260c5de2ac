"""What an MCP client may ask of the server: paths inside the allowed roots (symlinks resolved
first), a model among the configured ones, budgets no higher than the server's own. Everything
else (api_base, keys, limits, context filters) is the server's, from its flags and config.

A client is a program the person chose to run, but its arguments come from a model reading
who knows what: each is checked here, and a refusal is one line naming what was refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlm_tui.config import Settings
from rlm_tui.errors import InputError, UsageError

# The budgets a client may lower (never raise) for its call, as the settings name them.
CLIENT_BUDGETS = ("max_iterations", "max_depth", "max_cost", "max_tokens", "max_time")


class PathRefused(InputError):
    """A path outside the allowed roots (after its symlinks are resolved)."""


@dataclass(frozen=True)
class ServerPolicy:
    """The server's settings and its allowed roots (resolved), and the checks of a call."""

    settings: Settings
    roots: tuple[Path, ...]
    base: Path  # where relative paths are taken from: the directory the server started in

    @classmethod
    def make(cls, settings: Settings, allow: Iterable[str | os.PathLike[str]] = (),
             *, base: str | os.PathLike[str] | None = None) -> ServerPolicy:
        """`allow`: the roots (default: `base`, the directory the server was started in).
        A root that is not a directory is a one-line InputError at start."""
        start = Path(os.path.realpath(base if base is not None else os.getcwd()))
        roots: list[Path] = []
        for root in allow or (start,):
            resolved = Path(os.path.realpath(start / Path(root).expanduser()))
            if not resolved.is_dir():
                raise InputError(f"--allow {os.fspath(root)}: not a directory")
            roots.append(resolved)
        return cls(settings, tuple(roots), start)

    # -- paths ---------------------------------------------------------------------------

    def resolve_paths(self, paths: Any) -> list[Path]:
        """The call's paths, each resolved (symlinks followed) and inside an allowed root.
        Relative paths are taken from the directory the server started in."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if not isinstance(paths, Sequence) or not paths:
            raise UsageError("paths: give a list of one or more paths")
        return [self.resolve_path(path) for path in paths]

    def resolve_path(self, path: Any) -> Path:
        if not isinstance(path, str) or not path.strip():
            raise UsageError(f"paths: not a path: {path!r}")
        if path == "-":  # stdin is the protocol's own stream here
            raise UsageError("paths: '-' (stdin) is not available over MCP; give a path")
        if "\x00" in path:
            raise UsageError("paths: a path holds a NUL byte")
        resolved = Path(os.path.realpath(self.base / Path(path).expanduser()))
        if not any(resolved == root or resolved.is_relative_to(root) for root in self.roots):
            shown = f"{path} (-> {resolved})" if str(resolved) != path else path
            raise PathRefused(f"{shown}: outside the allowed roots "
                              f"({', '.join(str(r) for r in self.roots)}; see --allow)")
        return resolved

    # -- models and budgets --------------------------------------------------------------

    @property
    def models(self) -> list[str]:
        """The models a call may name: the server's root and sub-model, and those the
        config file gives parameters ([models."NAME"])."""
        names = [self.settings.model, self.settings.sub_model, *self.settings.models]
        return list(dict.fromkeys(name for name in names if name))

    def call_settings(self, *, model: str | None = None,
                      budgets: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The settings a call changes for its own session: a configured model, and budgets
        at most the server's (a server without a limit lets a call set one)."""
        overrides: dict[str, Any] = {}
        if model is not None:
            if model not in self.models:
                raise UsageError(f"model {model!r} is not one this server runs (choose from "
                                 f"{', '.join(self.models) or 'none: start it with --model'})")
            overrides["model"] = model
        for name, value in (budgets or {}).items():
            if value is None:
                continue
            if name not in CLIENT_BUDGETS:
                raise UsageError(f"{name}: not a budget a call may set "
                                 f"({', '.join(CLIENT_BUDGETS)})")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise UsageError(f"{name}: must be a positive number, not {value!r}")
            ceiling = getattr(self.settings, name)
            if ceiling is not None and value > ceiling:
                raise UsageError(f"{name} {value:g} is over this server's {ceiling:g}")
            overrides[name] = value
        return overrides
