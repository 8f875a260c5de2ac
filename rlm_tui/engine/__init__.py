"""The RLM engine: runs sessions and reports everything as events (see rlm_tui.events)."""

from rlm_tui.engine.control import Ledger, RunControl
from rlm_tui.engine.run import Run
from rlm_tui.engine.run_context import Outcome, RunContext
from rlm_tui.engine.session import Session
from rlm_tui.engine.tools import ToolSet

__all__ = ["Ledger", "Outcome", "Run", "RunContext", "RunControl", "Session", "ToolSet"]
