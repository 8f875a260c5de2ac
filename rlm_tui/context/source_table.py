"""The sources table of a pack of several sources (see sources.py): one row per source,
kept in the pack's index (what the worker needs) and manifest (what the host needs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SourceKind = Literal["directory", "file", "stdin", "data"]


@dataclass(frozen=True)
class PackSource:
    """One source of a pack of several: its entries are `entries[first:first + count]`, each
    path starting with `prefix` ("name/")."""

    name: str
    kind: SourceKind
    type: str  # of its value in the REPL: ContextView, str, list, dict, int, ...
    origin: str  # its absolute path, "<stdin>", or "data" (a value given in code)
    mode: str  # git, walk, file, stdin, data
    first: int
    count: int
    shape: str = ""  # data: what it holds, for the root model ("a list of 3 dicts ...")
    as_data: bool = False  # a .json/.jsonl file loaded as data

    @property
    def prefix(self) -> str:
        return f"{self.name}/"

    def to_index(self) -> dict[str, Any]:
        """What the worker needs of it."""
        return {"name": self.name, "kind": self.kind, "type": self.type, "prefix": self.prefix,
                "first": self.first, "count": self.count}

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_index(), "origin": self.origin, "mode": self.mode,
                "shape": self.shape, "as_data": self.as_data}
