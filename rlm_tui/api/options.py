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


def context_sources(context: ContextArg) -> str | list[Any]:
    """`context=` as Workspace.open takes it: one path as a str, else a list of sources.
    UsageError for something that is not a context."""
    if isinstance(context, (str, os.PathLike)):
        path = os.fspath(context)
        if not path:
            raise UsageError("context: an empty path")
        return path
    from rlm_tui.context.sources import Source  # several sources: the context layer

    if isinstance(context, Source):
        return [context]
    if isinstance(context, Mapping):
        sources: list[Any] = []
        for name, value in context.items():
            if not isinstance(name, str):
                raise UsageError(f"context: a source's name must be a str, not {name!r}")
            if isinstance(value, Source):
                sources.append(value if value.name == name else
                               Source(name=name, path=value.path, data=value.data,
                                      as_data=value.as_data))
            elif isinstance(value, os.PathLike):
                sources.append(Source(name=name, path=os.fspath(value)))
            elif isinstance(value, str):
                sources.append(Source(name=name, path=value))
            else:  # a list, dict, number...: JSON data, as that type in the REPL
                sources.append(Source(name=name, data=value))
        if not sources:
            raise UsageError("context: an empty mapping (give name -> path or data)")
        return sources
    if isinstance(context, Sequence) and not isinstance(context, (bytes, bytearray)):
        items: list[Any] = []
        for item in context:
            if isinstance(item, (str, os.PathLike)):
                items.append(os.fspath(item))
            elif isinstance(item, Source):
                items.append(item)
            else:
                raise UsageError("context: a list holds paths or Source objects; give data as "
                                 "{'name': data} or Source(data=...)")
        if not items:
            raise UsageError("context: an empty list")
        return items
    raise UsageError(f"context: not a path, a list of paths or a mapping of sources: "
                     f"{type(context).__name__}")
