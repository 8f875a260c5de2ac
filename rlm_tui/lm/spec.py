"""What to call: a model, where it lives, and how patiently."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Arguments the client sets itself; letting `params` override them would break streaming,
# retries or key handling.
RESERVED_PARAMS = frozenset(
    {
        "model", "messages", "stream", "stream_options", "api_base", "base_url", "api_key",
        "timeout", "request_timeout", "num_retries", "max_retries",
    }
)


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
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key_env: str | None = None
    timeout: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _no_reserved_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(RESERVED_PARAMS.intersection(params))
        if clash:
            raise ValueError(f"params may not set {', '.join(clash)}: the client sets them")
        return params
