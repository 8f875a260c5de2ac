"""AnswerSchema: the shape an answer must have, and each answer checked against it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import BaseModel

from rlm_tui.engine.answer_schema import AnswerSchema, value_json
from rlm_tui.errors import InputError, UsageError

SCHEMA = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}


class Verdict(BaseModel):
    ok: bool
    why: str = ""


def test_a_json_schema_checks_answers_and_gives_the_parsed_value():
    schema = AnswerSchema.from_json_schema(SCHEMA)
    assert schema.check('{"ok": true}').value == {"ok": True}
    assert schema.check('  ```json\n{"ok": false}\n```  ').value == {"ok": False}
    bad = schema.check('{"ok": "yes"}')
    assert bad.value is None and bad.errors == ["at $.ok: 'yes' is not of type 'boolean'"]
    assert schema.check("ok: yes").errors[0].startswith("the answer is not JSON (")
    assert '"required"' in schema.describe() and "FINAL" in schema.describe()


def test_a_string_schema_takes_the_text_itself():
    schema = AnswerSchema.from_json_schema({"type": "string", "maxLength": 5})
    assert schema.check("Paris").value == "Paris"
    assert schema.check('"Rome"').value == "Rome"
    assert schema.check("Ouagadougou").errors


def test_a_pydantic_model_gives_its_instance_and_field_errors():
    schema = AnswerSchema.from_model(Verdict)
    assert schema.check('{"ok": true}').value == Verdict(ok=True)
    assert schema.check('{"why": 1}').errors == [
        "at $.ok: Field required", "at $.why: Input should be a valid string"]
    assert schema.json_schema["title"] == "Verdict"
    assert value_json(Verdict(ok=True)) == '{"ok":true,"why":""}'
    with pytest.raises(UsageError, match="not a pydantic model"):
        AnswerSchema.from_model(dict)


@pytest.mark.parametrize(("content", "said"), [
    (None, "no such schema file"),
    ("{oops", "not JSON"),
    ('{"type": 3}', "not a valid JSON Schema"),
    ('"a string"', "a JSON Schema is a JSON object"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_a_bad_schema_file_is_one_input_error_naming_it(tmp_path, content, said):
    path = tmp_path / "s.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as caught:
        AnswerSchema.from_file(path)
    message = str(caught.value)
    assert said in message and str(path) in message and "\n" not in message


def test_an_invalid_inline_schema_is_a_usage_error():
    with pytest.raises(UsageError, match="not a valid JSON Schema.*at \\$.type"):
        AnswerSchema.from_json_schema({"type": "strin"})
    with pytest.raises(UsageError, match="not JSON"):
        AnswerSchema.from_json_schema({"default": {1, 2}})


def test_a_file_schema_checks_as_the_dict_does(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SCHEMA))
    schema = AnswerSchema.from_file(path)
    assert schema.json_schema == SCHEMA and schema.source == str(path)
    assert schema.check('{"ok": 1}').errors


def test_errors_are_capped_and_one_line_each():
    schema = AnswerSchema.from_json_schema({"type": "array", "items": {"type": "string"}})
    errors = schema.check(json.dumps([{"x\ny": i} for i in range(50)])).errors
    assert len(errors) == 10 and all("\n" not in e and len(e) <= 300 for e in errors)


def test_importing_the_engine_does_not_import_jsonschema():
    code = ("import sys, rlm_tui.engine.answer_schema, rlm_tui.engine; "
            "print('jsonschema' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"
