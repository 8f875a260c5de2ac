"""For the whole test run: user directories of its own (XDG_CACHE_HOME, XDG_CONFIG_HOME,
XDG_DATA_HOME and XDG_STATE_HOME, which platformdirs follows on Linux) and no RLM_TUI_*
variables, so that no test reads the developer's settings or writes into their home (masking's
compiled patterns are cached there: see rlm_tui/context/multiscan.py; transcripts and exports
go under the data dir). The processes tests start inherit the same."""

from __future__ import annotations

import os

import pytest

_USER_DIRS = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")


@pytest.fixture(autouse=True, scope="session")
def _own_user_dirs(tmp_path_factory: pytest.TempPathFactory):
    before = {name: value for name, value in os.environ.items()
              if name in _USER_DIRS or name.startswith("RLM_TUI_")}
    for name in before:
        del os.environ[name]
    for name in _USER_DIRS:
        os.environ[name] = str(tmp_path_factory.mktemp(name.lower()))
    yield
    for name in _USER_DIRS:
        os.environ.pop(name, None)
    os.environ.update(before)
