"""The session tree's fold of host tool calls (tool_started, tool_finished): SessionModel's
part (model.py), a tool call a node under the cell that made it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlm_tui import events as ev
from rlm_tui.transcript.nodes import CellNode, Node, ToolCallNode


class ToolFold:
    """The handlers of SessionModel (model.py) for tool events."""

    nodes: dict[str, Node]
    totals: Any

    if TYPE_CHECKING:
        def _attach(self, node: Node, parent: Node | None) -> None: ...

    def _tool_started(self, e: ev.ToolStarted) -> ToolCallNode | None:
        cell = self.nodes.get(e.parent_id or "")
        if not isinstance(cell, CellNode):
            return None
        node = ToolCallNode.started(e)
        node.started_ts = e.ts
        cell.tools.append(node)
        self._attach(node, cell)
        self.totals.tool_calls += 1
        return node

    def _tool_finished(self, e: ev.ToolFinished) -> ToolCallNode | None:
        node = self.nodes.get(e.node_id)
        if not isinstance(node, ToolCallNode):
            return None
        node.ended_ts = e.ts
        return node.finish(e)
