"""Opening the app from the command line: the checks that must fail before it opens (with
the same one-line errors as `rlm-tui run`), stdin handling, and the exit code."""

from __future__ import annotations

import io
import os
import sys

from rlm_tui.config import Settings
from rlm_tui.errors import InputError

STDIN = "-"


def check_source(path: str) -> None:
    """InputError, worded as the loader words it, for a path that does not exist or cannot be
    looked at; the rest (empty directory, nothing loadable) is found while loading."""
    try:
        os.stat(os.path.expanduser(path))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None


def read_piped_stdin(limit: int) -> io.BytesIO:
    """Take the piped text now (up to `limit` + 1 bytes, so the loader can say it is too
    big), then give the app the terminal to read keys from."""
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("stdin is a terminal; pipe text into it: cat notes | rlm-tui ... -")
    data = sys.stdin.buffer.read(limit + 1)
    try:
        terminal = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        raise InputError("no terminal to run the app in: use `rlm-tui run - --query ...` "
                         "for piped text without a terminal") from None
    os.dup2(terminal, 0)
    os.close(terminal)
    return io.BytesIO(data)


def launch_app(path: str, query: str | None, settings: Settings) -> int:
    """Run the app on `path` until the user quits; returns the exit code (2 when the context
    could not be loaded, after printing why)."""
    stdin = read_piped_stdin(settings.max_total_size) if path == STDIN else None
    if stdin is None:
        check_source(path)
    from rlm_tui.tui.app import RlmApp  # deferred: Textual is only needed from here on

    app = RlmApp(path, settings, query=query, stdin=stdin)
    app.run()
    if app.exit_error:
        print(f"rlm-tui: {app.exit_error}", file=sys.stderr)
    return app.return_code or 0


def launch_replay(path: str, settings: Settings) -> int:
    """Open the app on a saved session (a transcript or an rlms log) until the user quits.
    InputError, before the app opens, for a missing, unreadable or foreign file."""
    from rlm_tui.transcript import read_transcript

    transcript = read_transcript(path)
    from rlm_tui.tui.replay_app import ReplayApp  # deferred: Textual only from here on

    app = ReplayApp(transcript, settings)
    app.run()
    return app.return_code or 0
