"""`rlm-tui serve`'s server: the app in a browser, through textual-serve.

Each browser connection runs `rlm-tui app ...` with the flags `serve` was given, as a
subprocess behind textual-serve's web driver: every pane, key and dialog is the terminal
app's own. The page, its files and its websocket all need the secret token in the URL the
command prints (as Jupyter does: other users of the machine reach 127.0.0.1 too); the page
opened with it keeps it in a cookie of this port's, so the websocket and the files need no
URL of their own. Each app runs from an argument list (no shell) in a process group of its
own, so that Ctrl+C reaches serve alone, which then stops every app and its sandbox worker.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
import re
import secrets
import shlex
import signal
import socket
import sys
from typing import Any

from rlm_tui.errors import UsageError

# textual-serve's page asks Google for a font: not from a machine that may be offline (the
# page would wait on it), and not telling anyone who opens the app.
_WEB_FONT = re.compile(r'\s*<link\s+rel="stylesheet"\s+href="https://fonts\.googleapis[^>]*>')
# How long an app has to quit when asked (serve stopping, its tab closed) before it and its
# process group are terminated.
QUIT_GRACE_S = 5.0


def serve(argv: list[str], listener: socket.socket) -> None:
    """Serve the app `argv` runs on `listener`, behind a new secret token, until Ctrl+C."""
    TokenServer(argv, listener, token=secrets.token_urlsafe(32)).serve()


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
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, to_int

    class _AppProcess(AppService):  # type: ignore[misc]
        """One tab's app: run from its argument list, without a shell, in a process group
        of its own (Ctrl+C on serve's terminal reaches serve, not it)."""

        argv: list[str] = []

        async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
            environment = self._build_environment(width=width, height=height)
            self._process = process = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=environment, start_new_session=True)
            self._stdin = process.stdin
            return process

        async def stop(self) -> None:
            """Ask the app to quit; past QUIT_GRACE_S, end its process group (the app and
            its sandbox worker)."""
            try:
                await asyncio.wait_for(super().stop(), QUIT_GRACE_S)
            except (asyncio.TimeoutError, ConnectionError, RuntimeError):
                pass
            process = self._process
            if process is None or process.returncode is not None:
                return
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                    await asyncio.wait_for(process.wait(), QUIT_GRACE_S)
                    return
                except ProcessLookupError:
                    return
                except asyncio.TimeoutError:
                    continue

    class _TokenServer(Server):  # type: ignore[misc]
        """textual-serve's Server behind a token: every path (the page, its files, the
        websocket, downloads) answers 403 without it. The URL's `?token=` is checked with
        a constant-time compare; the page it opens sets a cookie for the rest."""

        def __init__(self, argv: list[str], listener: socket.socket, *, token: str) -> None:
            host, port = listener.getsockname()[:2]
            super().__init__(shlex.join(argv), host=host, port=port, title="rlm-tui")
            self.argv = argv
            self.listener = listener
            self.token = token
            self.cookie = f"rlm-tui-serve-{port}"  # one per port: two servers, two cookies
            self.apps: set[_AppProcess] = set()

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
                "font_size": to_int(request.query.get("fontsize", "16"), 16),
                "app_websocket_url": f"ws://{request.host}/ws",
                "config": {"static": {"url": "/static/"}},
                "application": {"name": self.title},
            }
            response = aiohttp_jinja2.render_template("app_index.html", request, context)
            assert response.text is not None
            response.text = _WEB_FONT.sub("", response.text)
            return response

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            """textual-serve's, with the app run as _AppProcess and known to the server
            (which stops every one when it stops)."""
            websocket = web.WebSocketResponse(heartbeat=15)
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            app = _AppProcess(self.command, write_bytes=websocket.send_bytes,
                              write_str=websocket.send_str, close=websocket.close,
                              download_manager=self.download_manager)
            app.argv = self.argv
            self.apps.add(app)
            try:
                await websocket.prepare(request)
                await app.start(width, height)
                await self._process_messages(websocket, app)
            except asyncio.CancelledError:
                await websocket.close()
            except Exception as error:  # a tab's failure is logged, not serve's end
                print(f"rlm-tui serve: a tab's app failed: {error}", file=sys.stderr)
            finally:
                self.apps.discard(app)
                await app.stop()
            return websocket

        def initialize_logging(self) -> None:
            import logging

            logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                                format="rlm-tui serve: %(message)s")

        async def on_startup(self, app: web.Application) -> None:
            print(f"rlm-tui serve: the app on {self.url}", flush=True)
            print("rlm-tui serve: Ctrl+C stops it", file=sys.stderr, flush=True)

        async def on_shutdown(self, app: web.Application) -> None:
            await asyncio.gather(*(one.stop() for one in list(self.apps)),
                                 return_exceptions=True)

        def serve(self, debug: bool = False) -> None:
            self.initialize_logging()
            web.run_app(self._make_app(), sock=self.listener, print=None,
                        access_log=None, shutdown_timeout=QUIT_GRACE_S * 3)

    return _TokenServer


def TokenServer(argv: list[str], listener: socket.socket, *, token: str) -> Any:  # noqa: N802
    """The server of the app `argv` runs, on `listener`, behind `token`."""
    return _token_server_class()(argv, listener, token=token)
