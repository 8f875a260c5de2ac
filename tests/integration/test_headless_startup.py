"""A headless run of an `openai/...` model or the demo never imports litellm (its import is
~3 s and ~170 MB, paid per task by an eval), nor the app; other providers still load it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_engine import Scripted, repl

# Runs the CLI as its console script does, then tells which heavy packages were imported.
PROBE = (
    "import sys\n"
    "from rlm_tui.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "loaded = [m for m in ('litellm', 'textual', 'openai') if m in sys.modules]\n"
    "print('LOADED', ','.join(loaded) or '-', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def run_probe(*args: str, env_extra: dict[str, str] | None = None) -> tuple[int, str, list[str]]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LITELLM_", "RLM_TUI_")) and k != "USE_LITELLM_PROXY"}
    env.update({"XDG_CONFIG_HOME": os.devnull, **(env_extra or {})})
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, timeout=120, env=env)
    marker = [line for line in done.stderr.splitlines() if line.startswith("LOADED ")]
    assert marker, done.stderr
    loaded = marker[-1].removeprefix("LOADED ")
    return done.returncode, done.stdout, [] if loaded == "-" else loaded.split(",")


@pytest.fixture
def context_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("the answer is 42\n")
    return path


def test_a_run_of_an_openai_model_with_sub_calls_imports_no_litellm(openai_server,
                                                                     context_file, tmp_path):
    openai_server.responder = Scripted([
        repl("r = llm_query_batched(['a', 'b', 'c'])\nprint(len(r))"),
        repl("FINAL('42')"),
    ], sub=lambda p: "ok")
    code, stdout, loaded = run_probe(
        "run", str(context_file), "--query", "what is the answer?", "--model", "openai/root",
        "--api-base", openai_server.base_url, "--config", os.devnull,
        "--transcript", str(tmp_path / "t.jsonl"))

    assert (code, stdout) == (0, "42\n")
    assert loaded == []


def test_a_run_against_openais_own_endpoint_is_checked_without_litellm(context_file, tmp_path):
    # No key: the offline check says so (exit 3) without loading litellm to ask it.
    code, _, loaded = run_probe(
        "run", str(context_file), "--query", "q", "--model", "openai/gpt-4o-mini",
        "--config", os.devnull, "--transcript", str(tmp_path / "t.jsonl"),
        env_extra={"OPENAI_API_KEY": ""})

    assert code == 3
    assert loaded == []


def test_a_demo_run_imports_no_litellm(context_file, tmp_path):
    code, stdout, loaded = run_probe(
        "run", str(context_file), "--query", "what is here?", "--model", "demo",
        "--config", os.devnull, "--transcript", str(tmp_path / "t.jsonl"))

    assert code == 0 and stdout.strip()
    assert loaded == []


def test_a_run_through_a_litellm_proxy_leaves_the_route_to_litellm(openai_server,
                                                                   context_file, tmp_path):
    openai_server.responder = Scripted([repl("FINAL('42')")])
    code, _, loaded = run_probe(
        "run", str(context_file), "--query", "q", "--model", "openai/root",
        "--api-base", openai_server.base_url, "--config", os.devnull,
        "--transcript", str(tmp_path / "t.jsonl"),
        env_extra={"USE_LITELLM_PROXY": "True", "LITELLM_PROXY_API_BASE":
                   openai_server.base_url, "LITELLM_PROXY_API_KEY": "k"})

    assert "litellm" in loaded
