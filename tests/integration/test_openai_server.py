"""The local OpenAI-compatible server itself, seen from plain HTTP clients."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.integration.openai_server import OpenAIServer, Reply


def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def sse_payloads(text: str) -> list[str]:
    return [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]


def test_non_streaming_reply_is_a_chat_completion_with_usage(openai_server):
    openai_server.script(
        Reply(text="plain answer", usage={"prompt_tokens": 3, "completion_tokens": 2})
    )

    status, _, body = post(f"{openai_server.base_url}/chat/completions",
                           {"model": "m", "messages": [{"role": "user", "content": "hi"}]})

    reply = json.loads(body)
    assert status == 200
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"] == "plain answer"
    assert reply["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_streaming_reply_is_sse_chunks_then_usage_then_done(openai_server):
    openai_server.script(Reply(text="one two", usage={"prompt_tokens": 4, "completion_tokens": 2}))

    status, headers, body = post(f"{openai_server.base_url}/chat/completions", {
        "model": "m", "messages": [], "stream": True, "stream_options": {"include_usage": True},
    })

    payloads = sse_payloads(body)
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    assert payloads[-1] == "[DONE]"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == "one two"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 6


def test_usage_is_sent_only_when_the_client_asks(openai_server):
    status, _, body = post(f"{openai_server.base_url}/chat/completions",
                           {"model": "m", "messages": [], "stream": True})

    assert status == 200
    assert all("usage" not in json.loads(p) for p in sse_payloads(body)[:-1])


def test_text_is_split_into_the_requested_number_of_chunks(openai_server):
    openai_server.script(Reply(text="abcdefghij", chunks=3))

    _, _, body = post(f"{openai_server.base_url}/chat/completions",
                      {"model": "m", "messages": [], "stream": True})

    pieces = [json.loads(p)["choices"][0]["delta"].get("content") for p in sse_payloads(body)[:-1]]
    assert [p for p in pieces if p] == ["abcd", "efg", "hij"]


def test_errors_have_openais_shape_and_headers(openai_server):
    openai_server.script(Reply.rate_limited(retry_after="7"), Reply.model_not_found("nope"))

    status, headers, body = post(f"{openai_server.base_url}/chat/completions", {"model": "m"})
    status_404, _, body_404 = post(f"{openai_server.base_url}/chat/completions", {"model": "m"})

    assert status == 429
    assert headers["Retry-After"] == "7"
    assert json.loads(body)["error"]["code"] == "rate_limit_exceeded"
    assert status_404 == 404
    assert json.loads(body_404)["error"]["code"] == "model_not_found"


def test_models_are_listed(openai_server):
    with urllib.request.urlopen(f"{openai_server.base_url}/models", timeout=5) as response:
        listing = json.loads(response.read())

    assert [m["id"] for m in listing["data"]] == ["test-model"]


def test_requests_are_recorded_with_headers_and_body(openai_server):
    post(f"{openai_server.base_url}/chat/completions", {"model": "m", "messages": []},
         headers={"Authorization": "Bearer abc"})

    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer abc"
    assert request.json == {"model": "m", "messages": []}


def test_the_responder_answers_when_the_script_is_empty(openai_server):
    openai_server.script(Reply(text="scripted"))
    openai_server.responder = lambda body: Reply(text=f"for {body['model']}")

    first = json.loads(post(f"{openai_server.base_url}/chat/completions", {"model": "a"})[2])
    second = json.loads(post(f"{openai_server.base_url}/chat/completions", {"model": "b"})[2])

    assert first["choices"][0]["message"]["content"] == "scripted"
    assert second["choices"][0]["message"]["content"] == "for b"


def test_another_process_reaches_the_server_by_its_url(openai_server):
    openai_server.script(Reply(text="from the other side"))
    code = (
        "import json, sys, urllib.request\n"
        "req = urllib.request.Request(sys.argv[1] + '/chat/completions', method='POST',\n"
        "    data=b'{\"model\": \"m\", \"messages\": []}',\n"
        "    headers={'Content-Type': 'application/json'})\n"
        "print(json.loads(urllib.request.urlopen(req, timeout=5).read())"
        "['choices'][0]['message']['content'])\n"
    )

    result = subprocess.run([sys.executable, "-c", code, openai_server.base_url],
                            capture_output=True, text=True, timeout=60)

    assert result.stdout.strip() == "from the other side"


def test_a_stopped_server_frees_its_port():
    server = OpenAIServer().start()
    port = server.port
    post(f"{server.base_url}/chat/completions", {"model": "m"})

    server.stop()

    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
