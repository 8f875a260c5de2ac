"""An eval's tasks file: one JSON object a line, checked whole before any model call.

    {"id": "q1", "query": "What does main return?", "context": "repo/",
     "expected": ["hello", "'hello'"], "scorer": "contains"}

`context` is a file or directory path, relative to the tasks file, or a list of them (several
sources: context_0, context_1, ... in the REPL); `context_text` gives the text itself
instead. `expected` is a string or a list of accepted answers (for the `json` scorer: a JSON
object, or a list of accepted objects); `scorer` is one of SCORERS (default "exact").
`threshold` (for f1, default 0.5), `meta` (anything, kept in the results) and `schema` (the
JSON Schema the answer must match: a path to a schema file, relative to the tasks file, or
the schema itself as an object) are optional. Any other key is an error, so a misspelt
`scorer` is not ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlm_tui.engine.answer_schema import AnswerSchema
from rlm_tui.errors import RlmTuiError, UsageError, read_text_file
from rlm_tui.eval.scorers import DEFAULT_F1_THRESHOLD, SCORERS, check_expected

_KEYS = {"id", "query", "context", "context_text", "expected", "scorer", "threshold", "meta",
         "schema"}
# A task's id names its transcript file: letters, digits and . _ - only, not starting with "."
_ID = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}")


@dataclass(frozen=True)
class Task:
    """One task: a question over a context, and the answers that count as right."""

    id: str
    query: str
    expected: tuple[str, ...]
    scorer: str = "exact"
    context: Path | tuple[Path, ...] | None = None  # a file or directory (or several), resolved
    context_text: str | None = None
    threshold: float = DEFAULT_F1_THRESHOLD
    meta: Any = None
    line: int = 0  # where it was read (0: generated)
    schema: dict[str, Any] | None = None  # the JSON Schema its answer must match, checked

    @property
    def source(self) -> str:
        """What the task's context is, for people: a path, or "text (N chars)"."""
        if isinstance(self.context, tuple):
            return ", ".join(map(str, self.context))
        if self.context is not None:
            return str(self.context)
        return f"text ({len(self.context_text or ''):,} chars)"


def load_tasks(path: str | Path) -> list[Task]:
    """Every task of a tasks file; UsageError naming the first bad line."""
    path = Path(path)
    text = read_text_file(path, "tasks file", error=UsageError)
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    base = path.resolve().parent
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        task = parse_task(line, base, number, where=f"{path}:{number}")
        if task.id in seen:
            raise UsageError(f"{path}:{number}: id {task.id!r} is already used on line "
                             f"{seen[task.id]}")
        seen[task.id] = number
        tasks.append(task)
    if not tasks:
        raise UsageError(f"{path}: no tasks in the file")
    return tasks


