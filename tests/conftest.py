"""For the whole test run: user directories of its own (XDG_CACHE_HOME, XDG_CONFIG_HOME,
XDG_DATA_HOME and XDG_STATE_HOME, which platformdirs follows on Linux) and no RLM_TUI_*
variables, so that no test reads the developer's settings or writes into their home (masking's
compiled patterns are cached there: see rlm_tui/context/multiscan.py; transcripts and exports
go under the data dir). And the providers' own endpoints (a model named without an api_base:
OpenAI's, Anthropic's) moved to a closed port on 127.0.0.1: a test that checks what happens
with no key or with OpenAI's own endpoint cannot reach the internet if a request does go out.
Plain HTTP to anywhere but the loopback goes through a "proxy" on that closed port too: Ray's
dashboard (the eval tests start one) asks the clouds' metadata addresses (169.254.169.254,
metadata.google.internal) which cloud it runs on, whether or not its usage stats are on; and
Ray's usage reports are off. The processes tests start inherit the same."""

from __future__ import annotations

import os

import pytest

_USER_DIRS = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")
NOWHERE = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, a request fails at once
_PROVIDER_BASES = ("OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_BASE_URL",
                   "ANTHROPIC_API_BASE")
# Upper case only: every HTTP client reads it, and a test that names its own proxy
# (HTTP_PROXY) is not overruled by a lower-case one, which urllib would read first.
_NO_WAY_OUT = {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost,::1",
               "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture(autouse=True, scope="session")
def _own_user_dirs(tmp_path_factory: pytest.TempPathFactory):
    before = {name: value for name, value in os.environ.items()
              if name in _USER_DIRS or name in _PROVIDER_BASES or name in _NO_WAY_OUT
              or name.startswith("RLM_TUI_")}
    for name in before:
        del os.environ[name]
    for name in _USER_DIRS:
        os.environ[name] = str(tmp_path_factory.mktemp(name.lower()))
    for name in _PROVIDER_BASES:
        os.environ[name] = NOWHERE
    os.environ.update(_NO_WAY_OUT)
    yield
    for name in (*_USER_DIRS, *_PROVIDER_BASES, *_NO_WAY_OUT):
        os.environ.pop(name, None)
    os.environ.update(before)
