"""ModelClient against a real HTTP server on 127.0.0.1, over each transport: every test runs
once direct (openai_stream.py) and once through litellm, and checks which one carried it."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from rlm_tui.errors import ModelError
from rlm_tui.lm import (
    PLACEHOLDER_API_KEY,
    ModelCallError,
    ModelClient,
    ModelSpec,
    RetryInfo,
    RetryPolicy,
)
from rlm_tui.lm.completion import estimated_tokens
from rlm_tui.lm.routes import USER_AGENT
from rlm_tui.lm.spec import TRANSPORT_ENV
from tests.integration.openai_server import OpenAIServer, Reply

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=0.0, retry_after_cap=1.0)
MESSAGES = [{"role": "user", "content": "What is in the repo?"}]


def spec_for(server: OpenAIServer, **overrides) -> ModelSpec:
    fields = {"model": "openai/test-model", "api_base": server.base_url, "timeout": 1.0,
              "max_retries": 3}
    fields.update(overrides)
    return ModelSpec(**fields)


@pytest.fixture(autouse=True, params=["direct", "litellm"])
def transport(request, monkeypatch, openai_server):
    """Runs the test over one transport (the spec's default, also in subprocesses), then
    checks that every request the server got came over that one."""
    monkeypatch.setenv(TRANSPORT_ENV, "auto" if request.param == "direct" else "litellm")
    yield request.param
    for sent in openai_server.completion_requests:
        went_direct = sent.headers.get("User-Agent") == USER_AGENT
        assert went_direct == (request.param == "direct"), sent.headers.get("User-Agent")


@pytest.fixture
def client() -> ModelClient:
    return ModelClient(retry=FAST_RETRY)


class RecordedSleeps:
    """Stands in for asyncio.sleep so tests can see the waits without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


# --- streaming, usage, cost ----------------------------------------------------------------


async def test_streamed_deltas_arrive_in_order_and_join_to_the_text(openai_server, client):
    openai_server.script(Reply(text="alpha beta gamma delta"))
    deltas: list[str] = []

    done = await client.complete(spec_for(openai_server), MESSAGES, on_delta=deltas.append)

    assert deltas == ["alpha", " beta", " gamma", " delta"]
    assert done.text == "alpha beta gamma delta"
    assert done.finish_reason == "stop"
    assert done.model == "test-model"
    assert done.attempts == 1
    assert done.retries == ()


async def test_deltas_are_delivered_before_the_stream_ends(openai_server, client):
    # The stream stalls after two pieces and never finishes: whatever on_delta got, it got
    # while the response was still open.
    openai_server.script(Reply(text="first second third", stall_after=2))
    deltas: list[str] = []

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server, timeout=0.3, max_retries=0), MESSAGES,
                              on_delta=deltas.append)

    assert deltas == ["first", " second"]
    assert caught.value.kind == "timeout"


async def test_request_asks_for_a_stream_with_usage_and_passes_params(openai_server, client):
    spec = spec_for(openai_server, params={"temperature": 0.25, "max_tokens": 64})

    await client.complete(spec, MESSAGES)

    [request] = openai_server.completion_requests
    assert request.json["stream"] is True
    assert request.json["stream_options"] == {"include_usage": True}
    assert request.json["model"] == "test-model"
    assert request.json["messages"] == MESSAGES
    assert request.json["temperature"] == 0.25
    assert request.json["max_tokens"] == 64


async def test_usage_is_counted_exactly_as_the_server_reported_it(openai_server):
    openai_server.script(Reply(text="ok", usage={"prompt_tokens": 1234, "completion_tokens": 56}))
    client = ModelClient(prices={"openai/test-model": (1.0, 2.0)}, retry=FAST_RETRY)

    done = await client.complete(spec_for(openai_server), MESSAGES)

    assert done.usage.reported is True
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (1234, 56)
    assert done.usage.total_tokens == 1290
    assert done.usage.cost_usd == pytest.approx((1234 * 1.0 + 56 * 2.0) / 1_000_000)


