"""Typed answers through the engine: FINAL of a dict or a list is JSON, and with a schema each
answer is validated, an invalid one sent back to the model (recorded as answer_rejected),
the forced one included. Real workers, scripted replies from the local test server."""

from __future__ import annotations

import json

from pydantic import BaseModel

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine import Run, RunContext
from rlm_tui.engine.answer_schema import AnswerSchema
from rlm_tui.forks import plan_fork
from rlm_tui.lm import ModelClient
from rlm_tui.transcript import SessionModel
from tests.integration.test_engine import FAST_RETRY, Scripted, make_run, repl

OK_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}},
             "required": ["ok"], "additionalProperties": False}


class Checkpoint(BaseModel):
    checkpoint: bool
    reason: str
    confidence: float


def schema_run(server, answer_schema: AnswerSchema | None, **overrides) -> tuple[Run, list]:
    settings = Settings(model="openai/root-model", sub_model="openai/sub-model",
                        api_base=server.base_url, max_retries=0, **overrides)
    bus = ev.EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    return Run(settings, ModelClient(retry=FAST_RETRY), bus, schema=answer_schema), seen


def last_user_message(request: dict) -> str:
    return str(request["messages"][-1]["content"])


async def test_final_of_a_dict_answers_with_json_not_pythons_repr(openai_server):
    openai_server.responder = Scripted([repl('FINAL({"ok": True, "files": ["a.py"]})')])
    run, seen = make_run(openai_server)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.answer == '{"ok": true, "files": ["a.py"]}'
    assert outcome.value is None  # no schema: nothing validated
    final = next(e for e in seen if e.type == "final_answer")
    assert final.answer == outcome.answer and not final.validated


async def test_final_var_of_a_list_and_a_prose_final_of_json_are_json(openai_server):
    openai_server.responder = Scripted([repl("found = [1, 'é', None]\nFINAL_VAR('found')")])
    run, _ = make_run(openai_server)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.answer == '[1, "é", null]'
    openai_server.responder = Scripted(['Done.\n\nFINAL({"ok":   true})'])
    run, _ = make_run(openai_server)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.answer == '{"ok": true}'


async def test_a_schema_violated_once_then_met(openai_server):
    script = Scripted([repl('print("checked")\nFINAL({"ok": "yes"})\nprint("never")'),
                       repl('FINAL({"ok": True})')])
    openai_server.responder = script
    run, seen = schema_run(openai_server, AnswerSchema.from_json_schema(OK_SCHEMA))
    outcome = await run.start("Is it ok?", RunContext.from_value("ctx"))
    assert outcome.status == "answered" and outcome.iterations == 2
    assert outcome.answer == '{"ok": true}' and outcome.value == {"ok": True}
    # The system prompt showed the shape; the model was told the errors, and the output of
    # the cell that answered (the rest of the cell did not run).
    assert '"required"' in script.root_requests[0]["messages"][0]["content"]
    told = last_user_message(script.root_requests[1])
    assert "not accepted" in told and "'yes' is not of type 'boolean'" in told
    assert "checked" in told and "never" not in told
    rejected = [e for e in seen if e.type == "answer_rejected"]
    assert len(rejected) == 1 and rejected[0].answer == '{"ok": "yes"}'
    assert rejected[0].node_id.endswith(".i1") and rejected[0].errors
    kinds = [e.kind for e in seen if e.type == "message_added"]
    assert "rejected" in kinds
    final = next(e for e in seen if e.type == "final_answer")
    assert final.validated and final.value == {"ok": True}
    tree = SessionModel.from_events(seen)
    first = tree.root.iterations[0]
    assert [r.answer for r in first.rejections] == ['{"ok": "yes"}']
    assert tree.root.turns[0].answer_schema == OK_SCHEMA
    assert tree.to_dict()["value"] == {"ok": True}


async def test_a_pydantic_model_schema_gives_the_model_instance(openai_server):
    script = Scripted([
        'FINAL({"checkpoint": true})',
        repl('FINAL({"checkpoint": True, "reason": "tests pass", "confidence": 0.9})'),
    ])
    openai_server.responder = script
    run, seen = schema_run(openai_server, AnswerSchema.from_model(Checkpoint))
    outcome = await run.start("Should we checkpoint?", RunContext.from_value("ctx"))
    assert outcome.status == "answered"
    assert outcome.value == Checkpoint(checkpoint=True, reason="tests pass", confidence=0.9)
    told = last_user_message(script.root_requests[1])
    assert "$.reason: Field required" in told and "$.confidence: Field required" in told
    final = next(e for e in seen if e.type == "final_answer")
    assert final.value == {"checkpoint": True, "reason": "tests pass", "confidence": 0.9}


