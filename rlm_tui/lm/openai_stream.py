"""A lean streaming client for OpenAI's Chat Completions wire format, over aiohttp.

litellm spends ~10 ms of CPU on each call (its logging and cost machinery, deep copies, the
OpenAI SDK's pydantic model for every chunk). For models that need nothing but a base URL
and a key (routes.py decides which), this module makes the same request itself: one POST
with `stream: true`, the server-sent events parsed as bytes, one connection pool per event
loop. It reports failures as `AttemptFailed`, classified as litellm's would be.

aiohttp is imported on first use (~0.2 s), off the event loop (see `load_aiohttp`).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rlm_tui.lm.completion import ReportedTokens, reported_tokens
from rlm_tui.lm.errors import one_line, scrub_secrets
from rlm_tui.lm.failures import (
    CONNECTION_CUT,
    NO_FINISH_REASON,
    AttemptFailed,
    Failure,
    classify_http_error,
    classify_stream_error,
)

if TYPE_CHECKING:
    import aiohttp as aiohttp_types

DONE = b"[DONE]"
# The engine bounds concurrency itself (max_concurrency is at most 1024); the pool must never
# be what makes calls wait.
MAX_CONNECTIONS = 2048
_ERROR_BODY_LIMIT = 64 * 1024
# After [DONE] only the end of the chunked body is left; reading it lets the connection be
# reused, but a server that never ends the body must not hold a finished answer back.
_DRAIN_TIMEOUT_S = 1.0

_aiohttp: ModuleType | None = None


def load_aiohttp() -> ModuleType:
    """Import aiohttp (first call only); cheap once litellm, which uses it, is loaded."""
    global _aiohttp
    if _aiohttp is None:
        import aiohttp

        _aiohttp = aiohttp
    return _aiohttp


class SSEDecoder:
    """Server-sent events from bytes as they arrive.

    `feed(data)` returns the data of each event that `data` completes, in order (an event's
    `data:` lines joined by newlines); `end()` returns what is left when the body ends.
    Comments, other fields (`event:`, `id:`, `retry:`) and blank keep-alives carry nothing
    here and are skipped. Lines end in LF or CRLF (a lone CR is not a line end here).
    """

    __slots__ = ("_data", "_partial")

    def __init__(self) -> None:
        self._partial = b""
        self._data: list[bytes] = []

    def feed(self, data: bytes) -> list[bytes]:
        if self._partial:
            data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        events: list[bytes] = []
        for line in lines:
            self._line(line, events)
        return events

    def end(self) -> list[bytes]:
        """The events still open when the body ends (a last one without its blank line)."""
        events: list[bytes] = []
        if self._partial:
            self._line(self._partial, events)
            self._partial = b""
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[bytes]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            if self._data:
                events.append(self._data[0] if len(self._data) == 1 else b"\n".join(self._data))
                self._data = []
        elif line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)


@dataclass(frozen=True)
class ChatRequest:
    """One streamed chat completion request, ready to send (and to send again on retry)."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout: float  # seconds for the connection, the first byte, and between bytes


@dataclass(frozen=True)
class StreamedReply:
    """What the server sent: the text, its finish reason, the model it named, and
    the tokens it reported, if it reported usage."""

    text: str
    finish_reason: str
    model: str | None
    tokens: ReportedTokens | None


def encode_request_body(model: str, messages: Any, params: Mapping[str, Any]) -> bytes:
    """The JSON body: `params`, then the model, messages and a stream that reports usage."""
    body = {**params, "model": model, "messages": messages, "stream": True,
            "stream_options": {"include_usage": True}}
    return json.dumps(body).encode()


@dataclass
class _HeldSession:
    session: aiohttp_types.ClientSession
    closer: AsyncGenerator[None, None]  # closes the session when its loop shuts down