async def test_usage_missing_from_the_stream_is_estimated_marked_and_never_priced(
    openai_server,
):
    # llama.cpp's server streams no usage even when asked: the counts were 0 everywhere.
    openai_server.script(Reply(text="a reply with no usage", send_usage=False))
    client = ModelClient(prices={"openai/test-model": (1.0, 2.0)}, retry=FAST_RETRY)

    done = await client.complete(spec_for(openai_server), MESSAGES)

    assert done.text == "a reply with no usage"
    assert done.usage.reported is False and done.usage.unreported_calls == 1
    expected = estimated_tokens(MESSAGES, done.text)
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == expected
    assert done.usage.completion_tokens == len("a reply with no usage") // 4 > 0
    assert done.usage.cost_usd is None  # an estimate is not priced: the cost is unknown


async def test_unpriced_model_reports_tokens_and_unknown_cost(openai_server, client):
    openai_server.script(Reply(usage={"prompt_tokens": 10, "completion_tokens": 5}))

    done = await client.complete(spec_for(openai_server), MESSAGES)

    assert done.usage.total_tokens == 15
    assert done.usage.cost_usd is None


async def test_a_known_model_name_on_a_local_server_is_not_priced_from_litellms_map(
    openai_server, client,
):
    # gpt-4o-mini has a price in litellm's map, but this server is not OpenAI.
    done = await client.complete(spec_for(openai_server, model="openai/gpt-4o-mini"), MESSAGES)

    assert done.usage.reported is True
    assert done.usage.cost_usd is None


async def test_concurrent_calls_each_get_their_own_answer(openai_server, client):
    openai_server.responder = lambda body: Reply(text=f"echo {body['messages'][0]['content']}")

    results = await asyncio.gather(*(
        client.complete(spec_for(openai_server), [{"role": "user", "content": f"q{i}"}])
        for i in range(6)
    ))

    assert [r.text for r in results] == [f"echo q{i}" for i in range(6)]


# --- retries ---------------------------------------------------------------------------------


async def test_server_error_then_success_is_retried_and_recorded(openai_server, client):
    openai_server.script(Reply.error(500, "boom"), Reply(text="fine"))
    seen: list[RetryInfo] = []

    done = await client.complete(spec_for(openai_server), MESSAGES, on_retry=seen.append)

    assert done.text == "fine"
    assert done.attempts == 2
    assert len(openai_server.completion_requests) == 2  # litellm itself did not retry
    [retry] = done.retries
    assert seen == [retry]
    assert retry.attempt == 1
    assert retry.kind == "server_error"
    assert retry.status_code == 500
    assert "boom" in retry.reason
    assert retry.discarded_output is False


async def test_rate_limit_waits_as_long_as_retry_after_says(openai_server):
    sleeps = RecordedSleeps()
    client = ModelClient(retry=FAST_RETRY, sleep=sleeps)
    openai_server.script(Reply.rate_limited(retry_after="0.3"), Reply(text="after the wait"))

    done = await client.complete(spec_for(openai_server), MESSAGES)

    assert done.text == "after the wait"
    assert done.retries[0].kind == "rate_limited"
    assert done.retries[0].status_code == 429
    assert done.retries[0].wait_s == pytest.approx(0.3)
    assert sleeps.waits == [pytest.approx(0.3)]


async def test_retry_after_beyond_the_cap_waits_only_the_cap(openai_server):
    sleeps = RecordedSleeps()
    client = ModelClient(retry=FAST_RETRY, sleep=sleeps)
    openai_server.script(Reply.rate_limited(retry_after="3600"), Reply())

    await client.complete(spec_for(openai_server), MESSAGES)

    assert sleeps.waits == [FAST_RETRY.retry_after_cap]


async def test_retry_after_as_an_http_date_waits_until_then(openai_server):
    sleeps = RecordedSleeps()
    client = ModelClient(retry=RetryPolicy(base_delay=0.01, retry_after_cap=600.0), sleep=sleeps)
    then = datetime.now(timezone.utc) + timedelta(seconds=120)
    openai_server.script(Reply.rate_limited(retry_after=format_datetime(then, usegmt=True)),
                         Reply())

    done = await client.complete(spec_for(openai_server), MESSAGES)

    [wait] = sleeps.waits
    assert 100 < wait <= 120
    assert done.retries[0].wait_s == wait