async def test_a_forced_answer_that_fails_validation_ends_halted_saying_why(openai_server):
    script = Scripted([repl("x = 1"), 'FINAL({"ok": 3})'])
    openai_server.responder = script
    run, seen = schema_run(openai_server, AnswerSchema.from_json_schema(OK_SCHEMA),
                           max_iterations=1)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.status == "halted" and outcome.forced and outcome.answer is None
    assert "does not match the schema" in outcome.reason
    assert "3 is not of type 'boolean'" in outcome.reason
    assert "JSON of the required shape" in last_user_message(script.root_requests[-1])
    rejected = [e for e in seen if e.type == "answer_rejected"]
    assert len(rejected) == 1 and rejected[0].forced
    assert not any(e.type == "final_answer" for e in seen)


async def test_a_forced_answer_that_validates_is_the_value(openai_server):
    openai_server.responder = Scripted([repl("x = 1"), '```json\n{"ok": false}\n```'])
    run, _ = schema_run(openai_server, AnswerSchema.from_json_schema(OK_SCHEMA),
                        max_iterations=1)
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.status == "answered" and outcome.forced and outcome.value == {"ok": False}


async def test_the_schema_file_in_the_settings_is_used(openai_server, tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(OK_SCHEMA))
    openai_server.responder = Scripted([repl('FINAL({"ok": 1})'), repl('FINAL({"ok": True})')])
    run, _ = schema_run(openai_server, None, schema=str(path))
    outcome = await run.start("q", RunContext.from_value("ctx"))
    assert outcome.value == {"ok": True} and outcome.iterations == 2


async def test_a_follow_up_has_its_own_schema_or_none(openai_server):
    script = Scripted([repl('FINAL({"ok": True})'), repl("FINAL('plain words')"),
                       repl("FINAL([1, 2])"), repl('FINAL(["a", "b"])')])
    openai_server.responder = script
    run, _ = schema_run(openai_server, AnswerSchema.from_json_schema(OK_SCHEMA))
    first = await run.start("q", RunContext.from_value("ctx"), keep_open=True)
    assert first.value == {"ok": True}
    free = await run.ask("and in words?", schema=None)
    assert free.answer == "plain words" and free.value is None
    assert "does not apply" in last_user_message(script.root_requests[1])
    names = AnswerSchema.from_json_schema({"type": "array", "items": {"type": "string"}})
    listed = await run.ask("which names?", schema=names)
    await run.close()
    assert listed.value == ["a", "b"] and listed.iterations == 2


async def test_a_fork_rebuilds_across_a_rejection_and_keeps_the_schema(openai_server):
    openai_server.responder = Scripted([repl('kept = 41\nFINAL({"ok": "no"})'),
                                        repl('FINAL({"ok": True})')])
    run, seen = schema_run(openai_server, AnswerSchema.from_json_schema(OK_SCHEMA))
    await run.start("q", RunContext.from_value("ctx"))
    plan = plan_fork(seen, "1", transcript="parent.jsonl")
    assert plan.schema == OK_SCHEMA and plan.iterations[0].rejections
    # The fork gets no schema of its own: the recorded one still holds.
    script = Scripted([repl('FINAL({"ok": kept})'), repl('FINAL({"ok": kept == 41})')])
    openai_server.responder = script
    fork, forked = schema_run(openai_server, None)
    outcome = await fork.start_fork(plan, RunContext.from_value("ctx"))
    assert outcome.status == "answered" and outcome.value == {"ok": True}
    rebuilt = [e for e in forked if e.type == "answer_rejected" and e.rebuilt]
    assert len(rebuilt) == 1 and rebuilt[0].answer == '{"ok": "no"}'
    live = [e for e in forked if e.type == "answer_rejected" and not e.rebuilt]
    assert len(live) == 1 and live[0].answer == '{"ok": 41}'
    # The model went on from the conversation as it was: the rejection's message last.
    assert "not accepted" in last_user_message(script.root_requests[0])
    tree = SessionModel.from_events(forked)
    assert [len(it.rejections) for it in tree.root.iterations] == [1, 1, 0]
