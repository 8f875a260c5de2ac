"""Writing the session shown in the app to a file: its events as a JSONL transcript (what
`rlm-tui replay` reads), or rendered as Markdown, HTML or JSON by `rlm_tui.transcript`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlm_tui.errors import InputError
from rlm_tui.events import EventBase
from rlm_tui.printable import escape_json_controls

# The format follows the file's suffix; anything else is written as a JSONL transcript.
FORMATS_BY_SUFFIX = {".md": "markdown", ".markdown": "markdown", ".html": "html",
                     ".json": "json"}
FORMATS_HINT = ".jsonl: transcript · .md: Markdown · .html: a page · .json: one document"


def export_format(path: Path) -> str:
    """'jsonl', 'markdown', 'html' or 'json', from the path's suffix."""
    return FORMATS_BY_SUFFIX.get(path.suffix.lower(), "jsonl")


def export_session(path: Path, events: Sequence[EventBase], *, query: str,
                   settings: dict[str, Any], context: dict[str, Any]) -> str:
    """Write `events` to `path` in the format its suffix names; returns the format.
    InputError (one line) when the file cannot be written."""
    from rlm_tui.transcript import TranscriptWriter

    fmt = export_format(path)
    if fmt == "jsonl":
        writer = TranscriptWriter(path, query=query, settings=settings, context=context)
        try:
            for event in events:
                writer(event)
        finally:
            writer.close()
        return fmt
    from rlm_tui.transcript import Transcript, export_transcript

    header = {"type": "header", "format": "rlm-tui-transcript", "schema": 1,
              "created": time.time(), "query": query, "settings": settings,
              "context": context}
    text = export_transcript(Transcript(header=header, events=list(events)), fmt)  # type: ignore[arg-type]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return fmt


def export_read_transcript(path: Path, transcript: Any) -> int:
    """Write a transcript read from disk (a replay's) to `path` in the format its suffix
    names: as JSONL its header and every whole event (a cut file's notes say where it
    stopped), else rendered. Returns the events written; InputError if it cannot be."""
    import json

    from rlm_tui.transcript import export_transcript

    fmt = export_format(path)
    if fmt == "jsonl":
        header = dict(transcript.header)
        if transcript.notes():
            header["notes"] = transcript.notes()
        lines = [json.dumps(header, ensure_ascii=False)]
        lines += [event.model_dump_json() for event in transcript.events]
        text = escape_json_controls("\n".join(lines)) + "\n"
    else:
        text = export_transcript(transcript, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(transcript.events)
