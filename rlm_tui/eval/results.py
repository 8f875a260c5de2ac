"""results.jsonl: one JSON line per finished task, appended and flushed as each finishes, so
a kill loses only the tasks in flight; read back to resume.

A task counts as finished when its record says it ran (FINISHED_STATUSES) and holds a
baseline when one is asked for; anything else is run again on resume. Opening the file for
a run rewrites it with one line per task (the last line written for an id wins), dropping
lines that were cut short by a kill.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from rlm_tui.errors import InputError
from rlm_tui.printable import escape_json_controls

RESULTS_NAME = "results.jsonl"
# A session that ended by itself: with an answer, or stopped by its own budgets.
FINISHED_STATUSES = ("answered", "halted")


def is_finished(record: dict[str, Any], *, baseline: bool) -> bool:
    """Whether a recorded task needs no more model calls."""
    if record.get("status") not in FINISHED_STATUSES:
        return False
    return not baseline or (record.get("baseline") or {}).get("status") in FINISHED_STATUSES


class ResultsFile:
    """The results of one eval directory, as recorded so far and as they come."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / RESULTS_NAME
        self.records: dict[str, dict[str, Any]] = {}
        self._file: IO[str] | None = None

    def open(self) -> ResultsFile:
        """Read what is recorded (the last line per id), rewrite it whole, open to append."""
        self.records = read_results(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
            with open(partial, "w", encoding="utf-8") as out:
                out.writelines(_line(r) for r in self.records.values())
            os.replace(partial, self.path)
            self._file = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        return self

    def add(self, record: dict[str, Any]) -> None:
        """Record one task's result: appended and flushed at once."""
        self.records[record["id"]] = record
        if self._file is not None:
            self._file.write(_line(record))
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """id -> the last whole record written for it; a line cut short by a kill is skipped."""
    records: dict[str, dict[str, Any]] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return records
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            records[record["id"]] = record
    return records


def _line(record: dict[str, Any]) -> str:
    return escape_json_controls(json.dumps(record, ensure_ascii=False)) + "\n"
