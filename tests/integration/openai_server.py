"""A local OpenAI-compatible HTTP server for tests, scriptable per test.

It runs aiohttp in a thread with its own event loop, so sync tests, async tests and
subprocesses (through `base_url`) can all talk to it. It listens on 127.0.0.1 only.

Routes: `POST /v1/chat/completions` (SSE when `stream` is true, JSON otherwise) and
`GET /v1/models`. What each completion request gets back is a `Reply`: taken from the
queue filled by `script(...)`, else from `responder(request_json)`, else a default text.

With `prompt_cache=PromptCache()` it reports cached prompt tokens as OpenAI does
(`usage.prompt_tokens_details.cached_tokens`, streamed and not): see `PromptCache`.

Run it by hand with `python -m tests.integration.openai_server [--port N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_TEXT = "Hello from the test server."

# A stalled reply hangs at most this long, so a forgotten test still ends by itself.
MAX_STALL_S = 30.0


@dataclass(frozen=True)
class Reply:
    """What the server answers to one chat completion request.

    A streamed reply sends `text` in `chunks` pieces (default: one per word), waiting
    `chunk_delay` between them. The `*_after` fields misbehave after that many content
    chunks: `stall_after` hangs until the client gives up, `cut_after` closes the
    connection without `[DONE]`, `malformed_after` sends a chunk that is not JSON.
    `usage` overrides the token counts (default: derived from text lengths);
    `send_usage=False` omits usage even when the client asks for it (llama.cpp's server
    never sends it when streaming). `ramble=True` is a small model that never stops: `text`
    repeats, a word a token, up to the request's `max_tokens` (else RAMBLE_LIMIT, a full
    context), and the reply ends with finish_reason "length", as a real server's does.
    """

    text: str = DEFAULT_TEXT
    chunks: int | None = None
    chunk_delay: float = 0.0
    first_byte_delay: float = 0.0
    usage: dict[str, Any] | None = None
    send_usage: bool = True
    finish_reason: str | None = "stop"
    model: str | None = None
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    stall_after: int | None = None
    cut_after: int | None = None
    malformed_after: int | None = None
    ramble: bool = False

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        type: str = "api_error",
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """An HTTP error with OpenAI's error JSON shape."""
        body = {"error": {"message": message, "type": type, "param": None, "code": code}}
        return cls(status=status, body=body, headers=dict(headers or {}))

    @classmethod
    def rate_limited(cls, retry_after: str | None = None) -> Reply:
        """A 429, with a `Retry-After` header (seconds or an HTTP date) when given."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return cls.error(
            429,
            "Rate limit reached for requests",
            type="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )

    @classmethod
    def model_not_found(cls, model: str) -> Reply:
        """OpenAI's 404 for a model that does not exist."""
        return cls.error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            type="invalid_request_error",
            code="model_not_found",
        )

    @classmethod
    def unauthorized(cls) -> Reply:
        """OpenAI's 401 for a wrong API key."""
        return cls.error(
            401,
            "Incorrect API key provided: sk-test-****. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            type="invalid_request_error",
            code="invalid_api_key",
        )


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    raw_body: str


Responder = Callable[[Any], Reply]


@dataclass
class PromptCache:
    """OpenAI's automatic prompt caching, as its docs describe it: a prompt of at least
    `min_tokens` (1024) tokens reuses the longest prefix it shares with an earlier request,
    counted in steps of `step_tokens` (128) past the first `min_tokens`; shorter prefixes
    are not cached. Tokens are this server's count (4 characters a token) of the prompt's
    text (each message's role and content, in order), so a prefix is shared exactly when the
    earlier messages are byte-identical. Earlier requests of any conversation count (a real
    cache is keyed by prefix, not by conversation); the newest `keep` prompts are held."""

    min_tokens: int = 1024
    step_tokens: int = 128
    keep: int = 256
    _seen: deque[str] = field(default_factory=deque)

    def cached_tokens(self, text: str) -> int:
        """The cached part of a prompt with this text, then remember it."""
        shared = max((_common_prefix(text, old) for old in self._seen), default=0)
        self._seen.append(text)
        while len(self._seen) > self.keep:
            self._seen.popleft()
        tokens = shared // 4
        if tokens < self.min_tokens:
            return 0
        return self.min_tokens + (tokens - self.min_tokens) // self.step_tokens * self.step_tokens


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # a[:low] is shared, a[:high] is not
    while high - low > 1:
        mid = (low + high) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid
    return low


