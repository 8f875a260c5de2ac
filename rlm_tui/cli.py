"""Command line: argv -> settings -> a session wired to its subscribers.

Every error a user can cause ends as one line on stderr and an exit code (see errors.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
from typing import Any

from rlm_tui import __version__
from rlm_tui.errors import RlmTuiError, UsageError

# Skipped files listed per reason by `rlm-tui context`; --json lists them all.
SKIPPED_SHOWN_PER_REASON = 20


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`rlm-tui: ...`) and exit code 2, like every
    other error a user can cause; `--help` still shows the full usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.replace("rlm-tui", "").strip()
        hint = f"rlm-tui {command} --help" if command else "rlm-tui --help"
        self.exit(2, f"rlm-tui: {message} (see {hint})\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="rlm-tui",
        description="Run Recursive Language Models on a repository and watch the run live.",
    )
    parser.add_argument("--version", action="version", version=f"rlm-tui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run_command(commands)
    _add_fork_command(commands)
    _add_context_command(commands)
    _add_replay_command(commands)
    _add_watch_command(commands)
    _add_export_command(commands)
    _add_app_command(commands)
    _add_eval_command(commands)
    _add_mcp_command(commands)
    _add_serve_command(commands)
    return parser


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
    "cell_timeout", "include",
    "exclude", "include_secrets", "max_file_size", "max_total_size", "approve", "schema", "tools",
    "otel", "otel_content",
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


def _add_run_command(commands: Any) -> None:
    command = commands.add_parser(
        "run",
        help="answer a question about PATH headless: the answer on stdout",
        description="Run an RLM on PATH without the app. stdout: the final answer only (or "
        "JSON with --json); stderr: live progress on a terminal. Exit codes: 0 answered, "
        "1 stopped without an answer, 2 bad usage, input or config, 3 model or provider "
        "failure.",
    )
    command.add_argument("path", metavar="PATH", help="a directory, a file, or - for stdin")
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
    return run_headless(args.path, args.query, settings_from_args(args),
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
    command.add_argument("--context", metavar="PATH", help="load the context from PATH "
                         "(default: where the original session loaded it)")
    add_run_arguments(command)
    _add_headless_outputs(command)
    command.set_defaults(handler=run_fork_command)


def run_fork_command(args: argparse.Namespace) -> int:
    from rlm_tui.forks import fork_context, load_fork
    from rlm_tui.api import Fork
    from rlm_tui.headless import run_headless

    gc.freeze()  # as for run: start-up's objects out of the collector's way
    gc.enable()
    loaded = load_fork(args.file, args.at)
    if loaded.plan.warning:
        print(f"rlm-tui: warning: {loaded.plan.warning}", file=sys.stderr)
    settings = settings_from_args(args, inherited=(loaded.settings,
                                                   f"the transcript {args.file}"))
    path = fork_context(loaded.transcript.header, args.context)
    fork = Fork(loaded.plan, note=args.note, new_question=bool(args.query))
    return run_headless(path, args.query or [], settings, transcript=args.transcript,
                        as_json=args.json, fork=fork)


_SIZE = re.compile(r"(\d+)\s*([kmg]?)(?:i?b)?", re.IGNORECASE)


def byte_size(text: str) -> int:
    """A size in bytes: a plain number, or one with a K, M or G suffix (powers of 1024;
    "2M", "2MB" and "2MiB" all mean 2 MiB)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size in bytes: {text!r} (e.g. 2000000 or 2M)")
    number, unit = int(match.group(1)), match.group(2).lower()
    return number * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]


def _add_context_command(commands: Any) -> None:
    command = commands.add_parser(
        "context",
        help="show what a context would hold: sizes, tree, languages, skipped files",
        description="Load PATH (a directory, a file, or - for stdin) as a context and show "
        "what the model would be told about it, and which files were left out and why.",
    )
    command.add_argument("path", metavar="PATH", help="a directory, a file, or - for stdin")
    add_context_arguments(command)
    command.add_argument("--json", action="store_true", help="print JSON instead of text")
    command.set_defaults(handler=run_context_command)


