"""Command line: argv -> settings -> a session wired to its subscribers.

Every error a user can cause ends as one line on stderr and an exit code (see errors.py).
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import Any

from rlm_tui import __version__
from rlm_tui.cli.flags import (
    OneLineErrorParser,
    add_app_arguments,
    add_run_arguments,
    byte_size,
    one_or_several,
    settings_from_args,
    traced_if_asked,
)
from rlm_tui.cli.serve import add_serve_command
from rlm_tui.cli.services import add_eval_command, add_mcp_command
from rlm_tui.cli.views import (
    add_context_command,
    add_export_command,
    add_replay_command,
    add_watch_command,
)
from rlm_tui.errors import RlmTuiError, UsageError

__all__ = ["COMMAND_WORDS", "build_parser", "byte_size", "main", "settings_from_args"]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="rlm-tui",
        description="Run Recursive Language Models on a repository and watch the run live.",
    )
    parser.add_argument("--version", action="version", version=f"rlm-tui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run_command(commands)
    _add_fork_command(commands)
    add_context_command(commands)
    add_replay_command(commands)
    add_watch_command(commands)
    add_export_command(commands)
    _add_app_command(commands)
    add_eval_command(commands)
    add_mcp_command(commands)
    add_serve_command(commands)
    return parser


def _add_run_command(commands: Any) -> None:
    command = commands.add_parser(
        "run",
        help="answer a question about PATH headless: the answer on stdout",
        description="Run an RLM on PATH without the app. stdout: the final answer only (or "
        "JSON with --json); stderr: live progress on a terminal. Several paths are several "
        "sources: context_0, context_1, ... in the REPL, and `context` all of them. Exit "
        "codes: 0 answered, 1 stopped without an answer, 2 bad usage, input or config, 3 "
        "model or provider failure.",
    )
    command.add_argument("path", metavar="PATH", nargs="+",
                         help="a directory, a file, or - for stdin (several: one source each)")
    command.add_argument("--query", "-q", required=True, action="append", metavar="Q",
                         help="the question; repeat it to ask follow-up questions in turn on "
                         "the same REPL (each answer is printed in order)")
    add_run_arguments(command)
    _add_headless_outputs(command)
    command.add_argument("--approve", metavar="MODE", help=argparse.SUPPRESS)
    command.set_defaults(handler=run_headless_command)


def _add_headless_outputs(command: argparse.ArgumentParser) -> None:
    command.add_argument("--transcript", metavar="FILE", help="write every event here as "
                         "JSON lines (default: a new file in the user data dir)")
    command.add_argument("--json", action="store_true",
                         help="print one JSON object with the answers and the session's "
                         "totals (a `turns` list: one per question)")


def run_headless_command(args: argparse.Namespace) -> int:
    from rlm_tui.headless import run_headless

    if args.approve is not None:
        raise UsageError("--approve holds cells for a person to approve: it needs the app "
                         "(rlm-tui PATH --approve cells), not rlm-tui run")
    # Start-up's imports are done: its objects are kept out of the collector's way for good.
    gc.freeze()
    gc.enable()
    return run_headless(one_or_several(args.path), args.query, settings_from_args(args),
                        transcript=args.transcript, as_json=args.json)


def _add_fork_command(commands: Any) -> None:
    command = commands.add_parser(
        "fork",
        help="continue a saved session from iteration K, headless: a new session",
        description="Start a new session from the state after iteration K of TRANSCRIPT: the "
        "REPL is rebuilt by running the recorded cells of iterations 1..K again, each sub-call "
        "answered from its recorded response (no model call, no cost; a cell whose output "
        "differs is flagged), then the root model goes on with the conversation up to K and "
        "your note. The original transcript is not touched; the fork's names it and K. "
        "Models, budgets and context filters are the original's unless a flag says otherwise. "
        "Exit codes as for run; 2 also for a K past the transcript's iterations, or a file "
        "that is not an rlm-tui transcript.",
    )
    command.add_argument("file", metavar="TRANSCRIPT", help="a transcript written by rlm-tui")
    command.add_argument("--at", required=True, metavar="K",
                         help="fork after iteration K (T:K for iteration K of turn T)")
    command.add_argument("--note", metavar="TEXT", help="a note the root model reads first")
    command.add_argument("--query", "-q", action="append", metavar="Q",
                         help="ask this new question after K instead of going on with the "
                         "original one (repeat for follow-ups)")
    command.add_argument("--context", metavar="PATH", nargs="+",
                         help="load the context from PATH (default: where the original "
                         "session loaded it); for a session of several sources, one path "
                         "each, in their order")
    add_run_arguments(command)
    _add_headless_outputs(command)
    command.set_defaults(handler=run_fork_command)


def run_fork_command(args: argparse.Namespace) -> int:
    from rlm_tui.api import Fork
    from rlm_tui.forks import fork_sources, load_fork
    from rlm_tui.headless import run_headless

    gc.freeze()  # as for run: start-up's objects out of the collector's way
    gc.enable()
    loaded = load_fork(args.file, args.at)
    if loaded.plan.warning:
        print(f"rlm-tui: warning: {loaded.plan.warning}", file=sys.stderr)
    settings = settings_from_args(args, inherited=(loaded.settings,
                                                   f"the transcript {args.file}"))
    path = fork_sources(loaded.transcript.header, args.context)
    fork = Fork(loaded.plan, note=args.note, new_question=bool(args.query))
    return run_headless(path, args.query or [], settings, transcript=args.transcript,
                        as_json=args.json, fork=fork)


# What `rlm-tui X ...` may start with; anything else opens the app: `rlm-tui PATH [flags]`.
COMMAND_WORDS = ("run", "fork", "context", "replay", "watch", "export", "app", "eval", "mcp",
                 "serve", "-h", "--help", "--version")


def _add_app_command(commands: Any) -> None:
    command = commands.add_parser(
        "app",
        help="open the app on PATH (the default command: `rlm-tui PATH` is `rlm-tui app PATH`)",
        description="Open the terminal app on PATH: browse the context, run queries on it and "
        "watch and steer each run live. Takes the same flags as `run`; without --query it "
        "opens on the context and a query box. Exit codes: 0 quit, 2 bad usage, input or "
        "config.",
    )
    add_app_arguments(command)
    command.set_defaults(handler=run_app_command)


def run_app_command(args: argparse.Namespace) -> int:
    from rlm_tui.tui.launch import launch_app

    config = Path(args.config) if getattr(args, "config", None) else None
    return launch_app(one_or_several(args.path), args.query,
                      traced_if_asked(settings_from_args(args)), config_path=config)


def main(argv: list[str] | None = None) -> int:
    # Start-up makes ~70,000 objects that live as long as the process (modules, pydantic
    # schemas): the collector's passes over them as they are made are wasted work (~25 ms
    # of a headless run's ~0.5 s start). It is back on before any command's own work (the
    # headless run's after its imports).
    gc.disable()
    try:
        return _main(argv)
    finally:
        gc.enable()


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMAND_WORDS:
        argv = ["app", *argv]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return 2 if exc.code else 0
    handler = getattr(args, "handler", None)
    if handler not in (run_headless_command, run_fork_command):
        gc.enable()
    if handler is None:
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except RlmTuiError as exc:
        print(f"rlm-tui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rlm-tui: interrupted", file=sys.stderr)
        return 1
