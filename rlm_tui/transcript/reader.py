"""Reading a transcript back: its header and its typed events, as far as the file is whole.

    transcript = read_transcript(path)        # InputError if it cannot be used at all
    transcript.header, transcript.events      # the header dict and every complete event
    transcript.stop                           # None, or where and why reading stopped
    model = transcript.fold()                 # the SessionModel every view renders from

Two formats are read: rlm-tui's own (a header line, then one event per line) and the
trajectory logs of the reference library `rlms` (first line `{"type": "metadata", ...}`),
which are converted into the same event stream (see rlms_log.py), so replay and every export
work on either unchanged.

A crash or kill leaves a file cut anywhere, even inside a character: reading keeps every
whole line before the cut and reports the first line it could not use. Events of types this
version does not know (written by a newer one) are skipped and counted.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import ValidationError

from rlm_tui.errors import InputError
from rlm_tui.events import EVENT_ADAPTER, SCHEMA_VERSION, Event
from rlm_tui.transcript.model import SessionModel
from rlm_tui.transcript.writer import FORMAT_NAME

SourceFormat = Literal["rlm-tui", "rlms"]

# How the writers begin their first line (json.dumps with default separators): a first line
# cut short is still recognised by these.
_OUR_HEADER_START = '{"type": "header", "format": "' + FORMAT_NAME + '"'
_RLMS_METADATA_START = '{"type": "metadata"'

_EVENT_TYPES = frozenset(
    cls.model_fields["type"].default for cls in get_args(get_args(Event)[0])
)


@dataclass(frozen=True)
class ReadStop:
    """Where reading stopped before the end of the file, and why."""

    line: int  # 1-based number of the first line not read
    offset: int  # byte offset where that line starts: everything before it was read
    reason: str

    def describe(self) -> str:
        """One line for a person: "the transcript stops at line 12 (byte 3,456): ..."."""
        return f"the transcript stops at line {self.line} (byte {self.offset:,}): {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "offset": self.offset, "reason": self.reason,
                "message": self.describe()}


@dataclass
class Transcript:
    """A transcript as read: header, complete events, and what could not be used."""

    header: dict[str, Any]
    events: list[Event]
    source_format: SourceFormat = "rlm-tui"
    path: Path | None = None
    stop: ReadStop | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # unknown event type -> count
    lines: int = 0  # whole lines read, header included

    @property
    def truncated(self) -> bool:
        return self.stop is not None

    @property
    def skipped_count(self) -> int:
        return sum(self.skipped.values())

    def fold(self) -> SessionModel:
        """The session tree, totals and answer these events describe."""
        return SessionModel.from_events(self.events, self.header)

    def notes(self) -> list[str]:
        """What a reader of an export should know: a cut, skipped events, a conversion."""
        notes = list(self.header.get("notes") or [])
        if self.stop is not None:
            notes.append(self.stop.describe())
        if self.skipped:
            kinds = ", ".join(f"{name} ×{count}" for name, count in sorted(self.skipped.items()))
            count = self.skipped_count
            what = "event was" if count == 1 else "events were"
            notes.append(f"{count} {what} skipped, of types this version does not know or "
                         f"unreadable ({kinds})")
        return notes


def read_transcript(path: str | Path) -> Transcript:
    """Read an rlm-tui transcript or an rlms log; InputError if it cannot be used at all."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a FIFO would block the read
            raise InputError(f"{path} is not a regular file (a fifo, socket or device): "
                             "not a transcript")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a transcript") from None
    except PermissionError:
        raise InputError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    transcript = parse_transcript(data, name=str(path))
    transcript.path = path
    return transcript


def parse_transcript(data: bytes, *, name: str = "the transcript") -> Transcript:
    """The same as `read_transcript`, from the file's bytes; `name` is used in errors."""
    if not data.strip():
        raise InputError(f"{name} is empty: not a transcript")
    if _looks_binary(data[:8192]):
        raise InputError(f"{name} is a binary file, not a transcript")
    lines = _split_lines(data)
    first_text, _, first_whole = lines[0]
    try:
        first = json.loads(first_text)
    except (UnicodeDecodeError, ValueError):
        first = None
    if first is None and not first_whole:
        return _cut_first_line(first_text, name)
    if first is None:
        raise InputError(f"{name} is not a transcript: its first line is not JSON")
    if not isinstance(first, dict):
        raise InputError(f"{name} is not a transcript: its first line is not a JSON object")
    if first.get("type") == "header" and first.get("format") == FORMAT_NAME:
        return _read_ours(first, lines, name)
    if _is_rlms_record(first):
        from rlm_tui.transcript.rlms_log import events_from_rlms_log

        records, stop = _json_records(lines)
        header, events = events_from_rlms_log(records, complete=stop is None)
        return Transcript(header, events, "rlms", stop=stop, lines=len(records))
    raise InputError(f"{name} is not an rlm-tui transcript or an rlms log "
                     f"(first line: {_describe_record(first)})")


