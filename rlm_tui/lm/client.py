"""The model client: one streamed completion, retried, priced, and cancellable."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from rlm_tui.lm.completion import Completion, RetryInfo, Usage, estimated_tokens
from rlm_tui.lm.demo import demo_chunks, demo_reply, estimate_tokens, is_demo
from rlm_tui.lm.errors import ModelCallError
from rlm_tui.lm.failures import AttemptFailed, StreamIncomplete, classify_exception, describe
from rlm_tui.lm.litellm_loader import is_warm, load_litellm, prime_litellm, warm_up
from rlm_tui.lm.openai_stream import (
    ChatRequest,
    OpenAIStreamClient,
    encode_request_body,
    load_aiohttp,
)
from rlm_tui.lm.pricing import PriceTable
from rlm_tui.lm.retry import RetryPolicy
from rlm_tui.lm.routes import PLACEHOLDER_API_KEY, DirectRoute, api_key, direct_route
from rlm_tui.lm.spec import ModelSpec

Message = Mapping[str, Any]
DeltaCallback = Callable[[str], None]
RetryCallback = Callable[[RetryInfo], None]
# One attempt: told where to record that text reached `on_delta`; raises AttemptFailed.
_Attempt = Callable[["_Delivery"], Awaitable["_AttemptResult"]]

__all__ = ["PLACEHOLDER_API_KEY", "DeltaCallback", "Message", "ModelClient", "RetryCallback",
           "prepare_models"]

# litellm enforces `timeout` between bytes itself; this guard covers a transport that does
# not. Its slack leaves room for litellm's own work (a slow first call on a busy machine).
_GUARD_GRACE_S = 10.0
_CLOSE_TIMEOUT_S = 1.0
# The demo streams at a readable pace, like a fast real model.
DEMO_CHUNK_DELAY_S = 0.004


@dataclass
class _AttemptResult:
    text: str
    finish_reason: str
    model: str | None
    tokens: tuple[int, int, int] | None  # (prompt, completion, total) as reported, or None


class ModelClient:
    """Calls models, always streaming: OpenAI-compatible chat models directly over HTTP
    (openai_stream.py; routes.py says which), every other model through litellm.

    `prices` maps model names to `(input, output)` USD per million tokens (the config's
    `[prices]` table), or is a ready `PriceTable`; litellm's bundled map covers the rest.
    `retry` sets the backoff; `sleep` is how the client waits between attempts.
    One instance serves many concurrent calls. The direct transport keeps one connection
    pool per event loop, closed when that loop shuts down, or by `aclose()`.
    """

    def __init__(
        self,
        *,
        prices: PriceTable | Mapping[str, tuple[float, float]] | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.prices = prices if isinstance(prices, PriceTable) else PriceTable(prices)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._direct = OpenAIStreamClient()
        self._routes: dict[tuple[Any, ...], DirectRoute | None] = {}
        self._token_prices: dict[tuple[str, str | None], tuple[float, float] | None] = {}

    async def aclose(self) -> None:
        """Close the direct transport's connections on the running loop. Idempotent."""
        await self._direct.aclose()

    async def complete(
        self,
        spec: ModelSpec,
        messages: Sequence[Message],
        *,
        on_delta: DeltaCallback | None = None,
        on_retry: RetryCallback | None = None,
    ) -> Completion:
        """Stream one chat completion and return it whole.

        `on_delta(text)` gets each piece of content as it arrives. Failures that retrying can
        fix (429, 5xx, timeouts, refused connections, streams cut or ended without a finish
        reason) are retried up to `spec.max_retries` times with backoff; before each retry
        `on_retry(info)` is told why, how long the wait is, and whether text already given
        to `on_delta` must be discarded. Usage is what the provider reported in the stream
        (`usage.reported` False if it reported none); cost is from `self.prices`, or None.

        Raises `ModelCallError` (one line, no keys) when the call cannot succeed. If the
        awaiting task is cancelled, the HTTP request is closed at once and
        `asyncio.CancelledError` propagates. Exceptions raised by the callbacks propagate
        unchanged.
        """
        if is_demo(spec.model):
            return await self._demo(spec, messages, on_delta)
        route = await self._route(spec)
        attempt: _Attempt
        if route is not None:
            request = ChatRequest(
                url=route.url(spec), headers=route.headers(spec), timeout=spec.timeout,
                body=encode_request_body(route.model, [dict(m) for m in messages],
                                         spec.params),
            )

            async def attempt(delivered: _Delivery) -> _AttemptResult:
                return await self._direct_attempt(request, on_delta, delivered)
        else:
            if not is_warm():
                await warm_up()
            litellm = load_litellm()
            kwargs = self._call_arguments(spec, messages)

            async def attempt(delivered: _Delivery) -> _AttemptResult:
                return await self._litellm_attempt(litellm, kwargs, on_delta, delivered)
        return await self._with_retries(spec, attempt, on_retry, messages)

    def estimated_usage(self, spec: ModelSpec, messages: Sequence[Message],
                        streamed_chars: int) -> Usage:
        """A call stopped mid-reply (a halt, a budget): its prompt and the `streamed_chars`
        it had sent, in tokens by the estimate rule (completion.py), priced where the model
        is priced (a provider bills what it streamed), marked estimated."""
        prompt, completion = estimated_tokens(messages, streamed_chars)
        if is_demo(spec.model):
            return Usage.of_call(prompt, completion, 0.0, reported=False)
        cost = self.prices.cost_usd(spec.model, prompt, completion,
                                    custom_endpoint=spec.api_base is not None)
        return Usage.of_call(prompt, completion, cost, reported=False)

    def token_prices(self, spec: ModelSpec) -> tuple[float, float] | None:
        """USD per (prompt, completion) token of `spec`, or None when it has no price."""
        if is_demo(spec.model):
            return 0.0, 0.0
        key = (spec.model, spec.api_base)
        if key not in self._token_prices:  # asked before each call when a cost budget is set
            custom = spec.api_base is not None
            per_prompt = self.prices.cost_usd(spec.model, 1_000_000, 0, custom_endpoint=custom)
            per_reply = self.prices.cost_usd(spec.model, 0, 1_000_000, custom_endpoint=custom)
            self._token_prices[key] = None if per_prompt is None or per_reply is None else (
                per_prompt / 1_000_000, per_reply / 1_000_000)
        return self._token_prices[key]

    def is_priced(self, spec: ModelSpec) -> bool:
        """Whether calls to `spec` get a cost (the demo's is $0); loads litellm's price map
        unless the model has a custom price or is the demo."""
        return is_demo(spec.model) or self.prices.is_priced(
            spec.model, custom_endpoint=spec.api_base is not None)

    async def _route(self, spec: ModelSpec) -> DirectRoute | None:
        """The direct route for `spec`, or None for litellm; decided once per spec."""
        key = (spec.model, spec.api_base, spec.transport, tuple(sorted(spec.params)))
        try:
            return self._routes[key]
        except KeyError:
            pass
        route = None
        if spec.transport == "auto":
            # Reads the price map (~25 ms), may ask litellm (loading it the first time, ~3 s)
            # and imports aiohttp (~0.2 s): off the loop.
            route = await asyncio.to_thread(_resolve_route, spec)
        self._routes[key] = route
        return route

    async def _with_retries(self, spec: ModelSpec, attempt: _Attempt,
                            on_retry: RetryCallback | None,
                            messages: Sequence[Message]) -> Completion:
        started = time.monotonic()
        retries: list[RetryInfo] = []
        attempts = 0
        while True:
            attempts += 1
            delivered = _Delivery()
            try:
                result = await attempt(delivered)
            except AttemptFailed as failed:
                failure = failed.failure
                if not failure.retryable or attempts > spec.max_retries:
                    message = describe(
                        failure, model=spec.model, api_base=spec.api_base, attempts=attempts,
                        timeout=spec.timeout, api_key_env=spec.api_key_env,
                    )
                    raise ModelCallError(
                        message, kind=failure.kind, status_code=failure.status_code,
                        attempts=attempts,
                    ) from None
                info = RetryInfo(
                    attempt=attempts,
                    kind=failure.kind,
                    reason=failure.detail or failure.kind,
                    status_code=failure.status_code,
                    wait_s=self.retry.delay(attempts - 1, failure.retry_after),
                    discarded_output=delivered.any,
                )
                retries.append(info)
                if on_retry is not None:
                    on_retry(info)
                await self._sleep(info.wait_s)
                continue
            return Completion(
                text=result.text,
                usage=self._usage(spec, result.tokens, messages, result.text),
                model=result.model or spec.model,
                finish_reason=result.finish_reason,
                latency_s=time.monotonic() - started,
                attempts=attempts,
                retries=tuple(retries),
            )

    async def _direct_attempt(self, request: ChatRequest, on_delta: DeltaCallback | None,
                              delivered: _Delivery) -> _AttemptResult:
        def deliver(piece: str) -> None:
            delivered.any = True
            if on_delta is not None:
                on_delta(piece)

        reply = await self._direct.stream(request, deliver)
        return _AttemptResult(reply.text, reply.finish_reason, reply.model, reply.tokens)

    def _call_arguments(self, spec: ModelSpec, messages: Sequence[Message]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            **spec.params,
            "model": spec.model,
            "messages": [dict(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": spec.timeout,
            # Our loop does the retrying; litellm's and the OpenAI SDK's own are off.
            "num_retries": 0,
            "max_retries": 0,
        }
        if spec.api_base is not None:
            kwargs["api_base"] = spec.api_base
        key = api_key(spec)
        if key is not None:
            kwargs["api_key"] = key
        return kwargs

    async def _litellm_attempt(
        self,
        litellm: ModuleType,
        kwargs: dict[str, Any],
        on_delta: DeltaCallback | None,
        delivered: _Delivery,
    ) -> _AttemptResult:
        guard = kwargs["timeout"] + _GUARD_GRACE_S
        parts: list[str] = []
        model: str | None = None
        seen_finish: str | None = None
        stream = None
        try:
            try:
                async with asyncio.timeout(guard):
                    stream = await litellm.acompletion(**kwargs)
            except Exception as exc:
                raise AttemptFailed(classify_exception(exc)) from exc
            iterator = stream.__aiter__()
            while True:
                try:
                    async with asyncio.timeout(guard):
                        chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    raise AttemptFailed(classify_exception(exc)) from exc
                model = model or getattr(chunk, "model", None) or None
                choices = getattr(chunk, "choices", None) or []
                if not choices:
                    continue
                seen_finish = getattr(choices[0], "finish_reason", None) or seen_finish
                delta = getattr(choices[0], "delta", None)
                piece = getattr(delta, "content", None) if delta is not None else None
                if piece:
                    parts.append(piece)
                    delivered.any = True
                    if on_delta is not None:
                        on_delta(piece)
            finish = _provider_finish_reason(stream, seen_finish)
            if finish is None:
                raise AttemptFailed(classify_exception(StreamIncomplete()))
            tokens = _tokens(_provider_usage(stream))
            return _AttemptResult("".join(parts), finish, model, tokens)
        finally:
            if stream is not None:
                await _close(stream)

    async def _demo(self, spec: ModelSpec, messages: Sequence[Message],
                    on_delta: DeltaCallback | None) -> Completion:
        """The offline demo model (lm/demo.py), streamed like a real one, priced at $0."""
        started = time.monotonic()
        text = demo_reply(messages)
        for piece in demo_chunks(text):
            if on_delta is not None:
                on_delta(piece)
            await asyncio.sleep(DEMO_CHUNK_DELAY_S)
        prompt = sum(estimate_tokens(str(m.get("content", ""))) for m in messages)
        completion = estimate_tokens(text)
        usage = Usage.of_call(prompt, completion, 0.0)
        return Completion(text=text, usage=usage, model=spec.model, finish_reason="stop",
                          latency_s=time.monotonic() - started, attempts=1)

    def _usage(self, spec: ModelSpec, tokens: tuple[int, int, int] | None,
               messages: Sequence[Message], text: str) -> Usage:
        if tokens is None:  # the server said nothing: estimated, marked so, and never priced
            prompt, completion = estimated_tokens(messages, text)
            return Usage.of_call(prompt, completion, None, reported=False)
        prompt, completion, _total = tokens
        cost = self.prices.cost_usd(
            spec.model, prompt, completion, custom_endpoint=spec.api_base is not None
        )
        return Usage.of_call(prompt, completion, cost)


@dataclass
class _Delivery:
    any: bool = False


def prepare_models(specs: Sequence[ModelSpec]) -> threading.Thread:
    """Start getting ready to call `specs`, in a background thread, and return it: decide
    each one's transport and import what it needs (aiohttp for the direct one, ~0.2 s;
    litellm, primed, for the rest, ~3 s). Started before other work (loading a context),
    it does that meanwhile, and the first model call does not wait for imports.
    Never raises: a spec that cannot work fails on its call, as without it. A daemon
    thread: a run that ends early does not wait for it."""
    def prepare() -> None:
        for spec in specs:
            if is_demo(spec.model) or spec.transport != "auto":
                continue
            try:
                if _resolve_route(spec) is None:
                    prime_litellm()
            except Exception:  # noqa: BLE001 - only an optimisation: the call reports it
                pass

    thread = threading.Thread(target=prepare, name="rlm-tui-prepare-models", daemon=True)
    thread.start()
    return thread


def _resolve_route(spec: ModelSpec) -> DirectRoute | None:
    route = direct_route(spec)
    if route is not None:
        load_aiohttp()
    return route


def _tokens(usage: Any) -> tuple[int, int, int] | None:
    """(prompt, completion, total) from litellm's usage object."""
    if usage is None:
        return None
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    total = int(getattr(usage, "total_tokens", 0) or 0) or prompt + completion
    return prompt, completion, total


# litellm's stream wrapper fills in a finish reason ("stop") and estimates usage with a
# tokenizer when the provider sent neither; we want only what the provider said, which the
# wrapper (litellm 1.106.2 CustomStreamWrapper) keeps in `received_finish_reason` and `chunks`.
# The integration tests pin this down.
def _provider_finish_reason(stream: Any, seen_finish: str | None) -> str | None:
    if not hasattr(stream, "received_finish_reason"):
        return seen_finish
    return stream.received_finish_reason or getattr(stream, "intermittent_finish_reason", None)


def _provider_usage(stream: Any) -> Any:
    chunks = getattr(stream, "chunks", None)
    if not isinstance(chunks, list):
        return None
    for chunk in reversed(chunks):
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            return usage
    return None


async def _close(stream: Any) -> None:
    """Close the HTTP response behind a stream, promptly, whatever state it is in."""
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        return
    try:
        await asyncio.wait_for(aclose(), _CLOSE_TIMEOUT_S)
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - the attempt's own outcome is what matters
        pass
