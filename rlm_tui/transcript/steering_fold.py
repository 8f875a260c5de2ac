"""The session tree's fold of a person's steering: the messages of the conversation, notes,
held cells and their decisions, model switches and the approval mode (SessionModel's part)."""

from __future__ import annotations

from typing import Any

from rlm_tui import events as ev
from rlm_tui.transcript.nodes import CellNode, IterationNode, Node, SessionNode


class SteeringFold:
    """The handlers of SessionModel (model.py) for steering events."""

    nodes: dict[str, Node]
    sessions: dict[str, SessionNode]
    pending_notes: list[str]
    held_cell: CellNode | None
    model_changes: list[dict[str, Any]]
    approve_mode: str

    def _message_added(self, e: ev.MessageAdded) -> Node | None:
        node = self.nodes.get(e.node_id)
        message = (e.role, e.kind, e.content)
        if isinstance(node, SessionNode) and node.turns:
            node.turns[-1].opening.append(message)
        elif isinstance(node, IterationNode):
            node.messages.append(message)
        if e.kind == "note" and isinstance(node, IterationNode):
            text = e.content.split(": ", 1)[-1] if e.content.startswith("Note from") \
                else e.content
            node.notes.append(text)
            if text in self.pending_notes:
                self.pending_notes.remove(text)
        return node

    def _note_added(self, e: ev.NoteAdded) -> SessionNode | None:
        self.pending_notes.append(e.text)
        return self.sessions.get(e.node_id)

    def _cell_held(self, e: ev.CellHeld) -> CellNode | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, CellNode):
            return None
        node.held = e.reason
        self.held_cell = node
        return node

    def _cell_decided(self, e: ev.CellDecided) -> CellNode | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, CellNode):
            return None
        node.decision = e.decision
        if e.decision == "edited":
            node.ran_code = e.code
        if self.held_cell is node:
            self.held_cell = None
        return node

    def _models_changed(self, e: ev.ModelsChanged) -> SessionNode | None:
        self.model_changes.append({"root_model": e.root_model, "sub_model": e.sub_model,
                                   "ts": e.ts})
        session = self.sessions.get(e.node_id)
        if session is not None:
            session.root_model, session.sub_model = e.root_model, e.sub_model
        return session

    def _approve_mode_changed(self, e: ev.ApproveModeChanged) -> None:
        self.approve_mode = e.mode
        return None