def run_context_command(args: argparse.Namespace) -> int:
    """`rlm-tui context PATH`: load into a temporary pack, print its summary, clean up."""
    # Deferred: pathspec and the loader are not needed by other commands.
    from rlm_tui.context.loader import LoadOptions
    from rlm_tui.context.metadata import render_context_summary
    from rlm_tui.context.report import context_report
    from rlm_tui.printable import escape_json_controls, for_terminal, printable_name

    # As `run` and the app load it: the same flags, config file and environment.
    report = context_report(args.path, LoadOptions.from_settings(settings_from_args(args)))
    if args.json:
        print(escape_json_controls(json.dumps(report.to_dict(), indent=2, ensure_ascii=False)))
        return 0
    # On a terminal, each file name is one line, its control characters shown.
    name = printable_name if sys.stdout.isatty() else str
    print(for_terminal(render_context_summary(report.meta, names=name)))
    if report.skipped:
        print(f"\nSkipped files ({len(report.skipped):,}):")
        by_reason: dict[str, list[Any]] = {}
        for item in report.skipped:
            by_reason.setdefault(str(item.reason), []).append(item)
        for reason, items in by_reason.items():
            print(f"  {reason} ({len(items):,}):")
            for item in items[:SKIPPED_SHOWN_PER_REASON]:
                detail = f"  ({item.detail})" if item.detail else ""
                print(for_terminal(f"    {name(item.path)}{detail}"))
            if len(items) > SKIPPED_SHOWN_PER_REASON:
                hidden = len(items) - SKIPPED_SHOWN_PER_REASON
                print(f"    … and {hidden:,} more (--json lists all)")
    return 0


def _add_replay_command(commands: Any) -> None:
    command = commands.add_parser(
        "replay",
        help="step through a saved session (a transcript or an rlms log) in the app",
        description="Open the app on FILE, a transcript written by rlm-tui or a trajectory "
        "log written by the rlms library, and step through it with the keys of a live run: "
        "space plays and pauses (at the session's own pace, sped up; + and - change the "
        "speed), n shows the next iteration, p goes back one. A transcript cut short (a "
        "crash or kill) replays up to its last whole line and says where it stops. Exit "
        "codes: 0 quit, 2 a missing, unreadable or foreign file, or bad usage.",
    )
    command.add_argument("file", metavar="FILE", help="a transcript (.jsonl) or an rlms log")
    command.add_argument("--config", metavar="FILE", help="settings file (TOML), for the "
                         "theme; default: config.toml in the platform's config dir")
    command.set_defaults(handler=run_replay_command)


def run_replay_command(args: argparse.Namespace) -> int:
    from rlm_tui.tui.launch import launch_replay

    return launch_replay(args.file, settings_from_args(args))


def _add_watch_command(commands: Any) -> None:
    command = commands.add_parser(
        "watch",
        help="follow a run another process is running (a run, an eval task, an MCP call) "
        "in the app, and steer it",
        description="Open the app on TRANSCRIPT while another process still writes it, and "
        "follow it as it grows: the panes update as events arrive, and the end of the run "
        "is shown as such. --latest picks the newest transcript under the user data dir. "
        "The live app's keys steer the run over its control socket (a Unix socket of the "
        "session's own, only for the same user): space pauses or resumes, n steps one "
        "iteration, x halts, i sends a note. Quitting the watch changes nothing for the "
        "run. Exit codes: 0 quit, 2 a missing, unreadable or foreign file, or bad usage.",
    )
    command.add_argument("file", nargs="?", metavar="TRANSCRIPT",
                         help="a transcript (.jsonl) that a run is writing")
    command.add_argument("--latest", action="store_true",
                         help="the newest transcript under the user data dir")
    command.add_argument("--config", metavar="FILE", help="settings file (TOML), for the "
                         "theme; default: config.toml in the platform's config dir")
    command.set_defaults(handler=run_watch_command)


