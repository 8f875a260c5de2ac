"""The public Python API: `ask` for one question, `Session` for several on one REPL.

Imported by `rlm_tui`'s own attributes on first use (`rlm_tui.ask`), so that `import rlm_tui`
costs nothing; this package imports the engine (pydantic, the sandbox's host side), never
litellm, Textual or Ray.
"""

from rlm_tui.api.ask import ask, ask_async
from rlm_tui.api.result import Result, Tokens
from rlm_tui.api.session import Fork, ModelFailed, RunFailed, SandboxFailed, Session

__all__ = ["Fork", "ModelFailed", "Result", "RunFailed", "SandboxFailed", "Session", "Tokens",
           "ask", "ask_async"]
