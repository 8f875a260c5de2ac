"""What a context would hold, as `rlm-tui context` and the MCP server's `rlm_context` tell
it: the metadata the model is told, every skipped file with its reason, and the options the
load used. Loaded into a temporary pack, cleaned up before it returns."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rlm_tui.context.loader import LoadOptions
from rlm_tui.context.metadata import describe_context
from rlm_tui.context.skips import SkippedFile
from rlm_tui.context.sources import as_sources, load_sources


@dataclass(frozen=True)
class ContextReport:
    """`meta`: what the model is told (describe_context's data, never file contents);
    `skipped`: every file left out, with its reason; `options`: the load's options."""

    meta: dict[str, Any]
    skipped: list[SkippedFile]
    options: LoadOptions

    def to_dict(self) -> dict[str, Any]:
        """As `rlm-tui context --json` prints it."""
        return {"context": self.meta, "skipped_files": [item.to_dict() for item in self.skipped],
                "options": self.options.to_dict()}


def context_report(source: str | os.PathLike[str] | Sequence[Any],
                   options: LoadOptions) -> ContextReport:
    """Load `source` (a directory, a file, "-" for stdin, or several: sources.as_sources) as
    a run would, and report it. InputError (one line) for a source that cannot be used."""
    with tempfile.TemporaryDirectory(prefix="rlm-tui-context-") as pack_dir:
        pack = load_sources(as_sources(source), pack_dir, options)
        return ContextReport(describe_context(pack), list(pack.skipped), options)