def run_watch_command(args: argparse.Namespace) -> int:
    from rlm_tui.tui.launch import launch_watch

    return launch_watch(args.file, settings_from_args(args), latest=args.latest)


def _add_export_command(commands: Any) -> None:
    from rlm_tui.transcript.export import EXPORT_FORMATS

    command = commands.add_parser(
        "export",
        help="write a transcript (or an rlms log) as Markdown, HTML, JSON or an rlms log",
        description="Render FILE, a transcript written by rlm-tui or a trajectory log written "
        "by the rlms library, as Markdown, one self-contained HTML page, one JSON document, "
        "or an rlms log that rlms' visualizer opens. Output goes to stdout, except HTML, "
        "which is written beside FILE (FILE's name with .html); --output chooses the file, "
        "and --output - stdout. A transcript cut short (a crash or kill) is exported up to "
        "its last whole line, with a note of where it stops. Exit codes: 0 written, 2 a "
        "missing, unreadable or foreign file.",
    )
    command.add_argument("file", metavar="FILE", help="a transcript (.jsonl) or an rlms log")
    command.add_argument("--format", "-f", choices=EXPORT_FORMATS, default="markdown",
                         help="markdown (default), html, json or rlm-log")
    command.add_argument("--output", "-o", metavar="OUT",
                         help="write here (- for stdout); default: stdout, or FILE.html "
                         "beside FILE for html")
    command.set_defaults(handler=run_export_command)


def run_export_command(args: argparse.Namespace) -> int:
    from rlm_tui.transcript.export import export_file

    try:
        export_file(args.file, args.format, args.output)
    except BrokenPipeError:  # `rlm-tui export ... | head`: the reader left, not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _add_eval_command(commands: Any) -> None:
    command = commands.add_parser(
        "eval",
        help="run many tasks (a tasks file or a built-in suite), score them, summarise",
        description="Run each task of TASKS.jsonl (one JSON object a line: id, query, "
        "context or context_text, expected, scorer) as its own session, score the answers, "
        "and write results.jsonl, a transcript per task, summary.md and summary.html to "
        "--out (default: evals/NAME-TIME/ in the user data dir). Run it again on the same "
        "--out to resume: finished tasks are skipped. --max-cost is the whole eval's: no "
        "task starts once it is reached. Exit codes: 0 every task ran (a wrong answer is a "
        "result), 1 some task could not run or was not started, 2 bad usage or tasks file, "
        "3 a provider failure before any task ran.",
    )
    command.add_argument("tasks", nargs="?", metavar="TASKS.jsonl", help="the tasks file")
    suite = command.add_argument_group("built-in suites (instead of a tasks file)")
    suite.add_argument("--suite", choices=("sniah", "oolong", "pairs"),
                       help="generate tasks with known answers")
    suite.add_argument("--size", type=byte_size, metavar="CHARS",
                       help="characters of context per task (100000)")
    suite.add_argument("--n", type=int, metavar="N", help="how many tasks (8)")
    suite.add_argument("--seed", type=int, metavar="S", help="the generator's seed (0)")
    add_run_arguments(command)
    evals = command.add_argument_group("eval")
    evals.add_argument("--out", metavar="DIR", help="the eval's directory (resumes one)")
    evals.add_argument("--workers", type=int, default=4, metavar="N",
                       help="tasks at once, each with its own sandbox worker (4)")
    evals.add_argument("--baseline", action="store_true", help="also ask the root model "
                       "once per task with the whole context in its prompt (cut to its "
                       "window)")
    evals.add_argument("--baseline-window", type=int, metavar="TOKENS",
                       help="the root model's window for the baseline (default: from "
                       "litellm's price map, else 128000)")
    evals.add_argument("--json", action="store_true", help="print one JSON summary object")
    evals.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="run each task as a Ray task: on a local Ray, or on the cluster "
                       "at ADDRESS (auto, ray://host:10001); needs rlm-tui[ray]")
    evals.add_argument("--ray-ship-max", type=byte_size, default=64 << 20, metavar="BYTES",
                       help="contexts up to this size travel through Ray's object store, "
                       "larger ones by path on a shared file system (64M)")
    command.set_defaults(handler=run_eval_command)