def parse_task(line: str, base: Path, number: int = 0, *, where: str = "task") -> Task:
    """One line of a tasks file; UsageError prefixed with `where` if it is not a task."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise UsageError(f"{where}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where}: a task is a JSON object, not {type(data).__name__}")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (a task has "
                         f"{', '.join(sorted(_KEYS))})")
    return task_from_dict(data, base, number, where=where)


def task_from_dict(data: dict[str, Any], base: Path, number: int = 0, *,
                   where: str = "task") -> Task:
    """A task from its fields; UsageError prefixed with `where` if one is wrong."""
    def bad(message: str) -> UsageError:
        return UsageError(f"{where}: {message}")

    task_id = data.get("id")
    if isinstance(task_id, int) and not isinstance(task_id, bool):
        task_id = str(task_id)
    if not isinstance(task_id, str) or not _ID.fullmatch(task_id):
        raise bad("'id' must be a string of letters, digits, '.', '_' or '-' (it names "
                  "the transcript file)")
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        raise bad("'query' must be a non-empty string")
    has_path, has_text = "context" in data, "context_text" in data
    if has_path == has_text:
        raise bad("give exactly one of 'context' (a path) and 'context_text'")
    context: Path | tuple[Path, ...] | None = None
    text: str | None = None
    if has_path:
        raw = data["context"]
        several = isinstance(raw, list)
        if several and not raw:
            raise bad("'context' is an empty list: give a path, or a list of paths")
        paths = raw if several else [raw]
        if not all(isinstance(one, str) and one for one in paths):
            raise bad("'context' must be a path (a string) or a list of paths")
        resolved = []
        for one in paths:
            path = (base / Path(one).expanduser()).resolve()
            if not path.exists():
                raise bad(f"context {one!r}: no such file or directory ({path})")
            resolved.append(path)
        context = tuple(resolved) if several else resolved[0]
    else:
        text = data["context_text"]
        if not isinstance(text, str) or not text:
            raise bad("'context_text' must be a non-empty string")
    scorer = data.get("scorer", "exact")
    if scorer not in SCORERS:
        raise bad(f"unknown scorer {scorer!r} (one of {', '.join(SCORERS)})")
    expected = data.get("expected")
    if scorer == "json":
        accepted = _expected_objects(expected, bad)
    else:
        if isinstance(expected, (str, int, float)) and not isinstance(expected, bool):
            expected = [expected]
        if (not isinstance(expected, list) or not expected
                or not all(isinstance(e, (str, int, float)) and not isinstance(e, bool)
                           for e in expected)):
            raise bad("'expected' must be a string, a number, or a non-empty list of them")
        accepted = tuple(str(e) for e in expected)
    problem = check_expected(scorer, accepted)
    if problem:
        raise bad(problem)
    threshold = data.get("threshold", DEFAULT_F1_THRESHOLD)
    if (not isinstance(threshold, (int, float)) or isinstance(threshold, bool)
            or not 0 < threshold <= 1):
        raise bad("'threshold' must be a number in (0, 1]")
    return Task(id=task_id, query=query, expected=accepted, scorer=scorer, context=context,
                context_text=text, threshold=float(threshold), meta=data.get("meta"),
                line=number, schema=_schema(data.get("schema"), base, bad))


def _expected_objects(expected: Any, bad: Any) -> tuple[str, ...]:
    """The json scorer's accepted objects, as JSON text."""
    items = expected if isinstance(expected, list) else [expected]
    if not items or not all(isinstance(item, dict) for item in items):
        raise bad("'expected' must be a JSON object, or a non-empty list of them (scorer "
                  "'json')")
    return tuple(json.dumps(item, ensure_ascii=False) for item in items)


def _schema(raw: Any, base: Path, bad: Any) -> dict[str, Any] | None:
    """A task's schema, checked now: from its file (relative to the tasks file) or given."""
    if raw is None:
        return None
    try:
        if isinstance(raw, str) and raw:
            return AnswerSchema.from_file(base / Path(raw).expanduser()).json_schema
        if isinstance(raw, dict):
            return AnswerSchema.from_json_schema(raw).json_schema
    except RlmTuiError as exc:
        raise bad(f"'schema': {str(exc).removeprefix('schema: ')}") from None
    raise bad("'schema' must be a path to a JSON Schema file, or a JSON Schema object")


def task_to_dict(task: Task) -> dict[str, Any]:
    """A task as a tasks-file line would give it (contexts by absolute path)."""
    data: dict[str, Any] = {"id": task.id, "query": task.query}
    if isinstance(task.context, tuple):
        data["context"] = [str(path) for path in task.context]
    elif task.context is not None:
        data["context"] = str(task.context)
    else:
        data["context_text"] = task.context_text
    expected: list[Any] = list(task.expected)
    if task.scorer == "json":
        expected = [json.loads(item) for item in expected]
    data["expected"] = expected if len(expected) > 1 else expected[0]
    data["scorer"] = task.scorer
    if task.schema is not None:
        data["schema"] = task.schema
    if task.scorer == "f1" and task.threshold != DEFAULT_F1_THRESHOLD:
        data["threshold"] = task.threshold
    if task.meta is not None:
        data["meta"] = task.meta
    return data
