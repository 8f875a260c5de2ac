"""The shape an answer must have, and checking an answer against it: a JSON Schema (checked by
the `jsonschema` library) or a pydantic model (checked by pydantic).

    schema = AnswerSchema.from_file("verdict.json")   # or .from_model(Verdict), .from_json_schema({...})
    check = schema.check('{"checkpoint": true, "reason": "tests pass"}')
    check.value, check.errors      # the validated value (a model instance for a model), or why not

A broken schema is one line: InputError naming the file (`from_file`), UsageError otherwise.
jsonschema is imported when a JSON Schema is first used, never by `import rlm_tui`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm_tui.errors import InputError, UsageError, read_text_file

# Errors reported for one answer (the model reads them), and the characters of each.
MAX_ERRORS = 10
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class AnswerCheck:
    """An answer checked against a schema: `value` the validated value (a pydantic instance
    for a model, the parsed JSON for a JSON Schema), `errors` one line each, empty when the
    answer has the shape."""

    value: Any = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class AnswerSchema:
    """The shape an answer must have: a JSON Schema dict, and the pydantic model it came
    from when it came from one."""

    def __init__(self, json_schema: dict[str, Any], *, model: type[Any] | None = None,
                 source: str | None = None) -> None:
        self.json_schema = json_schema
        self.model = model
        self.source = source  # the file it was read from, if it was
        self._validator: Any = None

    @classmethod
    def from_model(cls, model: Any) -> AnswerSchema:
        """The shape of a pydantic BaseModel subclass; its instances are the values."""
        from pydantic import BaseModel

        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise UsageError(f"schema: {model!r} is not a pydantic model (a BaseModel "
                             "subclass) nor a JSON Schema dict")
        try:
            schema = model.model_json_schema()
        except Exception as exc:  # a field pydantic cannot describe as JSON Schema
            raise UsageError(f"schema: {model.__name__} has no JSON Schema: "
                             f"{_one_line(str(exc))}") from None
        return cls(schema, model=model)

    @classmethod
    def from_json_schema(cls, schema: Any, *, source: str | None = None) -> AnswerSchema:
        """A JSON Schema given as a dict; UsageError (InputError naming `source`, when given)
        if it is not a valid one."""
        where = f"{source}: " if source else "schema: "
        error = InputError if source else UsageError
        if not isinstance(schema, dict):
            raise error(f"{where}a JSON Schema is a JSON object, not "
                        f"{type(schema).__name__}")
        try:
            json.dumps(schema)
        except (TypeError, ValueError) as exc:
            raise error(f"{where}the schema is not JSON: {_one_line(str(exc))}") from None
        from jsonschema import exceptions, validators  # deferred: ~40 ms, only with a schema

        validator_class = validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except exceptions.SchemaError as exc:
            at = _json_path(exc.absolute_path)
            raise error(f"{where}not a valid JSON Schema: {_one_line(exc.message)}"
                        + (f" (at {at})" if at != "$" else "")) from None
        made = cls(schema, source=source)
        made._validator = validator_class(schema)
        return made

    @classmethod
    def from_file(cls, path: str | Path) -> AnswerSchema:
        """The JSON Schema in a file; InputError, one line naming the file, when it is
        missing, not JSON or not a valid schema."""
        name = str(path)
        text = read_text_file(path, "schema file", name=name)
        try:
            schema = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InputError(f"{name}: not JSON ({_one_line(str(exc))}), not a JSON "
                             "Schema") from None
        return cls.from_json_schema(schema, source=name)

    def describe(self) -> str:
        """What the system prompt shows: the shape the answer must have."""
        shape = json.dumps(self.json_schema, indent=2, ensure_ascii=False)
        return ("The answer must be JSON matching this JSON Schema:\n"
                f"{shape}\n"
                "Give it as FINAL(value) with a dict or a list (it is sent as JSON), or "
                "FINAL_VAR(\"name\") of one. An answer that does not match comes back to you "
                "with the errors, and the run goes on.")

    def check(self, answer_text: str) -> AnswerCheck:
        """The answer checked against the shape (surrounding whitespace and a ```json fence
        are not part of it)."""
        text = unfenced(answer_text)
        if self.model is not None:
            return self._check_model(text)
        return self._check_json(text)

    def dump(self, value: Any) -> str:
        """A validated value as one line of JSON."""
        return value_json(value)

    # -- checking ------------------------------------------------------------------------

    def _check_model(self, text: str) -> AnswerCheck:
        from pydantic import ValidationError

        assert self.model is not None
        try:
            return AnswerCheck(self.model.model_validate_json(text))
        except ValidationError as exc:
            errors = []
            for error in exc.errors(include_url=False)[:MAX_ERRORS]:
                if error["type"] == "json_invalid":
                    errors.append(f"the answer is not JSON ({_one_line(error['msg'])})")
                    continue
                at = _json_path(error["loc"])
                errors.append(f"at {at}: {_one_line(error['msg'])}")
            return AnswerCheck(None, errors or ["the answer does not match the schema"])

    def _check_json(self, text: str) -> AnswerCheck:
        if self._validator is None:
            self._validator = AnswerSchema.from_json_schema(self.json_schema)._validator
        candidates: list[Any] = []
        parse_error = None
        try:
            candidates.append(json.loads(text))
        except (ValueError, RecursionError) as exc:
            parse_error = f"the answer is not JSON ({_one_line(str(exc))})"
        candidates.append(text)  # the text itself, for a schema of a string
        first: list[str] | None = None
        for candidate in candidates:
            try:
                found = sorted(self._validator.iter_errors(candidate),
                               key=lambda e: [str(p) for p in e.absolute_path])
            except RecursionError:  # a model's answer nested past what can be checked
                return AnswerCheck(None, ["the answer is nested too deep to check"])
            if not found:
                return AnswerCheck(candidate)
            if first is None:
                first = [(f"at {_json_path(e.absolute_path)}: " if e.absolute_path else "")
                         + _one_line(e.message) for e in found[:MAX_ERRORS]]
        return AnswerCheck(None, [parse_error] if parse_error else (first or []))


def value_json(value: Any) -> str:
    """A value as one line of JSON: a pydantic model's own dump, else json.dumps."""
    dump = getattr(value, "model_dump_json", None)
    if callable(dump) and isinstance(value, _pydantic_base()):
        return str(dump())
    return json.dumps(value, ensure_ascii=False)


def jsonable(value: Any) -> Any:
    """A validated value as plain JSON data (a pydantic model dumped), for an event."""
    if isinstance(value, _pydantic_base()):
        return value.model_dump(mode="json")
    return value


def _pydantic_base() -> type:
    from pydantic import BaseModel

    return BaseModel


def unfenced(text: str) -> str:
    """An answer's text without surrounding whitespace and a ```json fence around it."""
    text = text.strip()
    if text.startswith("```") and text.endswith("```") and len(text) >= 6:
        inner = text[3:-3]
        first, _, rest = inner.partition("\n")
        if first.strip().lower() in ("", "json"):
            return rest.strip()
    return text


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"
