# The public API's types for type checkers: `rlm_tui/__init__.py` imports these names on
# first use (PEP 562), so that `import rlm_tui` stays cheap.
from rlm_tui.api import (
    ModelFailed as ModelFailed,
    Result as Result,
    RunFailed as RunFailed,
    SandboxFailed as SandboxFailed,
    Session as Session,
    Tokens as Tokens,
    ask as ask,
    ask_async as ask_async,
)
from rlm_tui.context.sources import Source as Source
from rlm_tui.errors import (
    ConfigError as ConfigError,
    InputError as InputError,
    ModelError as ModelError,
    RlmTuiError as RlmTuiError,
    SandboxError as SandboxError,
    UsageError as UsageError,
)

__version__: str
__all__: list[str]
