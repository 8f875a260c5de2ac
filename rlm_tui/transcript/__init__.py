"""Transcripts: every event of a session as JSON lines, written as they happen."""

from rlm_tui.transcript.writer import TranscriptWriter, default_transcript_path

__all__ = ["TranscriptWriter", "default_transcript_path"]
