"""Where model-written Python runs: a RestrictedPython REPL in a locked-down worker process.

The host side (`Sandbox`) is what the engine uses; the worker imports only what it needs, so
this package loads its public names lazily to keep the worker's start fast.
"""

from typing import TYPE_CHECKING, Any

__all__ = ["CellResult", "PackContext", "Sandbox", "SandboxLimits", "SubcallRequest",
           "ToolCallError", "ToolRequest"]

if TYPE_CHECKING:
    from rlm_tui.sandbox.host import (
        CellResult,
        PackContext,
        Sandbox,
        SandboxLimits,
        SubcallRequest,
    )
    from rlm_tui.sandbox.tool_calls import ToolCallError, ToolRequest


def __getattr__(name: str) -> Any:
    if name in ("ToolCallError", "ToolRequest"):
        from rlm_tui.sandbox import tool_calls

        return getattr(tool_calls, name)
    if name in __all__:
        from rlm_tui.sandbox import host

        return getattr(host, name)
    raise AttributeError(name)
