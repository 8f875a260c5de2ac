"""The command line's flags shared by its commands (models, budgets, limits, context
filters, answers, tools, tracing) and the settings they give; argparse with one-line errors."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`rlm-tui: ...`) and exit code 2, like every
    other error a user can cause; `--help` still shows the full usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.replace("rlm-tui", "").strip()
        hint = f"rlm-tui {command} --help" if command else "rlm-tui --help"
        self.exit(2, f"rlm-tui: {message} (see {hint})\n")


def add_run_arguments(command: argparse.ArgumentParser) -> None:
    """The flags shared by `run` and the app: models, budgets, limits, context filters.
    Each flag's dest is the name of its setting; unset flags are None (lower layers win)."""
    from rlm_tui.config import (  # the help names the defaults
        DEFAULT_CELL_TIMEOUT_S,
        DEFAULT_ROOT_OUTPUT_TOKENS,
        DEFAULT_SUB_OUTPUT_TOKENS,
    )

    models = command.add_argument_group("models")
    models.add_argument("--model", metavar="M", help="root model, any litellm name "
                        "(openai/..., anthropic/..., ollama/...); 'demo' runs offline")
    models.add_argument("--sub-model", metavar="M", help="model for sub-calls "
                        "(default: the root model)")
    models.add_argument("--api-base", metavar="URL", help="server for both models, e.g. a "
                        "local OpenAI-compatible one")
    models.add_argument("--sub-api-base", metavar="URL", help="server for the sub-model")
    models.add_argument("--prompt-cache", choices=("on", "off"), help="cache breakpoints on "
                        "the root conversation for providers that need them (Anthropic's "
                        "models); others cache by themselves (on)")
    budget = command.add_argument_group("budgets and limits")
    budget.add_argument("--max-iterations", type=int, metavar="N", help="root turns (30)")
    budget.add_argument("--max-depth", type=int, metavar="N",
                        help="rlm_query nesting; 1 makes it a plain sub-call (1)")
    budget.add_argument("--max-cost", type=float, metavar="USD", help="stop past this cost")
    budget.add_argument("--max-tokens", type=int, metavar="N", help="stop past these tokens")
    budget.add_argument("--max-time", type=float, metavar="S",
                        help="stop after S seconds of running (paused time does not count)")
    budget.add_argument("--max-output-tokens", type=int, metavar="N",
                        help=f"cap on each reply, root and sub-calls (default "
                        f"{DEFAULT_ROOT_OUTPUT_TOKENS} root, {DEFAULT_SUB_OUTPUT_TOKENS} "
                        "sub-calls; per model in the config file's [models.\"NAME\"])")
    budget.add_argument("--max-concurrency", type=int, metavar="N",
                        help="sub-calls in flight at once (16)")
    budget.add_argument("--root-window", type=int, metavar="N", help="the root model's "
                        "input window in tokens (default: the price map's max_input_tokens)")
    budget.add_argument("--compact-at", type=compact_share, metavar="SHARE",
                        help="compact the root conversation past this share of its window "
                        "(0.85; 0 or 'off': never)")
    budget.add_argument("--no-compact", dest="compact_at", action="store_const", const=0.0,
                        help="never compact: a run past its window fails")
    budget.add_argument("--cell-timeout", type=float, metavar="S",
                        help=f"running time of one code cell ({DEFAULT_CELL_TIMEOUT_S:g})")
    answers = command.add_argument_group("answers")
    answers.add_argument("--schema", metavar="FILE", help="a JSON Schema every answer must "
                         "match: the model is shown it, an answer that does not match goes "
                         "back to it with the errors, and `run` prints the validated JSON")
    command.add_argument("--tools", metavar="FILE.py", help="a Python file whose public "
                         "functions the model's code may call from the REPL; they run in "
                         "this process, with your rights: trust the file")
    tracing = command.add_argument_group("tracing")
    tracing.add_argument("--otel", action="store_true", default=None,
                         help="OpenTelemetry spans of every session over OTLP/HTTP, where "
                         "OTEL_EXPORTER_OTLP_ENDPOINT says (pip install 'rlm-tui[otel]')")
    tracing.add_argument("--otel-content", action="store_true", default=None,
                         help="--otel with prompts, code, outputs and answers in the spans")
    add_context_arguments(command)


