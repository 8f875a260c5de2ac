"""Forking a recorded session, as the command line and the app both start one: the
transcript read and checked, the plan made, and where its context and settings come from.

    fork = load_fork("run.jsonl", "3")       # InputError / UsageError: one line, exit 2
    fork.plan, fork.context_source, fork.settings
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlm_tui.engine.fork_plan import ForkPlan, plan_fork
from rlm_tui.errors import InputError, UsageError
from rlm_tui.transcript.reader import Transcript, read_transcript

# The parent's settings a fork keeps unless a flag says otherwise: its models, limits and
# context filters (not the app's look, nor --approve).
INHERITED_SETTINGS = (
    "model", "sub_model", "api_base", "sub_api_base", "max_iterations", "max_depth",
    "max_cost", "max_tokens", "max_time", "max_output_tokens", "sub_max_output_tokens",
    "max_concurrency", "cell_timeout", "memory_mb", "model_output_chars", "include", "exclude",
    "include_secrets", "max_file_size", "max_total_size", "transport", "models",
)


@dataclass
class LoadedFork:
    transcript: Transcript
    plan: ForkPlan

    @property
    def context_source(self) -> str | None:
        return context_source(self.transcript.header)

    @property
    def settings(self) -> dict[str, Any]:
        """The parent's settings a fork continues with (below the fork's own flags)."""
        recorded = self.transcript.header.get("settings") or {}
        return {k: recorded[k] for k in INHERITED_SETTINGS if k in recorded}


def load_fork(path: str | Path, at: str | tuple[int, int]) -> LoadedFork:
    """Read the transcript at `path` and plan a fork after iteration `at` of it."""
    transcript = read_transcript(path)
    if transcript.source_format != "rlm-tui":
        raise UsageError(f"{path} is an rlms log: it does not record sub-call responses, so "
                         "its REPL cannot be rebuilt; fork a transcript written by rlm-tui")
    return LoadedFork(transcript, plan_fork(transcript.events, at, transcript=str(path)))


def context_source(header: dict[str, Any]) -> str | None:
    """Where a transcript's context was loaded from (its absolute root when recorded), or
    None when it cannot be loaded again (stdin, or no record of it)."""
    context = header.get("context") or {}
    source = context.get("root") or context.get("source")
    if not source or source == "-":
        return None
    return str(source)


def fork_context(header: dict[str, Any], given: str | None) -> str:
    """The context a fork loads: `given`, else the parent's; InputError when neither can."""
    if given:
        return given
    source = context_source(header)
    if source is None:
        raise InputError("the forked session's context came from stdin or is not recorded: "
                         "pass --context PATH")
    if not Path(source).exists():
        raise InputError(f"the forked session's context {source} is gone: pass --context PATH")
    return source
