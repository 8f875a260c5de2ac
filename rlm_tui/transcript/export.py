"""Exporting a session: the one export path, for `rlm-tui export` and the app's dialog alike.

    text = export_transcript(read_transcript(path), "html")

Formats: Markdown, HTML, one JSON document, the transcript itself as JSON lines (what
`rlm-tui replay` reads), and an rlms log (what rlms' visualizer opens). Every rendered format
comes from the same fold (SessionModel) and carries the reader's notes: where a cut transcript
stops, how many unknown events were skipped, that a log was converted.

Writing goes through `write_export`, which refuses a path that cannot be written (one line
that names the path) and never writes a session onto its own source. The dialog chooses the
format by the path's suffix (`format_of_path`); the CLI by --format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from rlm_tui.errors import InputError, UsageError
from rlm_tui.events import EventBase
from rlm_tui.printable import escape_json_controls
from rlm_tui.transcript.model import SessionModel
from rlm_tui.transcript.reader import Transcript

ExportFormat = Literal["markdown", "html", "json", "jsonl", "rlm-log"]
EXPORT_FORMATS: tuple[str, ...] = ("markdown", "html", "json", "jsonl", "rlm-log")
SUFFIXES = {"markdown": ".md", "html": ".html", "json": ".json", "jsonl": ".jsonl",
            "rlm-log": ".rlm.jsonl"}
# The format is the file's suffix. Any other suffix is refused, not guessed: the suffix is the
# only way to choose, so `x.txt` is a typo or a wish we cannot meet (plain text), and a JSONL
# file named .txt would mislead whoever opens it. The longer suffix is looked at first.
FORMATS_BY_SUFFIX = {".rlm.jsonl": "rlm-log", ".jsonl": "jsonl", ".md": "markdown",
                     ".markdown": "markdown", ".html": "html", ".json": "json"}
FORMATS_HINT = (".jsonl: transcript (replay reads it) · .md: Markdown · .html: a page · "
                ".json: one document · .rlm.jsonl: rlms log")
JSON_FORMAT_NAME = "rlm-tui-session"


# -- rendering ---------------------------------------------------------------------------


def export_transcript(transcript: Transcript, fmt: str,
                      model: SessionModel | None = None) -> str:
    """The transcript rendered in `fmt` (one of EXPORT_FORMATS); `model` if already folded."""
    if fmt == "jsonl":
        return render_jsonl(transcript)
    model = model or transcript.fold()
    notes = transcript.notes()
    if fmt == "markdown":
        from rlm_tui.transcript.markdown import render_markdown

        return render_markdown(model, notes)
    if fmt == "html":
        from rlm_tui.transcript.html import render_html

        return render_html(model, notes)
    if fmt == "json":
        return render_json(transcript, model)
    if fmt == "rlm-log":
        from rlm_tui.transcript.rlms_log_writer import render_rlms_log

        return render_rlms_log(model)
    raise UsageError(f"unknown export format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")


def render_json(transcript: Transcript, model: SessionModel) -> str:
    """One JSON document: the fold, plus what the reader found (source, cut, skipped)."""
    document: dict[str, Any] = {
        "format": JSON_FORMAT_NAME,
        "schema": 1,
        "source_format": transcript.source_format,
        "notes": transcript.notes(),
        "read": {"events": len(transcript.events), "lines": transcript.lines,
                 "stop": transcript.stop.to_dict() if transcript.stop else None,
                 "skipped": dict(transcript.skipped)},
        "created": transcript.header.get("created"),
        **model.to_dict(),
    }
    # no indent: the C encoder only runs without one (5x faster on long sessions); use jq
    return escape_json_controls(json.dumps(document, ensure_ascii=False)) + "\n"


def render_jsonl(transcript: Transcript) -> str:
    """The transcript as rlm-tui writes one: its header (with the reader's notes, so a cut
    or converted file says so) and every whole event, a line each."""
    header = dict(transcript.header)
    if transcript.notes():
        header["notes"] = transcript.notes()
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [event.model_dump_json() for event in transcript.events]
    return escape_json_controls("\n".join(lines)) + "\n"


def session_transcript(events: Sequence[EventBase], *, query: str, settings: dict[str, Any],
                       context: dict[str, Any]) -> Transcript:
    """A session held in memory (events fed to the app) as a transcript to export."""
    from rlm_tui.transcript.writer import transcript_header

    header = transcript_header(query=query, settings=settings, context=context)
    return Transcript(header=header, events=list(events))  # type: ignore[arg-type]


# -- where, and whether, to write ----------------------------------------------------------


def default_export_dir() -> Path:
    """Where the app's exports go unless the user says otherwise: beside the session
    transcripts, under the user data dir, never the working directory (usually the repo
    being read, where the next run would load the export as context)."""
    from platformdirs import user_data_path

    return user_data_path("rlm-tui") / "exports"


def default_export_path(session: str) -> Path:
    """The path the export dialog offers for `session`: rlm-tui-<session>.jsonl."""
    return default_export_dir() / f"rlm-tui-{session}.jsonl"


def default_output_path(source: Path, fmt: str) -> Path | None:
    """Where `rlm-tui export` writes by default: HTML beside the input (it is meant for a
    browser), every other format to stdout (None)."""
    if fmt != "html":
        return None
    name = source.name
    for suffix in (".jsonl", ".json", ".log"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return source.with_name(name + SUFFIXES["html"])


def resolve_export_path(text: str) -> Path:
    """The path the user typed, `~` expanded, a relative one taken from the working
    directory; absolute, so messages say where the file is. InputError for `~nosuchuser/x`
    or a working directory that was removed."""
    try:
        return Path(text.strip()).expanduser().absolute()
    except (RuntimeError, OSError) as exc:
        raise InputError(f"cannot use {text.strip()}: {_why(exc)}") from None


def format_of_path(path: Path) -> str:
    """The format a path's suffix names; InputError for any other suffix (or none)."""
    name = path.name.lower()
    for suffix, fmt in FORMATS_BY_SUFFIX.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return fmt
    suffix = f"unknown suffix {path.suffix}" if path.suffix else "no suffix"
    known = sorted(FORMATS_BY_SUFFIX, key=lambda k: k == ".rlm.jsonl")  # as the hint says
    raise InputError(f"{path.name}: {suffix} (use one of {', '.join(known)})")


