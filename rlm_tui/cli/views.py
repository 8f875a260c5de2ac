"""The commands that show a context or a session, saved or live: `context`, `replay`,
`watch`, `export`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rlm_tui.cli.flags import add_context_arguments, one_or_several, settings_from_args

# Skipped files listed per reason by `rlm-tui context`; --json lists them all.
SKIPPED_SHOWN_PER_REASON = 20


def add_context_command(commands: Any) -> None:
    command = commands.add_parser(
        "context",
        help="show what a context would hold: sizes, tree, languages, skipped files",
        description="Load PATH (a directory, a file, or - for stdin) as a context and show "
        "what the model would be told about it, and which files were left out and why. "
        "Several paths: one source each, as `run` loads them.",
    )
    command.add_argument("path", metavar="PATH", nargs="+",
                         help="a directory, a file, or - for stdin (several: one source each)")
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
    report = context_report(one_or_several(args.path),
                            LoadOptions.from_settings(settings_from_args(args)))
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


def add_replay_command(commands: Any) -> None:
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


def add_watch_command(commands: Any) -> None:
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


def add_export_command(commands: Any) -> None:
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
