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
_HEADER_START = ('{"type": "header", "format": "' + FORMAT_NAME + '"').encode()


def default_transcript_path() -> Path:
    """A new file under the user data dir: sessions/YYYYmmdd-HHMMSS-<id>.jsonl."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return sessions_dir() / f"{stamp}-{uuid.uuid4().hex[:6]}.jsonl"


def sessions_dir() -> Path:
    """Where transcripts go by default: sessions/ under the user data dir."""
    from platformdirs import user_data_path

    return user_data_path("rlm-tui") / "sessions"


def latest_transcript() -> Path:
    """The transcript written to last under the user data dir (a run's, an eval task's, an
    MCP call's): InputError when there is none."""
    from platformdirs import user_data_path

    root = user_data_path("rlm-tui")
    found: list[tuple[float, Path]] = []
    for path in root.rglob("*.jsonl") if root.is_dir() else ():
        try:
            found.append((path.stat().st_mtime, path))
        except OSError:
            continue
    for _mtime, path in sorted(found, reverse=True):
        try:
            with open(path, "rb") as file:
                start = file.read(len(_HEADER_START))
        except OSError:
            continue
        if start == _HEADER_START:  # an eval's results.jsonl is no transcript
            return path
    raise InputError(f"no transcript under {root}: start a run (rlm-tui run ...) first")


def transcript_header(*, query: str, settings: dict[str, Any], context: dict[str, Any],
                      fork_of: dict[str, Any] | None = None,
                      control_socket: str | None = None) -> dict[str, Any]:
    """A transcript's first line, as data. `fork_of`: the transcript and iteration a fork
    continues from; `control_socket`: where the session listens for steering (while it is
    open: `rlm-tui watch` finds it here)."""
    header = {"type": "header", "format": FORMAT_NAME, "schema": SCHEMA_VERSION,
              "created": time.time(), "query": query, "settings": settings,
              "context": context, "pid": os.getpid()}
    if fork_of is not None:
        header["fork_of"] = fork_of
    if control_socket is not None:
        header["control_socket"] = control_socket
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
                 context: dict[str, Any], fork_of: dict[str, Any] | None = None,
                 control_socket: str | None = None) -> None:
        self.path = Path(path)
        header = json.dumps(transcript_header(query=query, settings=settings, context=context,
                                              fork_of=fork_of, control_socket=control_socket),
                            ensure_ascii=False)
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
