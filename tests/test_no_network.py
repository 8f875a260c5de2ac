"""Tests reach only 127.0.0.1: a model named without an api_base goes to its provider's own
endpoint, which the test run moves to a closed local port (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from rlm_tui.lm.routes import direct_route
from rlm_tui.lm.spec import ModelSpec
from tests.conftest import NOWHERE


def test_a_providers_own_endpoint_is_a_closed_local_port_here_and_in_child_processes():
    spec = ModelSpec(model="openai/gpt-4o-mini")
    assert direct_route(spec).url(spec) == f"{NOWHERE}/chat/completions"
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['OPENAI_BASE_URL'], "
                               "os.environ['ANTHROPIC_API_BASE'])"],
        capture_output=True, text=True, timeout=30, env=os.environ.copy())
    assert child.stdout.split() == [NOWHERE, NOWHERE]