def _split_lines(data: bytes) -> list[tuple[bytes, int, bool]]:
    """(line bytes, offset where it starts, ends with a newline) for each line."""
    out: list[tuple[bytes, int, bool]] = []
    start = 0
    size = len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            out.append((data[start:], start, False))
            break
        out.append((data[start:end], start, True))
        start = end + 1
    return out


def _cut_first_line(text: bytes, name: str) -> Transcript:
    """A file cut inside its first line: ours or rlms' if it begins like one, else foreign."""
    start = text.decode("utf-8", "ignore")
    for prefix, fmt in ((_OUR_HEADER_START, "rlm-tui"), (_RLMS_METADATA_START, "rlms")):
        if prefix.startswith(start) or start.startswith(prefix):
            stop = ReadStop(1, 0, "the first line is cut short; no event was written "
                            "before the file ends")
            header = {"type": "header", "format": FORMAT_NAME, "schema": SCHEMA_VERSION}
            return Transcript(header, [], fmt, stop=stop)  # type: ignore[arg-type]
    raise InputError(f"{name} is not a transcript: its only line is not JSON")


def _read_ours(header: dict[str, Any], lines: list[tuple[bytes, int, bool]],
               name: str) -> Transcript:
    schema = header.get("schema")
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise InputError(f"{name} was written by a newer rlm-tui (transcript schema {schema}; "
                         f"this version reads schema {SCHEMA_VERSION}): upgrade rlm-tui")
    events: list[Event] = []
    skipped: dict[str, int] = {}
    stop: ReadStop | None = None
    count = 1
    for number, (text, offset, whole) in enumerate(lines[1:], start=2):
        if not text.strip() and whole:
            count += 1
            continue
        decoded = decode_event_line(text)
        if decoded is None:
            reason = "the last line is cut short" if not whole else "the line is not JSON"
            stop = ReadStop(number, offset, reason)
            break
        if isinstance(decoded, str):
            skipped[decoded] = skipped.get(decoded, 0) + 1
        else:
            events.append(decoded)
        count += 1
    return Transcript(header, events, "rlm-tui", stop=stop, skipped=skipped, lines=count)


def decode_event_line(text: bytes) -> Event | str | None:
    """One line of a transcript: its event; or the label it is skipped under (a type this
    version does not know, or an event it cannot read); or None when it is not JSON."""
    try:
        return EVENT_ADAPTER.validate_json(text)
    except ValidationError:
        pass
    record = _loads(text)
    if record is None:
        return None
    kind = record.get("type") if isinstance(record, dict) else None
    if not isinstance(kind, str) or kind in _EVENT_TYPES:
        return f"{kind} (unreadable)" if isinstance(kind, str) else "(no type)"
    return kind


def _json_records(lines: list[tuple[bytes, int, bool]]) -> tuple[list[dict], ReadStop | None]:
    records: list[dict] = []
    for number, (text, offset, whole) in enumerate(lines, start=1):
        if not text.strip() and whole:
            continue
        record = _loads(text)
        if not isinstance(record, dict):
            reason = ("the last line is cut short" if not whole
                      else "the line is not a JSON object")
            return records, ReadStop(number, offset, reason)
        records.append(record)
    return records, None


def _looks_binary(head: bytes) -> bool:
    """NUL bytes, or bytes that are not UTF-8 (a cut at the very end is allowed)."""
    if b"\x00" in head:
        return True
    for cut in range(4):
        try:
            head[:len(head) - cut].decode("utf-8")
            return False
        except UnicodeDecodeError:
            continue
    return True


def _loads(text: bytes) -> Any:
    try:
        return json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None


def _is_rlms_record(record: dict[str, Any]) -> bool:
    if record.get("type") == "metadata":
        return "root_model" in record or "max_iterations" in record
    # logs from before the metadata line began with an iteration
    return record.get("type") in ("iteration", None) and "code_blocks" in record \
        and "response" in record


def _describe_record(record: dict[str, Any]) -> str:
    if "type" in record:
        return f"type {str(record['type'])[:40]!r}"
    keys = ", ".join(list(map(str, record))[:4])
    return f"an object with keys {keys}" if keys else "an empty object"
