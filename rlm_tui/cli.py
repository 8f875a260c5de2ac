"""Command line: argv -> settings -> a session wired to its subscribers.

Every error a user can cause ends as one line on stderr and an exit code (see errors.py).
"""

from __future__ import annotations

import argparse
import sys

from rlm_tui import __version__
from rlm_tui.errors import RlmTuiError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlm-tui",
        description="Run Recursive Language Models on a repository and watch the run live.",
    )
    parser.add_argument("--version", action="version", version=f"rlm-tui {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return 2 if exc.code else 0
    handler = getattr(args, "handler", None)
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