def prompt_text(messages: Any) -> str:
    """A request's prompt as the server counts it: role and text of each message in order
    (content blocks' text joined; their cache markers are not text)."""
    parts = []
    for m in messages if isinstance(messages, list) else []:
        if not isinstance(m, dict):
            continue
        parts.append(f"<{m.get('role', '')}>{_text(m.get('content', ''))}")
    return "".join(parts)


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "" if content is None else str(content)


class OpenAIServer:
    """The server and its script. Start with `start()` (or as a context manager)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, models: list[str] | None = None,
                 prompt_cache: PromptCache | None = None):
        self.host = host
        self.port = port
        self.models = models or ["test-model"]
        self.prompt_cache = prompt_cache
        self.usages: list[dict[str, Any]] = []  # every usage reported, in order
        self.responder: Responder | None = None
        # A model with a small context window: a prompt past this many tokens (by the
        # 4-characters rule of `_usage`) is refused as OpenAI refuses it (400,
        # context_length_exceeded), before the script or the responder is asked.
        self.max_prompt_tokens: int | None = None
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._disconnects = 0
        self._disconnected = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    # --- what tests use -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The `api_base` to give a client: `http://127.0.0.1:PORT/v1`."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        """The chat completion requests received so far."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def disconnects(self) -> int:
        """How many replies were cut short because the client went away."""
        with self._lock:
            return self._disconnects

    def wait_for_disconnect(self, timeout: float = 5.0) -> bool:
        """Block until a client dropped a connection mid-reply; False on timeout."""
        return self._disconnected.wait(timeout)

    def script(self, *replies: Reply) -> None:
        """Queue replies; each completion request takes the next one."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forget the script, the responder and the recorded requests."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._disconnects = 0
            self._disconnected.clear()
            self.usages.clear()
        self.responder = None
        self.prompt_cache = None
        self.max_prompt_tokens = None

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> OpenAIServer:
        """Start serving in a background thread; returns once the port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(ready))
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="openai-test-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise RuntimeError(f"test server failed to start: {failure[0]!r}")
        return self

    def stop(self) -> None:
        """Stop serving, dropping open connections; idempotent."""
        if self._loop is None or self._thread is None or self._stopping is None:
            return
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _serve(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_post("/v1/messages", self._anthropic_messages)
        # handler_cancellation: a client that goes away cancels its handler, which is how
        # the server notices an aborted request while it is stalling.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        ready.set()
        await self._stopping.wait()
        await self._runner.cleanup()

    # --- handlers -------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest:
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            json=body,
            raw_body=raw,
        )
        with self._lock:
            self._requests.append(recorded)
        return recorded

    def _next_reply(self, body: Any) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return self.responder(body)
        return Reply()

    def _reported(self, body: dict, reply: Reply) -> dict[str, Any]:
        usage = _usage(body, reply)
        with self._lock:
            self.usages.append(usage)
        return usage
    def _too_long(self, body: dict) -> Reply | None:
        limit = self.max_prompt_tokens
        if limit is None:
            return None
        tokens = _usage(body, Reply(text=""))["prompt_tokens"]
        if tokens <= limit:
            return None
        return Reply.error(400, f"This model's maximum context length is {limit} tokens. "
                           f"However, your messages resulted in {tokens} tokens. Please "
                           "reduce the length of the messages.",
                           type="invalid_request_error", code="context_length_exceeded")

    def _note_disconnect(self) -> None:
        with self._lock:
            self._disconnects += 1
        self._disconnected.set()

    async def _anthropic_messages(self, request: web.Request) -> web.Response:
        """Anthropic's route, recorded (to see what litellm sends there) and refused: this
        server speaks only OpenAI's protocol."""
        await self._record(request)
        return web.json_response({"type": "error", "error": {
            "type": "invalid_request_error", "message": "recorded only"}}, status=400)

    async def _list_models(self, request: web.Request) -> web.Response:
        await self._record(request)
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        body = recorded.json if isinstance(recorded.json, dict) else {}
        too_long = self._too_long(body)
        reply = too_long or self._next_reply(body)
        if reply.ramble:
            reply = _rambled(reply, body)
        if reply.usage is None and self.prompt_cache is not None and reply.status == 200:
            with self._lock:
                cached = self.prompt_cache.cached_tokens(prompt_text(body.get("messages")))
            usage = _usage(body, reply)
            usage["prompt_tokens_details"] = {"cached_tokens": min(cached, usage["prompt_tokens"]),
                                              "audio_tokens": 0}
            reply = dataclasses.replace(reply, usage=usage)
        try:
            if reply.first_byte_delay:
                await asyncio.sleep(reply.first_byte_delay)
            if reply.status != 200:
                return _error_response(reply)
            if body.get("stream"):
                return await self._stream(request, body, reply)
            return web.json_response(_completion_json(body, reply, self._reported(body, reply)),
                                     headers=reply.headers)
        except (asyncio.CancelledError, ConnectionResetError):
            self._note_disconnect()
            raise

    async def _stream(self, request: web.Request, body: dict, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                     **reply.headers}
        )
        await response.prepare(request)
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        model = reply.model or body.get("model", "test-model")
        created = int(time.time())

        async def send(payload: dict) -> None:
            chunk = {"id": ident, "object": "chat.completion.chunk", "created": created,
                     "model": model, "choices": [], **payload}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"choices": [_choice({"role": "assistant", "content": ""})]})
        for index, piece in enumerate(_split(reply.text, reply.chunks)):
            if reply.stall_after == index:
                await asyncio.sleep(MAX_STALL_S)
                return response
            if reply.cut_after == index:
                _cut(request)
                return response
            if reply.malformed_after == index:
                await response.write(b'data: {"id": "broken", "choices": [{"delta": \n\n')
            if index and reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            await send({"choices": [_choice({"content": piece})]})
        if reply.stall_after is not None and reply.stall_after >= 0:
            await asyncio.sleep(MAX_STALL_S)
            return response
        if reply.cut_after is not None:
            _cut(request)
            return response
        await send({"choices": [_choice({}, reply.finish_reason)]})
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        if include_usage and reply.send_usage:
            await send({"choices": [], "usage": self._reported(body, reply)})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