async def test_rate_limit_that_never_lifts_fails_with_kind_rate_limited(openai_server, client):
    openai_server.script(*[Reply.rate_limited(retry_after="0")] * 3)

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server, max_retries=2), MESSAGES)

    assert caught.value.kind == "rate_limited"
    assert caught.value.attempts == 3
    assert len(openai_server.completion_requests) == 3


async def test_exhausted_quota_is_not_retried(openai_server, client):
    openai_server.script(Reply.error(429, "You exceeded your current quota, please check your "
                                     "plan and billing details.", code="insufficient_quota"))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server), MESSAGES)

    assert caught.value.kind == "quota"
    assert len(openai_server.completion_requests) == 1


async def test_persistent_server_error_gives_up_after_max_retries(openai_server, client):
    openai_server.script(*[Reply.error(503, "overloaded")] * 3)
    seen: list[RetryInfo] = []

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server, max_retries=2), MESSAGES,
                              on_retry=seen.append)

    assert caught.value.kind == "server_error"
    assert caught.value.status_code == 503
    assert caught.value.attempts == 3
    assert [r.attempt for r in seen] == [1, 2]
    assert "overloaded" in str(caught.value)


async def test_stalled_stream_times_out_and_is_retried(openai_server, client):
    openai_server.script(Reply(text="a b c", stall_after=1), Reply(text="whole answer"))

    done = await client.complete(spec_for(openai_server, timeout=0.3), MESSAGES)

    assert done.text == "whole answer"
    assert done.retries[0].kind == "timeout"
    assert done.retries[0].discarded_output is True
    assert openai_server.wait_for_disconnect()  # the stalled response was abandoned


async def test_slow_first_byte_times_out_and_is_retried(openai_server, client):
    openai_server.script(Reply(first_byte_delay=3.0), Reply(text="quick this time"))

    done = await client.complete(spec_for(openai_server, timeout=0.3), MESSAGES)

    assert done.text == "quick this time"
    assert done.retries[0].kind == "timeout"
    assert done.retries[0].discarded_output is False


async def test_cut_stream_is_retried_and_the_partial_text_is_flagged_for_clearing(
    openai_server, client,
):
    openai_server.script(Reply(text="half of an answer", cut_after=2), Reply(text="full answer"))
    shown: list[str] = []

    def on_retry(info: RetryInfo) -> None:
        if info.discarded_output:
            shown.clear()  # what a UI does with the partial text

    done = await client.complete(spec_for(openai_server), MESSAGES,
                                 on_delta=shown.append, on_retry=on_retry)

    assert done.retries[0].kind == "stream_interrupted"
    assert done.retries[0].discarded_output is True
    assert "".join(shown) == done.text == "full answer"


async def test_stream_that_ends_without_a_finish_reason_is_retried(openai_server, client):
    openai_server.script(Reply(text="maybe cut", finish_reason=None), Reply(text="complete"))

    done = await client.complete(spec_for(openai_server), MESSAGES)

    assert done.text == "complete"
    assert done.retries[0].kind == "stream_interrupted"


async def test_malformed_chunk_is_retried(openai_server, client):
    openai_server.script(Reply(text="a b c", malformed_after=1), Reply(text="clean"))

    done = await client.complete(spec_for(openai_server), MESSAGES)

    assert done.text == "clean"
    assert done.retries[0].kind == "stream_interrupted"


async def test_malformed_chunks_every_time_end_in_a_clear_error(openai_server, client):
    openai_server.script(*[Reply(text="a b c", malformed_after=1)] * 2)

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server, max_retries=1), MESSAGES)

    assert caught.value.kind == "stream_interrupted"
    assert "\n" not in str(caught.value)


async def test_unreachable_server_fails_with_kind_unreachable_after_retries(client):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = ModelSpec(model="openai/test-model", api_base=f"http://127.0.0.1:{port}/v1",
                     timeout=1.0, max_retries=2)
    seen: list[RetryInfo] = []

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec, MESSAGES, on_retry=seen.append)

    assert caught.value.kind == "unreachable"
    assert caught.value.attempts == 3
    assert [r.kind for r in seen] == ["unreachable", "unreachable"]
    assert f"127.0.0.1:{port}" in str(caught.value)


# --- errors retrying cannot fix ---------------------------------------------------------------


