"""What to call: a model, where it lives, and how patiently."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rlm_tui.config import RESERVED_PARAMS  # arguments the client sets itself

# Until the config has a `transport` setting, this variable sets the default (bench_engine.py
# uses it to compare the two); once it does, `RLM_TUI_TRANSPORT` is that setting's variable.
TRANSPORT_ENV = "RLM_TUI_TRANSPORT"

Transport = Literal["auto", "litellm"]


def _default_transport() -> str:
    return os.environ.get(TRANSPORT_ENV, "auto")


class ModelSpec(BaseModel):
    """One model endpoint as the user configured it.

    - `model`: litellm's name, with a provider prefix (`openai/gpt-4o-mini`,
      `anthropic/claude-...`; `openai/<name>` for any OpenAI-compatible server).
    - `api_base`: the server's base URL (e.g. `http://127.0.0.1:8000/v1`); None for the
      provider's own endpoint.
    - `api_key_env`: the environment variable holding the key. None means the provider's
      usual variable (e.g. `OPENAI_API_KEY`) for the provider's own endpoint, and no key
      (a dummy one) when `api_base` is set: a provider's key is never sent to another host
      unless named here.
    - `timeout`: seconds to wait for the first byte and between streamed chunks.
    - `max_retries`: retries after the first attempt for failures that retrying can fix.
    - `params`: extra completion arguments passed through (`temperature`, `max_tokens`, ...).
    - `transport`: `auto` streams OpenAI-compatible chat completions directly over HTTP when
      litellm would send the request unchanged (see `routes.py`), and uses litellm for the
      rest; `litellm` always uses litellm. Default: `$RLM_TUI_TRANSPORT`, else `auto`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key_env: str | None = None
    timeout: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)
    transport: Transport = Field(default_factory=_default_transport, validate_default=True)

    @field_validator("params")
    @classmethod
    def _no_reserved_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(RESERVED_PARAMS.intersection(params))
        if clash:
            raise ValueError(f"params may not set {', '.join(clash)}: the client sets them")
        return params
