"""Fixtures for integration tests: a local OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from tests.integration.openai_server import OpenAIServer


# litellm silences these pydantic warnings itself when imported, but pytest resets warning
# filters for every test; same messages as litellm/__init__.py (1.106.2).
_LITELLM_SILENCED = (
    r".*conflict with protected namespace.*",
    r".*Accessing the.*attribute on the instance is deprecated.*",
    r".*`ReadOnly` qualifier.*",
)


@pytest.fixture(autouse=True)
def _litellm_warnings_silenced() -> None:
    for message in _LITELLM_SILENCED:
        warnings.filterwarnings("ignore", message=message)


@pytest.fixture(scope="session")
def _openai_server_process_wide() -> Iterator[OpenAIServer]:
    # One server thread for the whole run; each test gets it reset (see `openai_server`).
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def openai_server(_openai_server_process_wide: OpenAIServer) -> Iterator[OpenAIServer]:
    """A running local OpenAI-compatible server with an empty script and no requests.

    Use `openai_server.base_url` as `api_base` and `openai/<any-name>` as the model;
    queue replies with `openai_server.script(Reply(...), ...)` or set
    `openai_server.responder = lambda request_json: Reply(...)`.
    """
    _openai_server_process_wide.reset()
    yield _openai_server_process_wide
    _openai_server_process_wide.reset()