async def test_unauthorized_fails_at_once_with_kind_auth(openai_server, client):
    openai_server.script(Reply.unauthorized())

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server), MESSAGES)

    error = caught.value
    assert isinstance(error, ModelError)
    assert error.exit_code == 3
    assert error.kind == "auth"
    assert error.status_code == 401
    assert error.attempts == 1
    assert len(openai_server.completion_requests) == 1
    assert "\n" not in str(error)
    assert str(error).startswith("openai/test-model: authentication failed")


async def test_forbidden_fails_at_once_with_kind_auth(openai_server, client):
    openai_server.script(Reply.error(403, "Project does not have access to model test-model",
                                     type="invalid_request_error"))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server), MESSAGES)

    assert caught.value.kind == "auth"
    assert caught.value.status_code == 403
    assert "does not have access" in str(caught.value)
    assert len(openai_server.completion_requests) == 1


async def test_unknown_model_fails_with_kind_not_found(openai_server, client):
    openai_server.script(Reply.model_not_found("test-model"))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server), MESSAGES)

    assert caught.value.kind == "not_found"
    assert "does not exist" in str(caught.value)
    assert len(openai_server.completion_requests) == 1


async def test_prompt_too_long_fails_with_kind_context_window(openai_server, client):
    openai_server.script(Reply.error(
        400, "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9000 tokens.", type="invalid_request_error", code="context_length_exceeded",
    ))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server), MESSAGES)

    assert caught.value.kind == "context_window"
    assert len(openai_server.completion_requests) == 1


async def test_bad_request_fails_with_kind_bad_request(openai_server, client):
    openai_server.script(Reply.error(400, "Unrecognized request argument supplied: foo",
                                     type="invalid_request_error"))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server), MESSAGES)

    assert caught.value.kind == "bad_request"
    assert "Unrecognized request argument" in str(caught.value)


# --- cancellation -----------------------------------------------------------------------------


async def test_cancelling_mid_stream_aborts_the_request(openai_server, client):
    openai_server.script(Reply(text=" ".join(["word"] * 50), chunk_delay=0.2))
    first_piece = asyncio.Event()
    task = asyncio.create_task(client.complete(
        spec_for(openai_server, timeout=5.0), MESSAGES, on_delta=lambda _: first_piece.set()
    ))
    await asyncio.wait_for(first_piece.wait(), 5)

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(openai_server.wait_for_disconnect, 5.0)
    assert len(openai_server.completion_requests) == 1  # and no retry after the halt


async def test_cancelling_before_the_first_byte_aborts_the_request(openai_server, client):
    openai_server.script(Reply(first_byte_delay=10.0))
    task = asyncio.create_task(client.complete(spec_for(openai_server, timeout=20.0), MESSAGES))
    while not openai_server.completion_requests:
        await asyncio.sleep(0.01)

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(openai_server.wait_for_disconnect, 5.0)


async def test_cancelling_during_a_backoff_wait_stops_retrying(openai_server):
    client = ModelClient(retry=RetryPolicy(base_delay=30.0, max_delay=30.0, jitter=0.0))
    openai_server.script(Reply.error(500, "boom"), Reply())
    retried = asyncio.Event()
    task = asyncio.create_task(client.complete(
        spec_for(openai_server), MESSAGES, on_retry=lambda _: retried.set()
    ))
    await asyncio.wait_for(retried.wait(), 5)

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(openai_server.completion_requests) == 1


# --- keys -------------------------------------------------------------------------------------

OPENAI_SECRET = "sk-proj-OPENAIsecretVALUE0123456789abcdef"
ANTHROPIC_SECRET = "sk-ant-api03-ANTHROPICsecret0123456789abcdef"


def assert_no_secret_in_any_request(server: OpenAIServer, *secrets: str) -> None:
    for request in server.requests:
        sent = request.raw_body + " ".join(f"{k}: {v}" for k, v in request.headers.items())
        for secret in secrets:
            assert secret not in sent