class OpenAIStreamClient:
    """Streams chat completions from OpenAI-compatible servers.

    Holds one `aiohttp.ClientSession` (one connection pool) per event loop, created on the
    loop's first call. Each closes when its loop shuts down (`asyncio.run` and pytest-asyncio
    finalise async generators then, and one of those holds the session), or at `aclose()`.
    """

    def __init__(self) -> None:
        self._sessions: dict[asyncio.AbstractEventLoop, _HeldSession] = {}
        self._timeouts: dict[float, aiohttp_types.ClientTimeout] = {}
        self._targets: dict[str, tuple[Any, Any, Any]] = {}  # url: (URL, proxy, proxy auth)

    async def stream(self, request: ChatRequest,
                     on_delta: Callable[[str], None] | None) -> StreamedReply:
        """Send `request` and read its stream to the end.

        Raises `AttemptFailed` for anything the server or the network did wrong. An exception
        from `on_delta`, or cancellation, propagates as it is; the connection is then closed
        at once, so the server sees the client go.
        """
        aiohttp = load_aiohttp()
        session = await self._session(aiohttp)
        try:
            url, proxy, proxy_auth = self._targets.get(request.url) or await self._target(
                aiohttp, request.url)
            response = await session.post(url, data=request.body, headers=request.headers,
                                          proxy=proxy, proxy_auth=proxy_auth,
                                          allow_redirects=False,
                                          timeout=self._timeout(aiohttp, request.timeout))
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise AttemptFailed(_transport_failure(aiohttp, exc, responded=False)) from None
        reusable = False
        try:
            if response.status != 200:
                body = await _read_error_body(aiohttp, response)
                reusable = response.content.at_eof()  # a 429 storm keeps its connections
                raise AttemptFailed(classify_http_error(response.status, body, response.headers))
            reply, reusable = await _read_stream(aiohttp, response.content, on_delta)
            return reply
        finally:
            if reusable:
                response.release()
            else:
                response.close()

    async def aclose(self) -> None:
        """Close the running loop's session and its connections. Idempotent."""
        held = self._sessions.pop(asyncio.get_running_loop(), None)
        if held is not None:
            await held.closer.aclose()

    async def _session(self, aiohttp: ModuleType) -> aiohttp_types.ClientSession:
        loop = asyncio.get_running_loop()
        held = self._sessions.get(loop)
        if held is not None and not held.session.closed:
            return held.session
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=None),
            # trust_env would look up ~/.netrc and the proxy in a thread on every request (and
            # a netrc entry would clash with our Authorization header): see `_target`.
            trust_env=False,
        )
        closer = _close_at_loop_end(session, weakref.ref(self), loop)
        self._sessions[loop] = _HeldSession(session, closer)
        await closer.asend(None)
        return session

    def _forget(self, loop: asyncio.AbstractEventLoop,
                session: aiohttp_types.ClientSession) -> None:
        held = self._sessions.get(loop)
        if held is not None and held.session is session:
            del self._sessions[loop]

    async def _target(self, aiohttp: ModuleType, url: str) -> tuple[Any, Any, Any]:
        """The parsed URL and the proxy the environment names for it (`HTTPS_PROXY`,
        `NO_PROXY`, ...), as httpx finds them for litellm; looked up once per URL."""
        parsed = aiohttp.helpers.URL(url)

        def env_proxy() -> tuple[Any, Any]:
            try:
                return aiohttp.helpers.get_env_proxy_for_url(parsed)
            except LookupError:
                return None, None

        target = (parsed, *await asyncio.to_thread(env_proxy))
        self._targets[url] = target
        return target

    def _timeout(self, aiohttp: ModuleType, seconds: float) -> aiohttp_types.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            # Not a total: waits for the connection, the first byte, and between bytes.
            timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=seconds,
                                            sock_read=seconds)
            self._timeouts[seconds] = timeout
        return timeout


async def _close_at_loop_end(session: aiohttp_types.ClientSession,
                             owner: weakref.ref[OpenAIStreamClient],
                             loop: asyncio.AbstractEventLoop) -> AsyncGenerator[None, None]:
    """Suspended until its loop shuts down, then closes `session`: the loop finalises
    unfinished async generators before it closes, so no connection is left open and aiohttp
    has no unclosed session to warn about. Also run by `aclose()`, and by the loop when the
    client is dropped while the loop runs (its owner is held weakly, so no cycle delays
    that to a garbage collection that would find the session unclosed)."""
    try:
        yield
    finally:
        client = owner()
        if client is not None:
            client._forget(loop, session)
        await session.close()


