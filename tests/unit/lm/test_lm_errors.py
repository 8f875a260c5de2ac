"""Sorting litellm's exceptions and HTTP errors, and keeping keys out of messages."""

import json

import httpx
import pytest

from rlm_tui.errors import ModelError
from rlm_tui.lm import ModelCallError, scrub_secrets
from rlm_tui.lm.failures import (
    Failure,
    StreamIncomplete,
    classify_exception,
    classify_http_error,
    classify_stream_error,
    describe,
)
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


# --- HTTP errors seen by the direct transport --------------------------------------------


def openai_error(message: str, code: str | None = None, type: str = "invalid_request_error"):
    return json.dumps({"error": {"message": message, "type": type, "param": None,
                                 "code": code}}).encode()


@pytest.mark.parametrize(("status", "kind"), [
    (400, "bad_request"), (401, "auth"), (403, "auth"), (404, "not_found"), (402, "quota"),
    (408, "timeout"), (409, "bad_request"), (422, "bad_request"), (429, "rate_limited"),
    (500, "server_error"), (502, "server_error"), (503, "server_error"), (504, "server_error"),
])
def test_http_statuses_sort_as_litellms_exceptions_do(status, kind):
    assert classify_http_error(status, openai_error("something")).kind == kind


def test_the_providers_message_is_the_detail_one_line_and_scrubbed():
    body = openai_error("Incorrect API key provided:\n sk-proj-abcdefghijklmnopqrstuvwxyz01.")

    failure = classify_http_error(401, body)

    assert failure == Failure("auth", "Incorrect API key provided: [redacted].", 401)


def test_openais_context_length_code_is_context_window_whatever_the_message():
    body = openai_error("Too long.", code="context_length_exceeded")

    assert classify_http_error(400, body).kind == "context_window"


def test_a_context_window_message_is_context_window_without_the_code():
    body = json.dumps({"error": "This model's maximum context length is 4096 tokens"}).encode()

    assert classify_http_error(400, body).kind == "context_window"


def test_insufficient_quota_on_a_429_is_quota_not_a_rate_limit():
    assert classify_http_error(429, openai_error("No.", code="insufficient_quota")).kind == "quota"
    quota = openai_error("You exceeded your current quota, please check your plan")
    assert classify_http_error(429, quota).kind == "quota"


def test_a_429_carries_retry_after_in_seconds_or_as_a_date():
    seconds = classify_http_error(429, b"", {"Retry-After": "7"})
    later = classify_http_error(429, b"", {"retry-after": "Thu, 01 Jan 2099 00:00:00 GMT"})
    millis = classify_http_error(429, b"", {"retry-after-ms": "250"})

    assert seconds.retry_after == 7.0
    assert later.retry_after > 3600
    assert millis.retry_after == 0.25


def test_a_model_not_found_code_is_not_found_whatever_the_status():
    assert classify_http_error(400, openai_error("No model", code="model_not_found")).kind == (
        "not_found")


def test_a_non_json_body_is_the_detail_as_it_is():
    failure = classify_http_error(502, b"<html>Bad gateway</html>\n")

    assert failure == Failure("server_error", "<html>Bad gateway</html>", 502)


def test_an_empty_body_still_gives_a_detail():
    assert classify_http_error(500, b"").detail == "no details"


def test_a_redirect_is_a_bad_request_naming_where_it_pointed():
    failure = classify_http_error(307, b"", {"Location": "https://elsewhere.example/v1"})

    assert failure.kind == "bad_request"
    assert "https://elsewhere.example/v1" in failure.detail


def test_an_error_inside_a_stream_is_sorted_by_the_status_it_names():
    assert classify_stream_error({"message": "slow down", "code": 429}).kind == "rate_limited"
    assert classify_stream_error({"message": "overloaded"}).kind == "server_error"
    assert classify_stream_error("plain text error").detail == "plain text error"
