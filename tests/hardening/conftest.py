"""Fixtures for the hardening suite: the integration suite's local OpenAI-compatible server.

Imported, not copied, so both suites script the same server the same way.
"""

from tests.integration.conftest import (  # noqa: F401 - pytest finds fixtures by name
    _litellm_warnings_silenced,
    _openai_server_process_wide,
    openai_server,
)