def export_problem(path: Path, fmt: str | None = None) -> str | None:
    """Why `path` cannot be exported to, in one line that names the path at fault (the dialog
    shows it under the path typed; `write_export` raises it), or None. Without `fmt` the
    suffix must name a format. A parent directory that does not exist is a problem (we create
    none of the user's), except the default exports directory, which is created. An existing
    file is not a problem here: whether to overwrite it is the user's to confirm."""
    try:
        if path.is_dir():
            return f"{path} is a directory: add a file name"
        if fmt is None:
            format_of_path(path)
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


def write_export(path: Path, content: str | bytes, *, source: Path | None = None,
                 fmt: str | None = None) -> None:
    """Write `content` to `path`, replacing a file there (the dialog asked first): InputError
    (one line, naming the path) if it cannot be, or if `path` is the session's own `source`
    (it would be cut short, under a run still writing it). Errors from the close too: a
    device may refuse the data only when it is flushed."""
    problem = export_problem(path, fmt)
    if problem is not None:
        raise InputError(problem)
    if source is not None and _same_file(path, source):
        raise InputError(f"{path} is the session's own transcript: choose another file")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        if path.parent == default_export_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as file:
            file.write(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _checked_format(path: Path) -> str:
    """The format `path`'s suffix names, once the path is known to be writable."""
    problem = export_problem(path)
    if problem is not None:
        raise InputError(problem)
    return format_of_path(path)


def _same_file(path: Path, source: Path) -> bool:
    try:
        return path.exists() and os.path.samefile(path, source)
    except OSError:
        return False


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


# -- what the app and the CLI call ---------------------------------------------------------


def export_session(path: Path, events: Sequence[EventBase], *, query: str,
                   settings: dict[str, Any], context: dict[str, Any]) -> str:
    """Write events held in memory to `path` in the format its suffix names; returns it."""
    fmt = _checked_format(path)
    transcript = session_transcript(events, query=query, settings=settings, context=context)
    write_export(path, export_transcript(transcript, fmt))
    return fmt


def export_transcript_file(source: Path, path: Path) -> int:
    """Write the transcript at `source` (a live run's, flushed as it happened) to `path` in
    the format its suffix names: as JSONL a byte-for-byte copy of its whole lines (the run
    may be writing one), else rendered. Returns the events written."""
    from rlm_tui.transcript.reader import parse_transcript

    fmt = _checked_format(path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or exc}") from None
    data = data[: data.rfind(b"\n") + 1]
    transcript = parse_transcript(data, name=str(source))
    content = data if fmt == "jsonl" else export_transcript(transcript, fmt)
    write_export(path, content, source=source)
    return len(transcript.events)


def export_read_transcript(path: Path, transcript: Transcript) -> int:
    """Write a transcript read from disk (a replay's) to `path` in the format its suffix
    names. Returns the events written."""
    fmt = _checked_format(path)
    write_export(path, export_transcript(transcript, fmt), source=transcript.path)
    return len(transcript.events)


def export_file(source: str | Path, fmt: str, output: str | None = None,
                *, stdout: Any = None, stderr: Any = None) -> Path | None:
    """What `rlm-tui export` does: read `source`, render it, write it to `output` (a path,
    "-" for stdout, or None for the format's default); returns the path written, if any.

    Notes (a cut transcript, skipped events) go to `stderr` as one line each; errors a user
    can cause are InputError or UsageError."""
    import sys

    from rlm_tui.printable import for_terminal
    from rlm_tui.transcript.reader import read_transcript

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"unknown export format {fmt!r}: use one of "
                         f"{', '.join(EXPORT_FORMATS)}")
    source = Path(source)
    transcript = read_transcript(source)
    text = export_transcript(transcript, fmt)
    for note in transcript.notes():
        print(f"rlm-tui: note: {note}", file=stderr)
    target = None if output == "-" else Path(output) if output else default_output_path(
        source, fmt)
    if target is None:
        text = for_terminal(text, stdout)  # a hostile transcript's ESC shown, not obeyed
        buffer = getattr(stdout, "buffer", None)
        if buffer is not None:  # UTF-8 whatever the locale says
            stdout.flush()
            buffer.write(text.encode("utf-8"))
            buffer.flush()
        else:
            stdout.write(text)
        return None
    if _same_file(target, source):
        raise UsageError(f"the output {target} is the input file: choose another --output")
    write_export(target.absolute(), text, fmt=fmt)
    print(f"rlm-tui: wrote {target}", file=stderr)
    return target
