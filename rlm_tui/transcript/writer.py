"""Writing a transcript: a header line, then one JSON line per event, flushed as it happens,
so a crash or kill leaves a file that reads back to its last whole line."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import IO, Any

from rlm_tui.errors import InputError
from rlm_tui.events import SCHEMA_VERSION, EventBase
from rlm_tui.printable import escape_json_controls

FORMAT_NAME = "rlm-tui-transcript"


def default_transcript_path() -> Path:
    """A new file under the user data dir: sessions/YYYYmmdd-HHMMSS-<id>.jsonl."""
    from platformdirs import user_data_path

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return user_data_path("rlm-tui") / "sessions" / f"{stamp}-{uuid.uuid4().hex[:6]}.jsonl"


def transcript_header(*, query: str, settings: dict[str, Any], context: dict[str, Any],
                      fork_of: dict[str, Any] | None = None) -> dict[str, Any]:
    """A transcript's first line, as data. `fork_of`: the transcript and iteration a fork
    continues from."""
    header = {"type": "header", "format": FORMAT_NAME, "schema": SCHEMA_VERSION,
              "created": time.time(), "query": query, "settings": settings,
              "context": context, "pid": os.getpid()}
    if fork_of is not None:
        header["fork_of"] = fork_of
    return header


def _create_with(path: Path, first_line: str) -> IO[str]:
    """A new file at `path`, open for appending, that already holds `first_line`: written
    beside it and moved into place, so a kill at any moment leaves no empty transcript."""
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    file = open(partial, "w", encoding="utf-8")
    try:
        file.write(first_line)
        file.flush()
        os.replace(partial, path)
    except BaseException:
        file.close()
        partial.unlink(missing_ok=True)
        raise
    return file


class TranscriptWriter:
    """A subscriber to the event bus that appends each event to a JSONL file."""

    def __init__(self, path: Path, *, query: str, settings: dict[str, Any],
                 context: dict[str, Any], fork_of: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        header = json.dumps(transcript_header(query=query, settings=settings, context=context,
                                              fork_of=fork_of), ensure_ascii=False)
        header = escape_json_controls(header)  # a name or query with C1 in it, `cat` later
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = _create_with(self.path, header + "\n")
        except OSError as exc:
            raise InputError(f"cannot write the transcript {self.path}: "
                             f"{exc.strerror or exc}") from None

    def _write_line(self, line: str) -> None:
        if self._file is None:
            return
        self._file.write(escape_json_controls(line) + "\n")
        self._file.flush()

    def __call__(self, event: EventBase) -> None:
        self._write_line(event.model_dump_json())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
