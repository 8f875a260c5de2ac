"""Writing the session shown in the app to a file: its events as a JSONL transcript (what
`rlm-tui replay` reads), or rendered as Markdown, HTML or JSON by `rlm_tui.transcript`.

The export dialog asks `export_problem` and `path.exists()` before it lets a path through;
the writers check again, and every error they raise is one line that names the path."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlm_tui.errors import InputError
from rlm_tui.events import EventBase
from rlm_tui.printable import escape_json_controls

# The format is the file's suffix. Any other suffix is refused, not guessed: the suffix is the
# only way to choose, so `x.txt` is a typo or a wish we cannot meet (plain text), and a JSONL
# file named .txt would mislead whoever opens it.
FORMATS_BY_SUFFIX = {".jsonl": "jsonl", ".md": "markdown", ".markdown": "markdown",
                     ".html": "html", ".json": "json"}
FORMATS_HINT = ".jsonl: transcript (replay reads it) · .md: Markdown · .html: a page · " \
               ".json: one document"


def default_export_dir() -> Path:
    """Where exports go unless the user says otherwise: beside the session transcripts, under
    the user data dir, never the working directory (usually the repo being read, where the
    next run would load the export as context)."""
    from platformdirs import user_data_path

    return user_data_path("rlm-tui") / "exports"


def default_export_path(session: str) -> Path:
    """The path the export dialog offers for `session`: rlm-tui-<session>.jsonl."""
    return default_export_dir() / f"rlm-tui-{session}.jsonl"


def resolve_export_path(text: str) -> Path:
    """The path the user typed, `~` expanded, a relative one taken from the working
    directory; absolute, so messages say where the file is. InputError for `~nosuchuser/x`
    or a working directory that was removed."""
    try:
        return Path(text.strip()).expanduser().absolute()
    except (RuntimeError, OSError) as exc:
        raise InputError(f"cannot use {text.strip()}: {_why(exc)}") from None


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def export_format(path: Path) -> str:
    """'jsonl', 'markdown', 'html' or 'json', from the path's suffix; InputError for any
    other suffix (or none)."""
    fmt = FORMATS_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        suffix = f"unknown suffix {path.suffix}" if path.suffix else "no suffix"
        raise InputError(f"{path.name}: {suffix} (use one of {', '.join(FORMATS_BY_SUFFIX)})")
    return fmt


def export_problem(path: Path) -> str | None:
    """Why `path` cannot be exported to, in one line that names the path at fault (the dialog
    shows it under the path typed; the writers raise it), or None. A parent directory
    that does not exist is a problem (we create none of the user's), except the default
    exports directory, which the writers create. An existing file is not a problem here:
    whether to overwrite it is the user's to confirm."""
    try:
        if path.is_dir():
            return f"{path} is a directory: add a file name"
        export_format(path)
        parent = path.parent
        if parent.is_dir() or parent == default_export_dir():
            return None
        if parent.exists():
            return f"not a directory: {parent}"
        return f"no such directory: {parent}"
    except InputError as exc:
        return str(exc)
    except OSError as exc:  # a directory we may not look into, a name too long
        return f"cannot use {path}: {_why(exc)}"


def export_session(path: Path, events: Sequence[EventBase], *, query: str,
                   settings: dict[str, Any], context: dict[str, Any]) -> str:
    """Write `events` to `path` in the format its suffix names; returns the format.
    InputError (one line, naming the path) when the file cannot be written."""
    from rlm_tui.transcript.writer import transcript_header

    fmt = _checked_format(path)
    header = transcript_header(query=query, settings=settings, context=context)
    if fmt == "jsonl":
        lines = [json.dumps(header, ensure_ascii=False)]
        lines += [event.model_dump_json() for event in events]
        _write(path, escape_json_controls("\n".join(lines)) + "\n")
        return fmt
    from rlm_tui.transcript import Transcript, export_transcript

    transcript = Transcript(header=header, events=list(events))  # type: ignore[arg-type]
    _write(path, export_transcript(transcript, fmt))
    return fmt


def export_transcript_file(source: Path, path: Path) -> int:
    """Write the transcript at `source` (a live run's, flushed as it happened) to `path`: as
    JSONL a byte-for-byte copy, else rendered. Returns the events written; InputError if the
    source cannot be read or `path` written."""
    from rlm_tui.transcript import export_transcript, parse_transcript

    fmt = _checked_format(path)
    try:
        same = path.exists() and os.path.samefile(path, source)
        data = source.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or exc}") from None
    if same:  # it would be cut short under the run still writing it
        raise InputError(f"{path} is this run's own transcript: choose another file")
    data = data[: data.rfind(b"\n") + 1]  # the whole lines: the run may be writing one
    transcript = parse_transcript(data, name=str(source))
    _write(path, data if fmt == "jsonl" else export_transcript(transcript, fmt))
    return len(transcript.events)


def export_read_transcript(path: Path, transcript: Any) -> int:
    """Write a transcript read from disk (a replay's) to `path` in the format its suffix
    names: as JSONL its header and every whole event (a cut file's notes say where it
    stopped), else rendered. Returns the events written; InputError if it cannot be."""
    from rlm_tui.transcript import export_transcript

    fmt = _checked_format(path)
    if fmt == "jsonl":
        header = dict(transcript.header)
        if transcript.notes():
            header["notes"] = transcript.notes()
        lines = [json.dumps(header, ensure_ascii=False)]
        lines += [event.model_dump_json() for event in transcript.events]
        text = escape_json_controls("\n".join(lines)) + "\n"
    else:
        text = export_transcript(transcript, fmt)
    _write(path, text)
    return len(transcript.events)


def _checked_format(path: Path) -> str:
    problem = export_problem(path)
    if problem is not None:
        raise InputError(problem)
    return export_format(path)


def _write(path: Path, content: str | bytes) -> None:
    """Write `content` to `path`, replacing a file there (the dialog asked first). Errors
    from the close too: a device may refuse the data only when it is flushed."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        if path.parent == default_export_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as file:
            file.write(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