RAMBLE_LIMIT = 32_768


def _rambled(reply: Reply, body: dict) -> Reply:
    words = reply.text.split() or ["and"]
    cap = int(body.get("max_tokens") or body.get("max_completion_tokens") or RAMBLE_LIMIT)
    text = " ".join(words[i % len(words)] for i in range(cap))
    return dataclasses.replace(reply, text=text, finish_reason="length", ramble=False)


def _choice(delta: dict, finish_reason: str | None = None) -> dict:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def _split(text: str, chunks: int | None) -> list[str]:
    """`text` in `chunks` pieces (default: one per word, spaces kept) that join back to it."""
    if not text:
        return []
    if chunks is None:
        words = text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]
    chunks = max(1, min(chunks, len(text)))
    size, extra = divmod(len(text), chunks)
    pieces, start = [], 0
    for i in range(chunks):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def _usage(body: dict, reply: Reply) -> dict[str, Any]:
    if reply.usage is not None:
        usage = dict(reply.usage)
        usage.setdefault(
            "total_tokens", usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        )
        return usage
    prompt = max(1, sum(len(_text(m.get("content", ""))) for m in body.get("messages", [])
                        if isinstance(m, dict)) // 4)
    completion = max(1, len(reply.text) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _completion_json(body: dict, reply: Reply, usage: dict[str, Any]) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or body.get("model", "test-model"),
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.text},
            "logprobs": None,
            "finish_reason": reply.finish_reason,
        }],
        "usage": usage,
    }


def _error_response(reply: Reply) -> web.Response:
    if isinstance(reply.body, (dict, list)):
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)
    return web.Response(status=reply.status, text=str(reply.body or ""), headers=reply.headers)


def _cut(request: web.Request) -> None:
    """Drop the connection mid-reply: no `[DONE]`, no end of the chunked body."""
    if request.transport is not None:
        request.transport.abort()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a local OpenAI-compatible test API.")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with OpenAIServer(port=args.port) as server:
        print(f"serving at {server.base_url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
