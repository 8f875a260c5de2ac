"""The API's arguments as the engine takes them: settings from keyword arguments (named as the
command line's flags and the config file's keys), the context as sources."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlm_tui.config import Settings, load_settings, settings_with
from rlm_tui.errors import UsageError

# What `context=` takes: a path; several (a list: context_0, context_1, ...); named ones (a
# dict: name -> path, or name -> data); or `Source` objects.
ContextArg = Any


def settings_from(overrides: Mapping[str, Any], *, base: Settings | None = None,
                  config: str | os.PathLike[str] | None = None) -> Settings:
    """Settings as the command line makes them: defaults < the config file (`config`, else
    the user's config.toml when there is one) < RLM_TUI_* environment < `overrides`. With
    `base` (settings merged already, as the command line has them), `overrides` go on top of
    it alone. A bad name or value is a one-line ConfigError naming it."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if base is not None:
        return settings_with(base, given, source="arguments") if given else base
    return load_settings(given, config_path=Path(config) if config is not None else None,
                         source="arguments")


def context_sources(context: ContextArg) -> Any:
    """`context=` checked as Workspace.open will take it (one path, a list, a mapping of
    name -> path or data, Source objects): UsageError (one line) now, before any work, for
    something that is not a context, a bad or doubled name; returned as given."""
    from rlm_tui.context.sources import Source, as_sources  # the context layer's own rules

    if not isinstance(context, (str, os.PathLike, Source, Mapping)) and (
            not isinstance(context, Sequence) or isinstance(context, (bytes, bytearray))):
        raise UsageError(f"context: not a path, a list of paths or a mapping of sources: "
                         f"{type(context).__name__}")
    as_sources(context)
    return os.fspath(context) if isinstance(context, os.PathLike) else context


def reads_stdin(context: Any) -> bool:
    """Whether the context reads stdin ("-", alone or among several)."""
    from rlm_tui.context.loader import STDIN

    if isinstance(context, str):
        return context == STDIN
    if isinstance(context, Mapping):
        context = list(context.values())
    if isinstance(context, Sequence):
        return any(getattr(item, "path", item) == STDIN for item in context)
    return getattr(context, "path", None) == STDIN
