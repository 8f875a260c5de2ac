"""The direct transport on the wire: byte-exact streams from a raw server on 127.0.0.1,
connection reuse and lifetime, proxies from the environment, and a subprocess that must
end with no unclosed session."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from rlm_tui.lm import ModelCallError, ModelClient, ModelSpec, RetryPolicy
from rlm_tui.lm.routes import USER_AGENT
from rlm_tui.lm.spec import TRANSPORT_ENV
from tests.integration.openai_server import Reply

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=0.0)
MESSAGES = [{"role": "user", "content": "hi"}]


def event(payload: dict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def content(text: str, finish: str | None = None) -> bytes:
    return event({"model": "raw-model", "choices": [
        {"index": 0, "delta": {"content": text}, "finish_reason": finish}]})


USAGE = event({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7,
                                         "total_tokens": 18}})
DONE = b"data: [DONE]\n\n"


@dataclass
class RawReply:
    """A response written as given, one piece at a time (each its own TCP write)."""

    pieces: list[bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class RawServer:
    """Answers each POST with the next scripted `RawReply` and records the client port it
    came from (one port per connection)."""

    def __init__(self) -> None:
        self.replies: deque[RawReply] = deque()
        self.ports: list[int] = []
        self.paths: list[str] = []
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.ports.append(request.transport.get_extra_info("peername")[1])
        self.paths.append(str(request.url))
        reply = self.replies.popleft() if self.replies else RawReply([content("ok", "stop"),
                                                                       DONE])
        response = web.StreamResponse(status=reply.status, headers={
            "Content-Type": "text/event-stream", **reply.headers})
        await response.prepare(request)
        for piece in reply.pieces:
            await response.write(piece)
            await asyncio.sleep(0.005)  # lets each piece reach the client as its own read
        await response.write_eof()
        return response


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServer]:
    server = RawServer()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    yield server
    await runner.cleanup()


@pytest.fixture(autouse=True)
def direct_transport(monkeypatch):
    monkeypatch.setenv(TRANSPORT_ENV, "auto")


@pytest.fixture
async def client() -> AsyncIterator[ModelClient]:
    client = ModelClient(retry=FAST_RETRY)
    yield client
    await client.aclose()


def spec_for(server: RawServer, **overrides) -> ModelSpec:
    fields = {"model": "openai/raw-model", "api_base": server.base_url, "timeout": 5.0,
              "max_retries": 2}
    return ModelSpec(**{**fields, **overrides})


# --- what arrives on the wire -----------------------------------------------------------------


async def test_crlf_comments_keep_alives_and_events_split_mid_line_are_read_whole(
    raw_server, client,
):
    stream = (b": keep-alive\r\n\r\n" + content("Hel") + b"\r\n: ping\r\n\r\n"
              + content("lo", "stop") + USAGE + DONE).replace(b"\n\n", b"\r\n\r\n")
    raw_server.replies.append(RawReply([stream[i:i + 13] for i in range(0, len(stream), 13)]))
    deltas: list[str] = []

    done = await client.complete(spec_for(raw_server), MESSAGES, on_delta=deltas.append)

    assert deltas == ["Hel", "lo"]
    assert (done.text, done.finish_reason, done.model) == ("Hello", "stop", "raw-model")
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (11, 7)
    assert done.usage.total_tokens == 18


async def test_a_stream_that_ends_without_done_is_retried(raw_server, client):
    raw_server.replies.append(RawReply([content("cut", "stop"), USAGE]))
    raw_server.replies.append(RawReply([content("whole", "stop"), DONE]))

    done = await client.complete(spec_for(raw_server), MESSAGES)

    assert done.text == "whole"
    assert done.retries[0].kind == "stream_interrupted"
    assert "[DONE]" in done.retries[0].reason


async def test_done_as_the_very_last_line_without_its_blank_line_is_accepted(
    raw_server, client,
):
    raw_server.replies.append(RawReply([content("fine", "stop"), b"data: [DONE]"]))

    done = await client.complete(spec_for(raw_server), MESSAGES)

    assert (done.text, done.attempts) == ("fine", 1)


async def test_an_error_sent_inside_the_stream_is_classified_and_retried(raw_server, client):
    raw_server.replies.append(RawReply([content("par"), event(
        {"error": {"message": "Rate limit exceeded upstream", "code": 429}})]))
    raw_server.replies.append(RawReply([content("full", "stop"), DONE]))
    shown: list[str] = []

    done = await client.complete(spec_for(raw_server), MESSAGES, on_delta=shown.append)

    assert done.text == "full"
    assert done.retries[0].kind == "rate_limited"
    assert done.retries[0].discarded_output is True
    assert "Rate limit exceeded upstream" in done.retries[0].reason


async def test_a_chunk_that_is_json_but_not_an_object_is_malformed(raw_server, client):
    raw_server.replies.extend([RawReply([event("[1, 2]"), DONE])] * 2)

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(raw_server, max_retries=1), MESSAGES)

    assert caught.value.kind == "stream_interrupted"
    assert "malformed chunk" in str(caught.value)


async def test_a_redirect_is_not_followed_and_fails_as_a_bad_request(raw_server, client):
    raw_server.replies.append(RawReply([], status=307,
                                       headers={"Location": "http://127.0.0.1:9/v1"}))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(spec_for(raw_server), MESSAGES)

    assert caught.value.kind == "bad_request"
    assert caught.value.status_code == 307
    assert len(raw_server.ports) == 1


# --- connections --------------------------------------------------------------------------------


async def test_calls_one_after_another_share_one_connection(raw_server, client):
    for _ in range(3):
        await client.complete(spec_for(raw_server), MESSAGES)

    assert len(set(raw_server.ports)) == 1


async def test_a_failed_stream_does_not_leave_its_connection_for_the_next_call(
    raw_server, client,
):
    raw_server.replies.append(RawReply([content("a"), b'data: {"broken\n\n']))

    await client.complete(spec_for(raw_server), MESSAGES)

    assert len(raw_server.ports) == 2
    assert raw_server.ports[0] != raw_server.ports[1]


async def test_after_aclose_the_next_call_opens_a_new_connection(raw_server, client):
    await client.complete(spec_for(raw_server), MESSAGES)
    await client.aclose()
    await client.aclose()  # idempotent

    done = await client.complete(spec_for(raw_server), MESSAGES)

    assert done.text == "ok"
    assert raw_server.ports[0] != raw_server.ports[1]


async def test_concurrent_calls_each_get_a_connection(raw_server, client):
    raw_server.replies.extend(RawReply([content(f"n{i}", "stop"), DONE]) for i in range(8))

    results = await asyncio.gather(*(client.complete(spec_for(raw_server), MESSAGES)
                                     for _ in range(8)))

    assert sorted(r.text for r in results) == sorted(f"n{i}" for i in range(8))


async def test_a_proxy_named_in_the_environment_carries_the_request(
    raw_server, client, monkeypatch,
):
    # The raw server stands in for the proxy: it receives the request for the far host. The
    # far host is a port on 127.0.0.1 nothing listens on, so a request that skipped the proxy
    # would be refused here, never looked up or sent beyond 127.0.0.1.
    monkeypatch.setenv("HTTP_PROXY", raw_server.base_url.removesuffix("/v1"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    spec = ModelSpec(model="openai/raw-model", api_base="http://127.0.0.1:9/v1",
                     timeout=5.0, max_retries=0)

    done = await client.complete(spec, MESSAGES)

    assert done.text == "ok"
    assert raw_server.paths == ["http://127.0.0.1:9/v1/chat/completions"]


async def test_a_netrc_entry_for_the_host_changes_nothing(raw_server, client, monkeypatch,
                                                          tmp_path):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter22\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))

    done = await client.complete(spec_for(raw_server), MESSAGES)

    assert done.text == "ok"


# --- the session's lifetime ---------------------------------------------------------------------


def test_loops_that_end_and_clients_that_are_dropped_leave_nothing_unclosed(openai_server):
    openai_server.responder = lambda body: Reply(text="fine")
    code = (
        "import asyncio, gc, sys\n"
        "from rlm_tui.lm import ModelClient, ModelSpec\n"
        "spec = ModelSpec(model='openai/test-model', api_base=sys.argv[1], timeout=5)\n"
        "messages = [{'role': 'user', 'content': 'hi'}]\n"
        "client = ModelClient()\n"
        "for _ in range(2):  # one client, two loops: a session for each, closed with it\n"
        "    print(asyncio.run(client.complete(spec, messages)).text)\n"
        "async def dropped():\n"
        "    print((await ModelClient().complete(spec, messages)).text)\n"
        "    gc.collect()\n"
        "    await asyncio.sleep(0.1)  # the loop closes the dropped client's session\n"
        "asyncio.run(dropped())\n"
        "del client\n"
        "gc.collect()\n"
    )

    result = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-c", code, openai_server.base_url],
        capture_output=True, text=True, timeout=120,
    )

    assert result.stderr == ""
    assert result.stdout == "fine\nfine\nfine\n"
    assert all(r.headers.get("User-Agent") == USER_AGENT
               for r in openai_server.completion_requests)


async def test_a_client_used_from_two_loops_keeps_a_session_for_each(raw_server):
    client = ModelClient(retry=FAST_RETRY)
    spec = spec_for(raw_server)

    def in_another_loop() -> str:
        return asyncio.run(client.complete(spec, MESSAGES)).text

    here = await client.complete(spec, MESSAGES)
    there = await asyncio.to_thread(in_another_loop)

    assert (here.text, there) == ("ok", "ok")
    await client.aclose()
    gc.collect()


async def test_an_error_response_read_to_its_end_leaves_its_connection_for_the_retry(
    raw_server, client,
):
    raw_server.replies.append(RawReply([b'{"error": {"message": "busy"}}'], status=503,
                                       headers={"Content-Type": "application/json"}))

    done = await client.complete(spec_for(raw_server), MESSAGES)

    assert done.retries[0].kind == "server_error"
    assert len(set(raw_server.ports)) == 1
