"""`rlm-tui serve`: the app in a browser, through textual-serve.

Each browser connection runs `rlm-tui app ...` with the flags `serve` was given, as a
subprocess behind textual-serve's web driver: every pane, key and dialog is the terminal
app's own. The page, its files and its websocket all need the secret token in the URL the
command prints (as Jupyter does: other users of the machine reach 127.0.0.1 too); the page
opened with it keeps it in a cookie of this port's, so the websocket and the files need no
URL of their own.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import re
import secrets
import shlex
import socket
import sys
from collections.abc import Callable
from typing import Any

from rlm_tui.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Not passed on to each connection's app: they are serve's own.
SERVE_FLAGS = ("host", "port")
# textual-serve's page asks Google for a font: not from a machine that may be offline (the
# page would wait on it), and not telling anyone who opens the app.
_WEB_FONT = re.compile(r'\s*<link\s+rel="stylesheet"\s+href="https://fonts\.googleapis[^>]*>')


def add_serve_command(commands: Any, add_app_arguments: Callable[[Any], None],
                      settings_from_args: Callable[[argparse.Namespace], Any]) -> None:
    """The `serve` subcommand: the app's own arguments (added by `add_app_arguments`, so the
    two never drift apart) and --host, --port. `settings_from_args` is the CLI's loader."""
    command = commands.add_parser(
        "serve",
        help="the app in a browser: serve it on 127.0.0.1 behind a secret URL",
        description="Serve the app over HTTP for a browser (through textual-serve): each "
        "browser tab runs the app on PATH with these flags, as `rlm-tui PATH [flags]` would "
        "in a terminal, with every pane, key and dialog. The URL printed carries a secret "
        "token: without it, no page and no app. Binds 127.0.0.1 unless --host says "
        "otherwise. Exit codes: 0 stopped (Ctrl+C), 2 bad usage, input, config, or a port "
        "in use.",
    )
    add_app_arguments(command)
    web = command.add_argument_group("serving")
    web.add_argument("--host", default=DEFAULT_HOST, metavar="H",
                     help=f"address to listen on ({DEFAULT_HOST}: this machine only)")
    web.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                     help=f"port to listen on ({DEFAULT_PORT}; 0 picks a free one)")
    command.set_defaults(handler=lambda args: run_serve_command(
        args, command, settings_from_args(args)))


def run_serve_command(args: argparse.Namespace, parser: argparse.ArgumentParser,
                      settings: Any) -> int:
    """Check the app's inputs and the port (one line and exit 2 for either), then serve
    until Ctrl+C."""
    from rlm_tui.tui.launch import STDIN, check_inputs

    if args.path == STDIN:
        raise UsageError("serve: PATH cannot be - (each browser tab runs the app anew, and "
                         "stdin is read once); save the text to a file")
    check_inputs(args.path, settings)
    listener = bind(args.host, args.port)
    command = shlex.join([sys.executable, "-m", "rlm_tui", "app", *app_argv(parser, args)])
    server = TokenServer(command, listener, token=secrets.token_urlsafe(32))
    if not is_loopback(args.host):
        print(f"rlm-tui serve: warning: listening on {args.host}: anyone who reaches port "
              f"{server.port} with the URL can drive a run that spends money",
              file=sys.stderr)
    server.serve()
    return 0


def app_argv(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The app's command line that gives it the settings `args` holds (serve's own flags
    left out): each set option as `--flag=value`, so no value is read as a flag, and the
    positional arguments after `--`."""
    options: list[str] = []
    positional: list[str] = []
    for action in parser._actions:  # argparse keeps no public list of them
        value = getattr(args, action.dest, None)
        if action.dest in SERVE_FLAGS or value is None or action.dest == "handler":
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


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or UsageError (a port in use, a host that is not
    this machine's) before anything is served."""
    if not 0 <= port <= 65535:
        raise UsageError(f"serve: --port {port}: not a port (0 to 65535)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise UsageError(f"serve: --host {host}: {exc.strerror}") from None
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError as exc:
        listener.close()
        raise UsageError(f"serve: cannot listen on {host} port {port}: "
                         f"{exc.strerror or exc}") from None
    listener.setblocking(False)
    return listener


def _token_server_class() -> type:
    """TokenServer, made on first use: textual-serve (aiohttp, jinja2) is imported only by
    `rlm-tui serve`."""
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server

    class _TokenServer(Server):  # type: ignore[misc]
        """textual-serve's Server behind a token: every path (the page, its files, the
        websocket, downloads) answers 403 without it. The URL's `?token=` is checked with
        a constant-time compare; the page it opens sets a cookie for the rest."""

        def __init__(self, command: str, listener: socket.socket, *, token: str) -> None:
            host, port = listener.getsockname()[:2]
            super().__init__(command, host=host, port=port, title="rlm-tui")
            self.listener = listener
            self.token = token
            self.cookie = f"rlm-tui-serve-{port}"  # one per port: two servers, two cookies

        @property
        def url(self) -> str:
            host = self.host
            if host in ("0.0.0.0", "::"):
                host = socket.gethostname()
            elif ":" in host:
                host = f"[{host}]"
            return f"http://{host}:{self.port}/?token={self.token}"

        def _allowed(self, request: web.Request) -> bool:
            given = request.query.get("token") or request.cookies.get(self.cookie) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return False
            # A page of another site cannot open the websocket with this browser's cookie.
            origin = request.headers.get("Origin")
            return origin is None or origin == f"{request.scheme}://{request.host}"

        @web.middleware
        async def require_token(self, request: web.Request, handler: Any) -> Any:
            if not self._allowed(request):
                raise web.HTTPForbidden(text="rlm-tui serve: open the URL the command "
                                        "printed (with its ?token=)\n")
            response = await handler(request)
            if request.query.get("token") and isinstance(response, web.Response):
                response.set_cookie(self.cookie, self.token, httponly=True,
                                    samesite="Strict", path="/")
            if isinstance(response, web.Response):
                response.headers["Referrer-Policy"] = "no-referrer"
            return response

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.insert(0, self.require_token)
            return app

        async def handle_index(self, request: web.Request) -> web.Response:
            """textual-serve's page, its URLs this request's host (so that a page reached
            by any of the machine's names works), without the web font."""
            context = {
                "font_size": 16,
                "app_websocket_url": f"ws://{request.host}/ws",
                "config": {"static": {"url": "/static/"}},
                "application": {"name": self.title},
            }
            response = aiohttp_jinja2.render_template("app_index.html", request, context)
            assert response.text is not None
            response.text = _WEB_FONT.sub("", response.text)
            return response

        def initialize_logging(self) -> None:
            import logging

            logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                                format="rlm-tui serve: %(message)s")

        async def on_startup(self, app: web.Application) -> None:
            print(f"rlm-tui serve: the app on {self.url}", flush=True)
            print("rlm-tui serve: Ctrl+C stops it", file=sys.stderr, flush=True)

        def serve(self, debug: bool = False) -> None:
            self.initialize_logging()
            web.run_app(self._make_app(), sock=self.listener, print=None,
                        access_log=None)

    return _TokenServer


def TokenServer(command: str, listener: socket.socket, *, token: str) -> Any:  # noqa: N802
    """The server of `command` on `listener`, behind `token` (see _token_server_class)."""
    return _token_server_class()(command, listener, token=token)
