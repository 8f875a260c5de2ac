"""The root model's conversation, owned by its session: every message it has been sent (the
system prompt, the questions, code output, the person's notes) and its own replies.

Each message the engine adds is reported as a `message_added` event (the model's replies are
`root_done`), so a transcript holds the whole conversation and a fork can continue it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from rlm_tui import events as ev
from rlm_tui.engine import prompts

# (node_id, role, kind, content): reports one message added.
MessageSink = Callable[[str, str, ev.MessageKind, str], None]


class Conversation:
    def __init__(self, on_message: MessageSink) -> None:
        self.messages: list[dict[str, str]] = []  # what the model is sent
        # Every message ever added, compactions or not (the REPL's `history` after one).
        self.history: list[dict[str, str]] = []
        self.nodes: list[str] = []  # the node each message of `messages` belongs to
        self.pending_notes: deque[str] = deque()  # queued by the person, not yet sent
        self._on_message = on_message

    def add(self, node_id: str, role: str, kind: ev.MessageKind, content: str) -> None:
        self.messages.append({"role": role, "content": content})
        self.history.append({"role": role, "content": content})
        self.nodes.append(node_id)
        self._on_message(node_id, role, kind, content)

    def reply(self, text: str, node_id: str = "") -> None:
        """The model's own reply (its root_done event records it)."""
        self.messages.append({"role": "assistant", "content": text})
        self.history.append({"role": "assistant", "content": text})
        self.nodes.append(node_id)

    def compact(self, start: int, end: int, summary: list[dict[str, str]]) -> None:
        """Messages [start, end) give way to `summary` (what the model is sent; `history`
        keeps them all)."""
        self.messages[start:end] = summary
        self.nodes[start:end] = [""] * len(summary)
        self.history.extend(summary)

    def queue_note(self, text: str) -> None:
        self.pending_notes.append(text)

    def deliver_notes(self, node_id: str) -> None:
        """The queued notes, as user messages before the model's next call."""
        while self.pending_notes:
            self.add(node_id, "user", "note", prompts.note_message(self.pending_notes.popleft()))