def run_eval_command(args: argparse.Namespace) -> int:
    from rlm_tui.eval.command import run_eval

    return run_eval(args, _traced_if_asked(settings_from_args(args)))


def _add_mcp_command(commands: Any) -> None:
    command = commands.add_parser(
        "mcp",
        help="serve RLM answers to an MCP client (a coding agent) over stdio",
        description="Run a Model Context Protocol server on stdin/stdout with two tools: "
        "rlm_ask (a question over paths, answered by an RLM session of its own, with its "
        "cost, progress notifications, and a halt when the client cancels) and rlm_context "
        "(what the model would be told about paths, and what is skipped and why). Models, "
        "servers, budgets and limits are this command's flags and config: a client may pick "
        "one of the configured models and lower a budget, never raise one or choose an API "
        "base. Paths outside the allowed roots (--allow; default: the current directory) "
        "are refused, symlinks resolved first. Needs rlm-tui[mcp]. Exit codes: 0 the client "
        "closed the connection, 2 bad usage, config or --allow, 3 a model that cannot be "
        "used (no key, an unknown provider).",
    )
    command.add_argument("--allow", action="append", metavar="DIR",
                         help="a directory whose files clients may ask about (repeatable; "
                         "default: the current directory)")
    add_run_arguments(command)
    command.set_defaults(handler=run_mcp_command)


def run_mcp_command(args: argparse.Namespace) -> int:
    import contextlib

    # stdout is the protocol's: nothing said while starting may land there.
    with contextlib.redirect_stdout(sys.stderr):
        try:  # the `mcp` extra: pip install 'rlm-tui[mcp]'
            from rlm_tui.mcp.server import serve
        except ModuleNotFoundError as exc:
            if exc.name is None or not exc.name.startswith("mcp"):
                raise
            raise UsageError("rlm-tui mcp needs the mcp extra: pip install "
                             "'rlm-tui[mcp]'") from None
        from rlm_tui.engine.workspace import check_models

        settings = settings_from_args(args)
        check_models(settings)  # no model, no key: one line now, not at every call
    return serve(settings, args.allow or ())


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
    _add_app_arguments(command)
    command.set_defaults(handler=run_app_command)


def _add_app_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", nargs="?", default=".", metavar="PATH",
                         help="a directory, a file, or - for stdin (default: .)")
    command.add_argument("--query", "-q", metavar="Q", help="start this query at once")
    add_run_arguments(command)
    command.add_argument("--approve", choices=("none", "cells", "final"),
                         help="hold cells for your approval before they run: every cell, or "
                         "the cells that end the run (FINAL); a to run, c to edit, s to skip "
                         "(default: none)")


def _add_serve_command(commands: Any) -> None:
    from rlm_tui.tui.serve import add_serve_command  # stdlib only; textual-serve when run

    add_serve_command(commands, _add_app_arguments,
                      lambda args: _traced_if_asked(settings_from_args(args)))


def run_app_command(args: argparse.Namespace) -> int:
    from rlm_tui.tui.launch import launch_app

    return launch_app(args.path, args.query, _traced_if_asked(settings_from_args(args)))


def _traced_if_asked(settings: Any) -> Any:
    """--otel without the extra: one line before the app or the eval starts anything (a
    headless run's Session says it as it opens)."""
    if settings.otel or settings.otel_content:
        from rlm_tui.telemetry import check_available

        check_available()
    return settings


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
