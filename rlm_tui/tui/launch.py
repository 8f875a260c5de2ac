"""Opening the app from the command line: the checks that must fail before it opens (with
the same one-line errors as `rlm-tui run`), stdin handling, and the exit code."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlm_tui.config import Settings
from rlm_tui.errors import InputError, UsageError

if TYPE_CHECKING:
    from rlm_tui.tui.forking import ForkRequest

STDIN = "-"


def check_terminal(*, piped_stdin: bool = False, instead: str) -> None:
    """UsageError unless the app has a terminal to draw on (stdout) and to read keys from
    (stdin, or with text piped into stdin, the process's own terminal: see read_piped_stdin).
    Without one, Textual would write escape codes into a file and never end. `instead`: the
    command that works without a terminal."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return  # a driver of its own (textual-serve's, over pipes): not a terminal's
    stdin_ok = piped_stdin or _is_terminal(sys.stdin)
    if not (stdin_ok and _is_terminal(sys.stdout)):
        raise UsageError("the app needs a terminal (stdin and stdout); "
                         f"use '{instead}' for scripts")


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no stream, or a closed one
        return False


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


def load_tools(settings: Settings) -> Any:
    """The tools file the settings name, loaded before the app starts: a broken one is one
    line on the terminal (InputError), not a screen."""
    if not settings.tools:
        return None
    from rlm_tui.engine.tools import ToolSet  # deferred: only a run with tools needs it

    return ToolSet.from_file(settings.tools)


def check_inputs(paths: list[str], settings: Settings) -> Any:
    """InputError for a path that is not there, a broken schema or tools file: one line,
    before the app opens (or `rlm-tui serve` serves it). Returns the loaded tools."""
    for one in paths:
        if one != STDIN:
            check_source(one)  # a wrong path is the more useful thing to hear about
    if settings.schema:  # a broken schema file: one line, before the app opens
        from rlm_tui.engine.answer_schema import AnswerSchema

        AnswerSchema.from_file(settings.schema)
    return load_tools(settings)  # and so is a broken tools file


def launch_app(path: str | list[str], query: str | None, settings: Settings,
               config_path: Path | None = None) -> int:
    """Run the app on `path` (or several paths: one source each) until the user quits;
    returns the exit code (2 when the context could not be loaded, after printing why).
    InputError for a path that is not there, UsageError without a terminal, both before
    anything is loaded. `config_path`: --config, where a model chosen in the app is saved
    (else the default config file)."""
    paths = [path] if isinstance(path, str) else list(path)
    tools = check_inputs(paths, settings)
    piped = STDIN in paths
    check_terminal(piped_stdin=piped, instead="rlm-tui run PATH --query Q")
    stdin = read_piped_stdin(settings.max_total_size) if piped else None
    from rlm_tui.tui.app import RlmApp  # deferred: Textual is only needed from here on

    app = RlmApp(path, settings, query=query, stdin=stdin, tools=tools)
    app.config_path = config_path
    app.run()
    if app.exit_error:
        print(f"rlm-tui: {app.exit_error}", file=sys.stderr)
    return app.return_code or 0


def launch_replay(path: str, settings: Settings) -> int:
    """Open the app on a saved session (a transcript or an rlms log) until the user quits,
    or asks to fork it (f): then the live app opens on the context the session ran over,
    forking it. InputError, before the app opens, for a missing, unreadable or foreign file
    (after it, for a context that is no longer there); UsageError without a terminal."""
    from rlm_tui.transcript import read_transcript

    transcript = read_transcript(path)  # first: a bad file is the more useful thing to hear
    check_terminal(instead="rlm-tui export FILE")
    from rlm_tui.tui.replay_app import ReplayApp  # deferred: Textual only from here on

    app = ReplayApp(transcript, settings)
    app.run()
    if app.fork_request is None:
        return app.return_code or 0
    return launch_fork(app.fork_request, transcript.header, settings)


def launch_watch(path: str | None, settings: Settings, *, latest: bool = False) -> int:
    """Open the app on a transcript another process is writing (`path`, or with `latest`
    the newest under the user data dir) and follow it until the user quits. InputError,
    before the app opens, for a missing, unreadable or foreign file; UsageError without a
    terminal, or for both a file and --latest, or neither."""
    from rlm_tui.transcript.follow import TranscriptFollower
    from rlm_tui.transcript.writer import latest_transcript

    if (path is None) == (not latest):
        raise UsageError("watch: give a TRANSCRIPT or --latest (not both)" if path else
                         "watch: give a TRANSCRIPT, or --latest for the newest run's")
    follower = TranscriptFollower.open(path if path is not None else latest_transcript())
    try:
        check_terminal(instead="rlm-tui export FILE")
        from rlm_tui.tui.watch_app import WatchApp  # deferred: Textual only from here on

        app = WatchApp(follower, settings)
        app.run()
    finally:
        follower.close()
    if app.fork_request is None:
        return app.return_code or 0
    return launch_fork(app.fork_request, follower.transcript.header, settings)


def launch_fork(request: ForkRequest, header: dict[str, Any], settings: Settings) -> int:
    """The live app on the context a transcript's session ran over, starting `request`
    with the parent's models, budgets and filters (rlm_tui/forks.py) under the dialog's
    models. InputError when the context cannot be loaded again."""
    from rlm_tui.forks import INHERITED_SETTINGS, fork_sources

    source = fork_sources(header, None)
    for one in [source] if isinstance(source, str) else source:
        check_source(one if isinstance(one, str) else str(one.path))
    recorded = header.get("settings") or {}
    inherited = {k: recorded[k] for k in INHERITED_SETTINGS if k in recorded}
    try:
        settings = Settings.model_validate({**settings.model_dump(), **inherited})
    except ValueError:  # a transcript from an older version: the config's own settings
        pass
    from rlm_tui.tui.app import RlmApp

    app = RlmApp(source, settings, fork=request)
    app.run()
    if app.exit_error:
        print(f"rlm-tui: {app.exit_error}", file=sys.stderr)
    return app.return_code or 0
