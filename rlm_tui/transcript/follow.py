"""Reading a transcript that another process is still writing, as it grows (`rlm-tui watch`).

    follower = TranscriptFollower.open(path)   # InputError, as read_transcript, if unusable
    follower.transcript                         # the header and the events written so far
    new = follower.poll()                       # the events written since, as they are whole
    follower.writer_gone()                      # None while the writer may still write

The writer flushes each event as one line, so a poll may find the last line half written:
it waits for the rest. The writer is gone when the control socket its header names has been
removed (its session closed), or its process has exited; what is still pending then is a
line cut for good, reported as `stop` as the reader reports a cut.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

from rlm_tui.errors import InputError
from rlm_tui.events import Event
from rlm_tui.transcript.reader import ReadStop, Transcript, decode_event_line, parse_transcript

# A poll reads at most this much: a writer far ahead is caught up over a few polls, each one
# a batch the app can paint without stalling its keys.
MAX_POLL_BYTES = 4 << 20


class TranscriptFollower:
    """A transcript read up to its last whole line, and read on as it grows."""

    def __init__(self, transcript: Transcript, file: IO[bytes], consumed: int,
                 pending: bytes) -> None:
        self.transcript = transcript
        self._file = file
        self._consumed = consumed  # bytes read as whole lines: the pending line starts here
        self.pending = pending  # a line begun but not yet ended
        self._line = transcript.lines  # whole lines read, header included

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> TranscriptFollower:
        """Read `path` as far as it is written. InputError (one line) for a file that is
        missing, not a transcript, or an rlms log (replay reads those)."""
        path = Path(path)
        try:
            mode = path.stat().st_mode
            if not stat.S_ISREG(mode):
                kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
                raise InputError(f"{path} is {kind}, not a transcript")
            file = open(path, "rb")  # noqa: SIM115 - kept open while the app follows it
        except FileNotFoundError:
            raise InputError(f"no such file: {path}") from None
        except PermissionError:
            raise InputError(f"cannot read {path}: permission denied") from None
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            data = file.read()
            cut = data.rfind(b"\n") + 1
            transcript = parse_transcript(data[:cut] if cut else data, name=str(path))
            if transcript.source_format != "rlm-tui":
                raise InputError(f"{path} is an rlms log, which no rlm-tui run is writing: "
                                 "replay it (rlm-tui replay FILE)")
        except BaseException:
            file.close()
            raise
        transcript.path = path
        if not cut:  # the header itself is still being written (parse_transcript said so)
            transcript.stop = None
            return cls(transcript, file, 0, data)
        return cls(transcript, file, cut, data[cut:])

    @property
    def stop(self) -> ReadStop | None:
        return self.transcript.stop

    def poll(self) -> list[Event]:
        """The events whole since the last poll, in order (also added to transcript.events
        by whoever shows them: ReplayCursor.extend). Nothing once reading has stopped."""
        if self.stop is not None or self._file.closed:
            return []
        try:
            if os.fstat(self._file.fileno()).st_size < self._consumed + len(self.pending):
                self._stop("the file was truncated while it was followed")
                return []
            chunk = self._file.read(MAX_POLL_BYTES)
        except OSError as exc:
            self._stop(f"the file cannot be read any more: {exc.strerror or exc}")
            return []
        if not chunk:
            return []
        data = self.pending + chunk
        lines = data.split(b"\n")
        self.pending = lines.pop()
        new: list[Event] = []
        skipped = self.transcript.skipped
        for text in lines:
            self._line += 1
            if text.strip():
                decoded = decode_event_line(text)
                if decoded is None:
                    self._stop("the line is not JSON", line=self._line)
                    break
                if isinstance(decoded, str):
                    skipped[decoded] = skipped.get(decoded, 0) + 1
                else:
                    new.append(decoded)
            self._consumed += len(text) + 1
        self.transcript.lines = self._line
        return new

    def _stop(self, reason: str, *, line: int | None = None) -> None:
        self.transcript.stop = ReadStop(line or self._line + 1, self._consumed, reason)

    def finish(self) -> list[Event]:
        """The writer is gone: read what is left; a line still pending is cut for good."""
        new = self.poll()
        while True:
            more = self.poll()
            if not more:
                break
            new += more
        if self.pending and self.stop is None:
            self._stop("the last line is cut short")
        self.close()
        return new

    def close(self) -> None:
        self._file.close()

    def writer_gone(self) -> str | None:
        """Why the writer has stopped for good (its session closed, its process exited), or
        None while it may still write."""
        header = self.transcript.header
        socket = header.get("control_socket")
        if isinstance(socket, str) and socket and not os.path.lexists(socket):
            return "the session has closed"
        pid = header.get("pid")
        if isinstance(pid, int) and pid > 0 and not process_alive(pid):
            return "the process that wrote it has exited"
        return None


def process_alive(pid: int) -> bool:
    """Whether a process `pid` exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True
    return True
