"""Sorting litellm's exceptions, and keeping keys out of messages."""

import httpx
import pytest

from rlm_tui.errors import ModelError
from rlm_tui.lm import ModelCallError, scrub_secrets
from rlm_tui.lm.failures import Failure, StreamIncomplete, classify_exception, describe
from rlm_tui.lm.litellm_loader import litellm_exceptions

E = litellm_exceptions()
REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def response(status: int, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers or {}, request=REQUEST)


# --- scrubbing ---------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [
    "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
    "sk-or-v1-0123456789abcdef0123456789abcdef",
    "AIzaSyA-abcdefghijklmnopqrstuvwxyz0123456",
    "gsk_abcdefghijklmnopqrstuvwxyz0123",
    "AKIAABCDEFGHIJKLMNOP",
])
def test_key_shapes_are_scrubbed(secret):
    scrubbed = scrub_secrets(f"Incorrect API key provided: {secret}. Try again.")

    assert secret not in scrubbed
    assert "[redacted]" in scrubbed
    assert scrubbed.startswith("Incorrect API key provided:")


def test_bearer_tokens_key_parameters_and_url_passwords_are_scrubbed():
    text = ("Authorization: Bearer abc.def-123 url=https://user:hunter22@example.test/v1"
            "?api_key=plainvalue123 token: tok_999")

    scrubbed = scrub_secrets(text)

    for secret in ("abc.def-123", "hunter22", "plainvalue123", "tok_999"):
        assert secret not in scrubbed


def test_the_value_of_a_secret_environment_variable_is_scrubbed_whatever_its_shape(monkeypatch):
    monkeypatch.setenv("MY_PROVIDER_API_KEY", "plain-looking-value")

    assert "plain-looking-value" not in scrub_secrets("the server said plain-looking-value")


def test_ordinary_text_is_left_alone():
    text = "The model `gpt-4o` does not exist or you do not have access to it."

    assert scrub_secrets(text) == text


def test_model_call_error_is_one_scrubbed_line_with_exit_code_3():
    error = ModelCallError("bad key\nsk-proj-abcdefghijklmnopqrstuvwxyz012345\n", kind="auth")

    assert isinstance(error, ModelError)
    assert error.exit_code == 3
    assert "\n" not in str(error)
    assert "sk-proj-abcdefghij" not in str(error)
    assert error.retryable is False


# --- classification ------------------------------------------------------------------------


def test_authentication_and_permission_errors_are_auth():
    assert classify_exception(E.AuthenticationError("nope", "openai", "m")).kind == "auth"
    denied = E.PermissionDeniedError("no", "openai", "m", response(403))
    assert classify_exception(denied).kind == "auth"


def test_not_found_is_not_found():
    failure = classify_exception(E.NotFoundError("The model `x` does not exist", "m", "openai"))

    assert failure == Failure("not_found", "The model `x` does not exist", 404)
    assert not failure.retryable


def test_context_window_is_told_apart_from_other_bad_requests():
    too_long = E.ContextWindowExceededError("maximum context length is 8192", "m", "openai")
    bad = E.BadRequestError("Unrecognized argument", "m", "openai")

    assert classify_exception(too_long).kind == "context_window"
    assert classify_exception(bad).kind == "bad_request"


def test_a_missing_provider_prefix_is_unknown_model():
    error = E.BadRequestError("LLM Provider NOT provided. You passed model=foo", "foo", None)

    assert classify_exception(error).kind == "unknown_model"


def test_rate_limit_is_retryable_and_carries_retry_after():
    limited = response(429, {"retry-after": "3"})
    error = E.RateLimitError("slow down", "openai", "m", response=limited)

    failure = classify_exception(error)

    assert failure.kind == "rate_limited"
    assert failure.retryable
    assert failure.retry_after == 3.0


def test_exhausted_quota_is_not_retried():
    error = E.RateLimitError("You exceeded your current quota (insufficient_quota)", "openai", "m")

    assert classify_exception(error).kind == "quota"
    assert not classify_exception(error).retryable


@pytest.mark.parametrize("error", [
    E.InternalServerError("boom", "openai", "m"),
    E.ServiceUnavailableError("overloaded", "openai", "m"),
    E.BadGatewayError("bad gateway", "openai", "m"),
])
def test_server_errors_are_retryable(error):
    failure = classify_exception(error)

    assert failure.kind == "server_error"
    assert failure.retryable


def test_timeouts_are_retryable():
    assert classify_exception(E.Timeout("Request timed out", "m", "openai")).kind == "timeout"
    assert classify_exception(TimeoutError()).kind == "timeout"


def test_a_refused_connection_is_unreachable_with_the_root_cause():
    error = E.InternalServerError("Connection error.", "openai", "m")
    error.__cause__ = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")

    failure = classify_exception(error)

    assert failure.kind == "unreachable"
    assert "Connect call failed" in failure.detail


def test_a_stream_that_broke_off_is_retryable():
    broken = E.APIConnectionError("Response payload is not completed", "openai", "m")
    error = E.MidStreamFallbackError("stream broke", "m", "openai", original_exception=broken)

    assert classify_exception(error).kind == "stream_interrupted"
    assert classify_exception(StreamIncomplete()).kind == "stream_interrupted"


def test_a_stream_that_went_silent_is_a_timeout():
    silent = E.APIConnectionError("Timeout on reading data from socket", "openai", "m")
    error = E.MidStreamFallbackError("stream broke", "m", "openai", original_exception=silent)

    assert classify_exception(error).kind == "timeout"


def test_anything_else_is_unexpected_and_not_retried():
    failure = classify_exception(KeyError("choices"))

    assert failure.kind == "unexpected"
    assert not failure.retryable


def test_provider_detail_drops_litellms_prefixes():
    error = E.ContextWindowExceededError("This model's maximum context length is 8192", "m", "x")

    assert classify_exception(error).detail == "This model's maximum context length is 8192"


def test_a_key_inside_a_provider_message_never_reaches_the_failure():
    error = E.AuthenticationError("Wrong key sk-proj-abcdefghijklmnopqrstuvwxyz01", "o", "m")

    assert "abcdefghij" not in classify_exception(error).detail


@pytest.mark.parametrize("kind", [
    "auth", "unknown_model", "not_found", "bad_request", "context_window", "quota",
    "rate_limited", "server_error", "timeout", "unreachable", "stream_interrupted", "unexpected",
])
def test_every_kind_has_a_one_line_message_naming_the_model(kind):
    message = describe(Failure(kind, "detail", 500), model="openai/m", api_base=None,
                       attempts=5, timeout=30.0, api_key_env=None)

    assert message.startswith("openai/m: ")
    assert "\n" not in message
