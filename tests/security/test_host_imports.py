"""The host process imports none of the modules of the directory it is started in: `python -m
rlm_tui` puts that directory first on the module path (CPython's rule for -m), and a
repository holding a `logging.py` or `json.py` would otherwise run it as the standard
library's, with the user's rights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHADOWING = ("logging", "json", "argparse", "textwrap", "enum", "tempfile", "pathlib", "typing",
             "dataclasses", "hashlib", "pickle", "tomllib", "platformdirs", "pathspec")


def test_python_m_in_a_hostile_repository_runs_none_of_its_modules(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    marker = tmp_path / "ran"
    for name in SHADOWING:
        (repo / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r} + ' ')\n")
    (repo / "notes.txt").write_text("nothing to see\n")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-m", "rlm_tui", "context", "."], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), f"ran: {marker.read_text()}"
    assert "logging.py" in done.stdout  # loaded as text, not imported


def test_the_mcp_server_started_in_a_hostile_repository_runs_none_of_its_modules(
        tmp_path: Path):
    # `rlm-tui mcp` is started in the repository it serves (its default root), and the MCP
    # SDK imports a great deal: none of it may come from there.
    import pytest

    pytest.importorskip("mcp")
    repo = tmp_path / "repo"
    repo.mkdir()
    marker = tmp_path / "ran"
    for name in (*SHADOWING, "anyio", "mcp", "pydantic", "starlette", "uvicorn", "httpx"):
        (repo / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r} + ' ')\n")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OPENAI_API_KEY="sk-test",
               XDG_CONFIG_HOME=os.devnull)
    # stdin at its end: the server starts, finds its client gone, and stops.
    done = subprocess.run([sys.executable, "-m", "rlm_tui", "mcp", "--model", "openai/x",
                           "--config", os.devnull], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert not marker.exists(), f"ran: {marker.read_text()}"
