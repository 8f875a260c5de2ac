"""Exporting a transcript (ours or an rlms log) as Markdown, HTML, JSON or an rlms log.

    text = export_transcript(read_transcript(path), "html")

Every format renders from the same fold (SessionModel), and carries the reader's notes: where
a cut transcript stops, how many unknown events were skipped, that a log was converted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from rlm_tui.errors import UsageError
from rlm_tui.printable import escape_json_controls
from rlm_tui.transcript.model import SessionModel
from rlm_tui.transcript.reader import Transcript

ExportFormat = Literal["markdown", "html", "json", "rlm-log"]
EXPORT_FORMATS: tuple[str, ...] = ("markdown", "html", "json", "rlm-log")
SUFFIXES = {"markdown": ".md", "html": ".html", "json": ".json", "rlm-log": ".rlm.jsonl"}
JSON_FORMAT_NAME = "rlm-tui-session"


def export_transcript(transcript: Transcript, fmt: str,
                      model: SessionModel | None = None) -> str:
    """The transcript rendered in `fmt` (one of EXPORT_FORMATS); `model` if already folded."""
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


def export_file(source: str | Path, fmt: str, output: str | None = None,
                *, stdout: Any = None, stderr: Any = None) -> Path | None:
    """What `rlm-tui export` does: read `source`, render it, write it to `output` (a path,
    "-" for stdout, or None for the format's default); returns the path written, if any.

    Notes (a cut transcript, skipped events) go to `stderr` as one line each; errors a user
    can cause are InputError or UsageError."""
    import sys

    from rlm_tui.errors import InputError
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
    if target.exists() and target.resolve() == source.resolve():
        raise UsageError(f"the output {target} is the input file: choose another --output")
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"rlm-tui: wrote {target}", file=stderr)
    return target