async def test_a_local_server_never_receives_a_providers_key(openai_server, client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_SECRET)
    openai_server.script(Reply.error(500, "boom"), Reply())

    await client.complete(spec_for(openai_server), MESSAGES)

    assert len(openai_server.completion_requests) == 2
    assert_no_secret_in_any_request(openai_server, OPENAI_SECRET, ANTHROPIC_SECRET)
    for request in openai_server.completion_requests:
        assert request.headers["Authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"


async def test_the_providers_own_endpoint_gets_its_own_key_only(
    openai_server, monkeypatch,
):
    # No api_base: OpenAI's endpoint, moved here as a user would with OPENAI_BASE_URL.
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_SECRET)
    client = ModelClient(retry=FAST_RETRY)
    spec = ModelSpec(model="openai/gpt-4o-mini", timeout=5.0, max_retries=0)

    done = await client.complete(spec, MESSAGES)

    [request] = openai_server.completion_requests
    assert request.headers["Authorization"] == f"Bearer {OPENAI_SECRET}"
    assert request.json["model"] == "gpt-4o-mini"
    assert_no_secret_in_any_request(openai_server, ANTHROPIC_SECRET)
    assert done.usage.cost_usd is not None and done.usage.cost_usd > 0  # priced from the map


async def test_the_named_key_variable_is_sent_and_only_it(openai_server, client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    monkeypatch.setenv("LOCAL_SERVER_KEY", "local-server-key-123")

    await client.complete(spec_for(openai_server, api_key_env="LOCAL_SERVER_KEY"), MESSAGES)

    [request] = openai_server.completion_requests
    assert request.headers["Authorization"] == "Bearer local-server-key-123"
    assert_no_secret_in_any_request(openai_server, OPENAI_SECRET)


async def test_a_named_key_variable_that_is_unset_fails_before_any_request(
    openai_server, client, monkeypatch,
):
    monkeypatch.delenv("LOCAL_SERVER_KEY", raising=False)

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server, api_key_env="LOCAL_SERVER_KEY"), MESSAGES)

    assert caught.value.kind == "auth"
    assert "$LOCAL_SERVER_KEY" in str(caught.value)
    assert openai_server.completion_requests == []


async def test_a_key_echoed_back_by_the_server_is_scrubbed_from_the_error(
    openai_server, client, monkeypatch,
):
    secret = "local-secret-KEY-abcdef123456"
    monkeypatch.setenv("LOCAL_SERVER_KEY", secret)
    openai_server.script(Reply.error(401, f"Incorrect API key provided: {secret}.",
                                     type="invalid_request_error", code="invalid_api_key"))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(openai_server, api_key_env="LOCAL_SERVER_KEY"), MESSAGES)

    assert caught.value.kind == "auth"
    assert secret not in str(caught.value)
    assert "[redacted]" in str(caught.value)


# --- the terminal stays clean -----------------------------------------------------------------


async def test_nothing_is_written_to_the_terminal(openai_server, client, capfd):
    openai_server.script(Reply.error(500, "boom"), Reply(), Reply.unauthorized())
    await client.complete(spec_for(openai_server), MESSAGES)
    with pytest.raises(ModelCallError):
        await client.complete(spec_for(openai_server), MESSAGES)

    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""


def test_a_client_in_another_process_uses_the_server_and_prints_only_its_answer(openai_server):
    # How engine tests will drive `rlm-tui run` in a subprocess against this server.
    openai_server.script(Reply.error(500, "boom"), Reply(text="answer from afar"))
    code = (
        "import asyncio, sys\n"
        "from rlm_tui.lm import ModelClient, ModelSpec, RetryPolicy\n"
        "spec = ModelSpec(model='openai/test-model', api_base=sys.argv[1], timeout=5)\n"
        "client = ModelClient(retry=RetryPolicy(base_delay=0.01))\n"
        "done = asyncio.run(client.complete(spec, [{'role': 'user', 'content': 'hi'}]))\n"
        "print(done.text, done.attempts)\n"
    )

    result = subprocess.run([sys.executable, "-c", code, openai_server.base_url],
                            capture_output=True, text=True, timeout=120)

    assert result.stderr == ""
    assert result.stdout == "answer from afar 2\n"


async def test_an_exception_from_on_delta_propagates_unchanged_and_is_not_retried(
    openai_server, client,
):
    class Broken(Exception):
        pass

    def on_delta(_: str) -> None:
        raise Broken

    with pytest.raises(Broken):
        await client.complete(spec_for(openai_server), MESSAGES, on_delta=on_delta)
    assert len(openai_server.completion_requests) == 1
