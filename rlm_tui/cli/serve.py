"""`rlm-tui serve`: the app in a browser. Its flags are the app's own (so the two never drift
apart) and --host, --port; each browser tab runs `rlm-tui app` with the flags given here
(rlm_tui/tui/serve.py holds the server)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rlm_tui.cli.flags import add_app_arguments, settings_from_args, traced_if_asked
from rlm_tui.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# serve's own flags: not passed on to each tab's app.
SERVE_FLAGS = ("host", "port", "handler", "command")


def add_serve_command(commands: Any) -> None:
    command = commands.add_parser(
        "serve",
        help="the app in a browser: served on 127.0.0.1 behind a secret URL",
        description="Serve the app over HTTP for a browser (through textual-serve): each "
        "browser tab runs the app on PATH with these flags, as `rlm-tui PATH [flags]` would "
        "in a terminal, with every pane, key and dialog. The URL printed carries a secret "
        "token: without it, no page and no app. Binds 127.0.0.1 unless --host says "
        "otherwise. API keys reach each tab's app through the environment, never its "
        "command line. Exit codes: 0 stopped (Ctrl+C), 2 bad usage, input, config, or a "
        "port in use.",
    )
    add_app_arguments(command)
    web = command.add_argument_group("serving")
    web.add_argument("--host", default=DEFAULT_HOST, metavar="H",
                     help=f"address to listen on ({DEFAULT_HOST}: this machine only)")
    web.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                     help=f"port to listen on ({DEFAULT_PORT}; 0 picks a free one)")
    command.set_defaults(handler=lambda args: run_serve_command(args, command))


def run_serve_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Check the app's inputs and the port (one line and exit 2 for either), then serve
    until Ctrl+C."""
    from rlm_tui.tui.launch import STDIN, check_inputs
    from rlm_tui.tui.serve import bind, is_loopback, serve

    if STDIN in args.path:
        raise UsageError("serve: PATH cannot be - (each browser tab runs the app anew, and "
                         "stdin is read once); save the text to a file")
    settings = traced_if_asked(settings_from_args(args))
    check_inputs(list(args.path), settings)
    listener = bind(args.host, args.port)
    if not is_loopback(args.host):
        port = listener.getsockname()[1]
        print(f"rlm-tui serve: warning: listening on {args.host}: anyone who reaches port "
              f"{port} with the URL can drive a run that spends money", file=sys.stderr)
    argv = [sys.executable, "-m", "rlm_tui", "app", *app_argv(parser, args)]
    serve(argv, listener)
    return 0


def app_argv(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The app's arguments that give it the settings `args` holds (serve's own flags left
    out): each set option as `--flag=value`, so that no value is read as a flag, and the
    paths after `--`. The list is run as it is (no shell)."""
    options: list[str] = []
    positional: list[str] = []
    for action in parser._actions:  # argparse keeps no public list of them
        value = getattr(args, action.dest, None)
        if action.dest in SERVE_FLAGS or value is None or not action.dest:
            continue
        if not action.option_strings:
            positional.extend(value if isinstance(value, list) else [value])
            continue
        flag = max(action.option_strings, key=len)
        if action.nargs == 0:  # store_true
            if value is True:
                options.append(flag)
        elif isinstance(value, list):  # append
            options.extend(f"{flag}={item}" for item in value)
        else:
            options.append(f"{flag}={value}")
    return [*options, "--", *map(str, positional)]
