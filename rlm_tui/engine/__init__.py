"""The RLM engine: runs sessions and reports everything as events (see rlm_tui.events)."""

from rlm_tui.engine.control import Ledger, RunControl
from rlm_tui.engine.session import Outcome, Run, RunContext, Session

__all__ = ["Ledger", "Outcome", "Run", "RunContext", "RunControl", "Session"]
