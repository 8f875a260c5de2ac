"""Transcripts: every event of a session as JSON lines, written as they happen; read back
(ours, or the reference library's rlms logs), folded into a session tree, and exported."""

from rlm_tui.transcript.export import EXPORT_FORMATS, default_output_path, export_transcript
from rlm_tui.transcript.model import (
    CellNode,
    IterationNode,
    SessionModel,
    SessionNode,
    SubCallNode,
    ToolCallNode,
    Totals,
)
from rlm_tui.transcript.reader import ReadStop, Transcript, parse_transcript, read_transcript
from rlm_tui.transcript.writer import TranscriptWriter, default_transcript_path

__all__ = [
    "EXPORT_FORMATS",
    "CellNode",
    "IterationNode",
    "ReadStop",
    "SessionModel",
    "SessionNode",
    "SubCallNode",
    "ToolCallNode",
    "Totals",
    "Transcript",
    "TranscriptWriter",
    "default_output_path",
    "default_transcript_path",
    "export_transcript",
    "parse_transcript",
    "read_transcript",
]