async def _read_stream(aiohttp: ModuleType, content: Any,
                       on_delta: Callable[[str], None] | None) -> tuple[StreamedReply, bool]:
    """Read events to `[DONE]`; the reply, and whether the connection can be reused."""
    decoder = SSEDecoder()
    parts: list[str] = []
    model: str | None = None
    finish: str | None = None
    usage: Any = None
    done = False
    while not done:
        try:
            data = await content.readany()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise AttemptFailed(_transport_failure(aiohttp, exc, responded=True)) from None
        events = decoder.feed(data) if data else decoder.end()
        for payload in events:
            if payload.startswith(DONE):
                done = True
                break
            chunk = _parse_chunk(payload)
            if model is None:
                model = chunk.get("model") or None
            if chunk.get("usage"):
                usage = chunk["usage"]
            choices = chunk.get("choices")
            if not choices:
                continue
            choice = choices[0]
            if not isinstance(choice, dict):
                raise AttemptFailed(_malformed(f"choice is {type(choice).__name__}"))
            finish = choice.get("finish_reason") or finish
            delta = choice.get("delta")
            piece = delta.get("content") if isinstance(delta, dict) else None
            if piece and isinstance(piece, str):
                parts.append(piece)
                if on_delta is not None:
                    on_delta(piece)
        if not data:
            break
    if finish is None:
        raise AttemptFailed(Failure("stream_interrupted", NO_FINISH_REASON))
    if not done:
        raise AttemptFailed(Failure("stream_interrupted", "the stream ended without [DONE]"))
    reply = StreamedReply("".join(parts), str(finish), model, reported_tokens(usage))
    return reply, await _drain(aiohttp, content)


def _parse_chunk(payload: bytes) -> dict:
    try:
        chunk = json.loads(payload)
    except ValueError as exc:
        raise AttemptFailed(_malformed(str(exc))) from None
    if not isinstance(chunk, dict):
        raise AttemptFailed(_malformed(f"a JSON {type(chunk).__name__}, not an object"))
    if chunk.get("error"):
        raise AttemptFailed(classify_stream_error(chunk["error"]))
    return chunk


def _malformed(reason: str) -> Failure:
    return Failure("stream_interrupted",
                   f"malformed chunk in the stream: {one_line(scrub_secrets(reason), 200)}")


async def _drain(aiohttp: ModuleType, content: Any) -> bool:
    """Read the rest of a finished body so its connection can be reused; False if it
    would not end."""
    try:
        async with asyncio.timeout(_DRAIN_TIMEOUT_S):
            while await content.readany():
                pass
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False
    return True


async def _read_error_body(aiohttp: ModuleType, response: Any) -> bytes:
    """Up to 64 KiB of an error response's body; what arrived, if it broke off."""
    parts: list[bytes] = []
    size = 0
    try:
        while size < _ERROR_BODY_LIMIT:
            data = await response.content.readany()
            if not data:
                break
            parts.append(data)
            size += len(data)
    except (aiohttp.ClientError, OSError, TimeoutError):
        pass
    return b"".join(parts)[:_ERROR_BODY_LIMIT]


def _transport_failure(aiohttp: ModuleType, exc: BaseException, *, responded: bool) -> Failure:
    """A network failure: no connection at all, a silent server, or a response cut short.
    `responded` is whether the response had begun (its status line arrived)."""
    if isinstance(exc, TimeoutError):  # aiohttp's socket timeouts are TimeoutErrors
        return Failure("timeout", _reason(exc) or "no data from the server in time")
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS, proxy
        return Failure("unreachable", _reason(exc.os_error) or _reason(exc))
    if isinstance(exc, aiohttp.ClientPayloadError) or responded:
        return Failure("stream_interrupted", CONNECTION_CUT)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, OSError)):
        return Failure("unreachable", _reason(exc) or "the server closed the connection")
    if isinstance(exc, ValueError):  # aiohttp's InvalidURL among them
        return Failure("bad_request", f"cannot send the request: {_reason(exc)}")
    return Failure("unexpected", f"{type(exc).__name__}: {_reason(exc)}")


def _reason(exc: BaseException | None) -> str:
    return one_line(scrub_secrets(str(exc or "")), 240)
