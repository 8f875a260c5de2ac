"""Sorting failed attempts into what went wrong and whether retrying can fix it: litellm's
exceptions, and the HTTP errors the direct OpenAI-compatible transport sees."""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from rlm_tui.lm.errors import RETRYABLE_KINDS, ErrorKind, one_line, scrub_secrets
from rlm_tui.lm.litellm_loader import litellm_exceptions
from rlm_tui.lm.retry import retry_after_from_headers

NO_FINISH_REASON = "the stream ended without a finish reason"
CONNECTION_CUT = "the connection closed before the response ended"


class StreamIncomplete(Exception):
    """The stream ended cleanly but without a finish reason: the answer may be cut short."""


@dataclass(frozen=True)
class Failure:
    """One failed attempt: its kind, the provider's one-line reason (scrubbed), the HTTP
    status when there was one, and the wait the server asked for."""

    kind: ErrorKind
    detail: str
    status_code: int | None = None
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


class AttemptFailed(Exception):
    """One attempt failed, already classified; raised by the transports to the retry loop, so
    that exceptions from the caller's own callbacks pass through unwrapped."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.detail or failure.kind)
        self.failure = failure


# Transport errors raised while connecting, before any request reached a server.
_CONNECT_ERROR_NAMES = frozenset(
    {"ConnectError", "ClientConnectorError", "ClientConnectorDNSError",
     "ClientConnectorSSLError", "ClientConnectorCertificateError", "ClientProxyConnectionError"}
)
_TIMEOUT_ERROR_NAMES = frozenset(
    {"APITimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout", "PoolTimeout",
     "WriteTimeout", "ServerTimeoutError", "SocketTimeoutError", "ConnectionTimeoutError"}
)
# Transport errors for a response that stopped before its end.
_CUT_ERROR_NAMES = frozenset(
    {"ClientPayloadError", "TransferEncodingError", "ContentLengthError", "RemoteProtocolError",
     "ReadError", "ServerDisconnectedError", "IncompleteRead"}
)
_QUOTA_MARKERS = ("insufficient_quota", "exceeded your current quota", "credit balance")
# What litellm 1.106.2 reads as "the prompt is too long" in a provider's message
# (ExceptionCheckers.is_error_str_context_window_exceeded), plus OpenAI's error code.
_CONTEXT_WINDOW_MARKERS = (
    "context_length_exceeded", "exceed context limit", "this model's maximum context length is",
    "string too long. expected a string with maximum length", "model's maximum context limit",
    "is longer than the model's context length", "input tokens exceed the configured limit",
    "`inputs` tokens + `max_new_tokens` must be", "exceeds the available context size",
    "exceeds the maximum number of tokens allowed",
)
_PREFIX = re.compile(r"^\s*(?:litellm\.)?[A-Za-z_]*(?:Error|Exception)(?:\s*:\s*|\s+-\s+)")


def classify_exception(exc: BaseException) -> Failure:
    """What `exc`, raised by a litellm call or its stream, means for the caller."""
    errors = litellm_exceptions()
    if isinstance(exc, StreamIncomplete):
        return Failure("stream_interrupted", NO_FINISH_REASON)
    if isinstance(exc, TimeoutError):  # our own guard around the stream
        return Failure("timeout", "no data from the server in time")
    if isinstance(exc, errors.MidStreamFallbackError):
        return _classify_mid_stream(exc)
    detail = provider_detail(exc)
    status = _status_code(exc)
    if isinstance(exc, errors.Timeout) or _chain_has(exc, _TIMEOUT_ERROR_NAMES, TimeoutError):
        return Failure("timeout", detail, status if status != 408 else None)
    if isinstance(exc, errors.ContextWindowExceededError):
        return Failure("context_window", detail, status)
    # litellm reads some 403s from OpenAI-compatible servers as bad requests
    if isinstance(exc, (errors.AuthenticationError, errors.PermissionDeniedError)) or status in (
        401, 403,
    ):
        return Failure("auth", detail, status)
    if isinstance(exc, errors.NotFoundError):
        return Failure("not_found", detail, status)
    if isinstance(exc, errors.RateLimitError) or status == 429:
        if any(marker in detail.lower() for marker in _QUOTA_MARKERS):
            return Failure("quota", detail, status)
        return Failure("rate_limited", detail, status, _retry_after(exc))
    if status == 402:
        return Failure("quota", detail, status)
    if isinstance(exc, errors.BadRequestError) and "LLM Provider NOT provided" in str(exc):
        return Failure("unknown_model", "no provider prefix in the model name", None)
    if isinstance(exc, (errors.BadRequestError, errors.UnprocessableEntityError)):
        return Failure("bad_request", detail, status)
    if _chain_has(exc, _CONNECT_ERROR_NAMES, ConnectionRefusedError, socket.gaierror,
                  ssl.SSLError):
        return Failure("unreachable", _root_cause_detail(exc) or detail)
    if isinstance(exc, errors.APIConnectionError) or _chain_has_openai_connection_error(exc):
        return Failure("stream_interrupted", _root_cause_detail(exc) or detail)
    if status is not None and 400 <= status < 500:
        if status == 408:
            return Failure("timeout", detail)
        return Failure("bad_request", detail, status)
    if isinstance(exc, (errors.InternalServerError, errors.ServiceUnavailableError,
                        errors.BadGatewayError, errors.APIError)) or (status or 0) >= 500:
        return Failure("server_error", detail, status, _retry_after(exc))
    return Failure("unexpected", f"{type(exc).__name__}: {detail}")


def classify_http_error(status: int, body: bytes,
                        headers: Mapping[str, str] | None = None) -> Failure:
    """What an HTTP error response from an OpenAI-compatible server means, sorted as
    `classify_exception` sorts litellm's exceptions for the same response. `body` is the
    response body (OpenAI's `{"error": {...}}` JSON, or any text)."""
    message, code = _error_message(body)
    detail = one_line(scrub_secrets(message), 240)
    marked = f"{message} {code}".lower()
    if any(marker in marked for marker in _CONTEXT_WINDOW_MARKERS):
        return Failure("context_window", detail, status)
    if status in (401, 403):
        return Failure("auth", detail, status)
    if status == 404 or "model_not_found" in code:
        return Failure("not_found", detail, status)
    if status == 402:
        return Failure("quota", detail, status)
    if status == 408:
        return Failure("timeout", detail)
    if status == 429:
        if any(marker in marked for marker in _QUOTA_MARKERS):
            return Failure("quota", detail, status)
        return Failure("rate_limited", detail, status, retry_after_from_headers(headers))
    if 300 <= status < 400:
        location = (headers or {}).get("Location", "")
        where = f" to {one_line(scrub_secrets(location), 120)}" if location else ""
        return Failure("bad_request", f"the server redirected{where}; set api_base to the "
                       "final URL", status)
    if 400 <= status < 500:
        return Failure("bad_request", detail, status)
    if status >= 500:
        return Failure("server_error", detail, status, retry_after_from_headers(headers))
    return Failure("unexpected", f"HTTP {status}: {detail}", status)


def classify_stream_error(error: object) -> Failure:
    """An `{"error": ...}` object sent inside a stream that had begun with HTTP 200: sorted
    by the status it names (OpenRouter and vLLM put one in `code`), else a server error."""
    body = json.dumps({"error": error}).encode()
    code = error.get("code") if isinstance(error, dict) else None
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    return classify_http_error(status, body)


def _error_message(body: bytes) -> tuple[str, str]:
    """The provider's message and error code from an error body (OpenAI's shape or text)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text) if text[:1] in ("{", "[") else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, str):
            return error, ""
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail") or data.get("message")
            code = " ".join(str(error.get(k) or "") for k in ("code", "type"))
            if isinstance(message, str) and message:
                return message, code
            return json.dumps(error), code
    return text or "no details", ""


def _classify_mid_stream(exc: BaseException) -> Failure:
    """A stream that broke after it began: retry it, unless the provider refused outright."""
    original = getattr(exc, "original_exception", None)
    status = _status_code(original) if original is not None else None
    if original is not None and status is not None and 400 <= status < 500 and status != 408:
        return classify_exception(original)
    source = original if original is not None else exc
    detail = _root_cause_detail(source) or provider_detail(source)
    if _chain_has(source, _TIMEOUT_ERROR_NAMES, TimeoutError) or "timeout" in detail.lower():
        return Failure("timeout", detail)
    if _chain_has(source, _CUT_ERROR_NAMES):
        return Failure("stream_interrupted", CONNECTION_CUT)
    if _chain_has(source, frozenset(), json.JSONDecodeError):
        malformed = provider_detail(source)
        return Failure("stream_interrupted", f"malformed chunk in the stream: {malformed}")
    return Failure("stream_interrupted", detail)


def provider_detail(exc: BaseException) -> str:
    """The provider's own message from a litellm exception: one line, prefixes and keys gone."""
    text = getattr(exc, "message", None)
    if not isinstance(text, str) or not text:
        text = str(exc) or type(exc).__name__
    previous = None
    while previous != text:
        previous = text
        text = _PREFIX.sub("", text, count=1)
    return one_line(scrub_secrets(text), 240)


def _root_cause_detail(exc: BaseException) -> str:
    """The innermost message in the exception chain (e.g. `Connect call failed (...)`)."""
    chain = list(_chain(exc))
    for inner in reversed(chain[1:]):
        text = str(inner).strip()
        if text:
            return one_line(scrub_secrets(text), 240)
    return ""


def _chain(exc: BaseException):
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 12:
        seen.add(id(current))
        yield current
        nxt = current.__cause__ or current.__context__
        if nxt is None:
            nxt = getattr(current, "original_exception", None)
        current = nxt if isinstance(nxt, BaseException) else None


def _chain_has(exc: BaseException, names: frozenset[str], *types: type[BaseException]) -> bool:
    for inner in _chain(exc):
        if type(inner).__name__ in names or (types and isinstance(inner, types)):
            return True
    return False


def _chain_has_openai_connection_error(exc: BaseException) -> bool:
    import openai  # already imported by litellm

    return any(isinstance(inner, openai.APIConnectionError) for inner in _chain(exc))


def _status_code(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "litellm_response_headers", None)
    wait = retry_after_from_headers(headers) if headers else None
    if wait is None:
        response = getattr(exc, "response", None)
        try:
            wait = retry_after_from_headers(response.headers if response is not None else None)
        except Exception:  # noqa: BLE001 - some litellm responses are stand-ins without headers
            wait = None
    return wait


def describe(failure: Failure, *, model: str, api_base: str | None, attempts: int,
             timeout: float, api_key_env: str | None) -> str:
    """The one-line message a user sees when a call finally fails."""
    http = f" (HTTP {failure.status_code})" if failure.status_code else ""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    where = api_base or "the provider"
    detail = f": {failure.detail.rstrip('. ')}" if failure.detail else ""
    match failure.kind:
        case "auth":
            if api_key_env:
                hint = f"check ${api_key_env}"
            elif api_base:
                hint = "set api_key_env to the variable holding this server's key"
            else:
                hint = "check the provider's API key environment variable"
            return f"{model}: authentication failed{http}{detail}; {hint}"
        case "unknown_model":
            return (f"{model}: unknown model: name a provider prefix, e.g. openai/gpt-4o-mini, "
                    "or openai/<name> with api_base for an OpenAI-compatible server")
        case "not_found":
            return f"{model}: model not found at {where}{http}{detail}"
        case "context_window":
            return f"{model}: the prompt does not fit the model's context window{detail}"
        case "quota":
            return f"{model}: out of quota or credit{http}{detail}"
        case "bad_request":
            return f"{model}: request rejected{http}{detail}"
        case "rate_limited":
            return f"{model}: still rate limited{tries}{http}{detail}"
        case "server_error":
            return f"{model}: server error{tries}{http}{detail}"
        case "timeout":
            return f"{model}: no response from {where} within {timeout:g} s{tries}"
        case "unreachable":
            return f"{model}: cannot reach {where}{tries}{detail}"
        case "stream_interrupted":
            return f"{model}: the response broke off{tries}{detail}"
        case _:
            return f"{model}: unexpected error from the model call{detail}"