def add_app_arguments(command: argparse.ArgumentParser) -> None:
    """The app's arguments, shared by `app` and `serve` (which runs the app with them in
    each browser tab): PATH ..., --query, the run flags, --approve."""
    command.add_argument("path", nargs="*", default=["."], metavar="PATH",
                         help="a directory, a file, or - for stdin (default: .); several: "
                         "one source each")
    command.add_argument("--query", "-q", metavar="Q", help="start this query at once")
    add_run_arguments(command)
    command.add_argument("--approve", choices=("none", "cells", "final"),
                         help="hold cells for your approval before they run: every cell, or "
                         "the cells that end the run (FINAL); a to run, c to edit, s to skip "
                         "(default: none)")


def add_context_arguments(command: argparse.ArgumentParser) -> None:
    """The flags that choose what a context holds, shared by `run`, `context` and the app,
    and `--config`. Unset flags are None (lower layers win)."""
    files = command.add_argument_group("context")
    files.add_argument("--include", action="append", metavar="GLOB",
                       help="keep only files matching GLOB (gitignore syntax; repeatable)")
    files.add_argument("--exclude", action="append", metavar="GLOB",
                       help="leave out files matching GLOB (repeatable)")
    files.add_argument("--include-secrets", action="store_true", default=None,
                       help="load .env files and keys, and leave secret-looking values "
                       "unmasked: they can then reach the model")
    files.add_argument("--max-file-size", type=byte_size, metavar="BYTES",
                       help="skip files larger than this (2M)")
    files.add_argument("--max-total-size", type=byte_size, metavar="BYTES",
                       help="stop adding files past this much text (200M)")
    command.add_argument("--config", metavar="FILE", help="settings file (TOML); default: "
                         "config.toml in the platform's config dir")


_SETTING_FLAGS = (
    "model", "sub_model", "api_base", "sub_api_base", "max_iterations", "max_depth",
    "max_cost", "max_tokens", "max_time", "max_output_tokens", "max_concurrency",
    "cell_timeout", "root_window", "compact_at", "include",
    "exclude", "include_secrets", "max_file_size", "max_total_size", "approve", "schema", "tools",
    "otel", "otel_content", "prompt_cache",
)


def settings_from_args(args: argparse.Namespace,
                       inherited: tuple[dict[str, Any], str] | None = None) -> Any:
    """Settings from defaults < config file < RLM_TUI_* environment < `inherited` (a fork's
    parent's) < these flags."""
    from pathlib import Path

    from rlm_tui.config import load_settings

    flags = {name: getattr(args, name, None) for name in _SETTING_FLAGS}
    config = Path(args.config) if getattr(args, "config", None) else None
    settings = load_settings(flags, config_path=config, inherited=inherited)
    if settings.include_secrets:
        print("rlm-tui: warning: --include-secrets: secret files and secret-looking values "
              "are loaded unmasked and can reach the model", file=sys.stderr)
    return settings


def one_or_several(paths: list[str]) -> str | list[str]:
    """The context paths given: one path as itself (loaded as ever), several as a list."""
    return paths[0] if len(paths) == 1 else paths


_SIZE = re.compile(r"(\d+)\s*([kmg]?)(?:i?b)?", re.IGNORECASE)


def byte_size(text: str) -> int:
    """A size in bytes: a plain number, or one with a K, M or G suffix (powers of 1024;
    "2M", "2MB" and "2MiB" all mean 2 MiB)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size in bytes: {text!r} (e.g. 2000000 or 2M)")
    number, unit = int(match.group(1)), match.group(2).lower()
    return number * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]


def compact_share(text: str) -> float:
    """--compact-at: a share of the window below 1, or 'off' (0: never compact)."""
    if text.strip().lower() == "off":
        return 0.0
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0 <= share < 1:
        raise argparse.ArgumentTypeError(f"not a share below 1: {text!r} (e.g. 0.85, or off)")
    return share


def traced_if_asked(settings: Any) -> Any:
    """--otel without the extra: one line before the app or the eval starts anything (a
    headless run's Session says it as it opens)."""
    if settings.otel or settings.otel_content:
        from rlm_tui.telemetry import check_available

        check_available()
    return settings
