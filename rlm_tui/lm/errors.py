"""The one error the model boundary raises, and the scrubbing that keeps keys out of it."""

from __future__ import annotations

import os
import re
from typing import Literal

from rlm_tui.errors import ModelError

ErrorKind = Literal[
    "auth",  # 401/403, or no API key where one is needed
    "unknown_model",  # no provider can be inferred from the model name
    "not_found",  # 404: the provider does not know the model (or the URL is wrong)
    "bad_request",  # 400/422 and other 4xx: the request itself is wrong
    "context_window",  # the prompt does not fit the model's context window
    "quota",  # out of credit or quota: waiting does not help
    "rate_limited",  # 429, still limited after every retry
    "server_error",  # 5xx, after every retry
    "timeout",  # no byte for `timeout` seconds, after every retry
    "unreachable",  # connection refused / DNS / TLS, after every retry
    "stream_interrupted",  # the stream broke off or ended without a finish, after every retry
    "unexpected",  # litellm raised something we do not recognise
]

RETRYABLE_KINDS: frozenset[str] = frozenset(
    {"rate_limited", "server_error", "timeout", "unreachable", "stream_interrupted"}
)

REDACTED = "[redacted]"

# Shapes of provider keys and credentials; values of secret-looking environment variables are
# scrubbed as well (see `scrub_secrets`), so a key of an unlisted shape is caught too.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), REDACTED),  # OpenAI, Anthropic, OpenRouter, ...
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"), REDACTED),  # Google
    (re.compile(r"\b(?:gsk|hf|xai|pplx|nvapi|csk)[_-][A-Za-z0-9_\-]{20,}"), REDACTED),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), REDACTED),  # AWS access key id
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]+=*"), f"Bearer {REDACTED}"),
    (
        re.compile(
            r"(?i)\b((?:api[_-]?key|access[_-]?token|auth[_-]?token|token|secret|password)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(//)[^/\s:@]+:[^/\s@]+@"), rf"\1{REDACTED}@"),  # user:password@ in URLs
)

_SECRET_ENV_NAME = re.compile(r"(?i)(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)")


def scrub_secrets(text: str) -> str:
    """`text` with anything that looks like an API key or credential replaced by `[redacted]`.

    Catches the usual key shapes, `Bearer ...`, `api_key=...`, passwords in URLs, and the
    literal value of any environment variable whose name says it holds a secret.
    """
    for name, value in os.environ.items():
        if len(value) >= 8 and _SECRET_ENV_NAME.search(name) and value in text:
            text = text.replace(value, REDACTED)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line, whitespace collapsed, cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class ModelCallError(ModelError):
    """A model call failed in a way retrying cannot fix (or retries ran out).

    `str(error)` is a one-line message for the user, scrubbed of keys. `kind` says what went
    wrong (see `ErrorKind`), `status_code` is the provider's HTTP status when there was one,
    and `attempts` is how many requests were made.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        status_code: int | None = None,
        attempts: int = 0,
    ) -> None:
        self.message = one_line(scrub_secrets(message))
        self.kind: ErrorKind = kind
        self.status_code = status_code
        self.attempts = attempts
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        """Whether this kind of failure is one the client retries."""
        return self.kind in RETRYABLE_KINDS
