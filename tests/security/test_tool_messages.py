"""A tool call's message is the worker's, so hostile: the host decodes and checks it before
any tool runs (sandbox/tool_calls.py), and a result too big to cross is refused."""

from __future__ import annotations

import json

import pytest

from rlm_tui.sandbox.namespace import MAX_TOOL_JSON_CHARS
from rlm_tui.sandbox.tool_calls import answer_tool_call

CALLED: list = []


async def handler(request) -> str:
    CALLED.append(request)
    return json.dumps(request.args)


def call(arguments, name="echo") -> dict:
    return {"op": "call", "id": 1, "kind": "tool", "name": name, "arguments": arguments}


@pytest.mark.parametrize("message, error", [
    (call(json.dumps({"args": [], "kwargs": {}}), name="os_system"), "no tool named"),
    (call(json.dumps({"args": [], "kwargs": {}}), name=["echo"]), "malformed tool call"),
    (call({"args": [], "kwargs": {}}), "malformed tool call"),
    (call("{not json"), "not valid JSON"),
    (call("[" * 100_000 + "]" * 100_000), "not valid JSON"),
    (call(json.dumps({"args": {}, "kwargs": {}})), "malformed arguments"),
    (call(json.dumps({"args": [], "kwargs": []})), "malformed arguments"),
    (call(json.dumps({"args": [], "kwargs": {"not an identifier": 1}})), "malformed"),
    (call(json.dumps([1, 2])), "malformed arguments"),
    (call("x" * (MAX_TOOL_JSON_CHARS + 1)), "over 1,000,000 characters"),
])
async def test_a_malformed_tool_call_is_refused_before_any_tool_runs(message, error):
    CALLED.clear()
    reply = await answer_tool_call(message, ("echo",), handler, 5.0)
    assert error in reply["error"] and "json" not in reply
    assert CALLED == []


async def test_a_well_formed_call_reaches_the_handler_as_plain_data():
    CALLED.clear()
    arguments = json.dumps({"args": [1, "a", [None]], "kwargs": {"k": {"x": 1.5}}})
    reply = await answer_tool_call(call(arguments), ("echo",), handler, 5.0)
    assert reply == {"json": '[1, "a", [null]]'}
    (request,) = CALLED
    assert request.kwargs == {"k": {"x": 1.5}}
    assert request.arguments == '{"args":[1,"a",[null]],"kwargs":{"k":{"x":1.5}}}'


async def test_a_result_over_the_cap_never_crosses():
    async def huge(request) -> str:
        return "x" * (MAX_TOOL_JSON_CHARS + 1)

    reply = await answer_tool_call(call('{"args":[],"kwargs":{}}'), ("echo",), huge, 5.0)
    assert "could not be sent" in reply["error"]


async def test_a_lone_surrogate_in_the_arguments_cannot_break_the_transcript():
    from rlm_tui import events as ev

    CALLED.clear()
    arguments = '{"args":["\\ud800 x"],"kwargs":{}}'  # the escape, as a hostile frame has it
    reply = await answer_tool_call(call(arguments), ("echo",), handler, 5.0)
    assert "json" in reply
    (request,) = CALLED
    assert request.args == ["\ud800 x"]  # the tool gets what was sent
    request.arguments.encode("utf-8")  # the event's copy is valid UTF-8
    ev.ToolStarted(session_id="s", node_id="n", name="echo",
                   arguments=request.arguments).model_dump_json()
