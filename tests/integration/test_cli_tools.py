"""`--tools FILE.py` on the command line: a real subprocess, a real tools file, the local
test server; a bad file is one line and exit 2, before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_cli_run import model_args, repo, rlm_tui  # noqa: F401 - fixture
from tests.integration.test_engine import Scripted, repl

TOOLS = '''\
"""Tools for the test run."""
import json as _json

CALLS = []


def lookup_issue(number: int, state: str = "open") -> dict:
    """Fetch an issue by its number."""
    return {"number": number, "state": state}


async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _private() -> None:
    pass
'''


def test_a_tools_file_gives_the_repl_its_public_functions(openai_server, repo, tmp_path):
    tools = tmp_path / "tools.py"
    tools.write_text(TOOLS)
    script = Scripted([
        repl("issue = lookup_issue(3, state='closed')\nprint(issue, add(2, 3))"),
        repl("FINAL(issue['state'])"),
    ])
    openai_server.responder = script
    transcript = tmp_path / "t.jsonl"
    done = rlm_tui("run", str(repo), "-q", "q", *model_args(openai_server),
                   "--tools", str(tools), "--transcript", str(transcript), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "closed"
    system = script.root_requests[0]["messages"][0]["content"]
    assert "`lookup_issue(number: int, state: str = 'open') -> dict`: Fetch an issue" in system
    assert "`add(a: int, b: int) -> int`: Add two numbers." in system
    assert "_private" not in system and "CALLS" not in system
    output = script.root_requests[1]["messages"][-1]["content"]
    assert "{'number': 3, 'state': 'closed'} 5" in output
    lines = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert lines[0]["settings"]["tools"] == str(tools)
    assert [e["name"] for e in lines if e["type"] == "tool_finished"] == ["lookup_issue", "add"]


BAD_FILES = {
    "missing": (None, "no such file"),
    "does-not-import": ("import no_such_module_here\n",
                        "it does not import: ModuleNotFoundError: No module named"),
    "syntax-error": ("def broken(:\n", "it does not import: SyntaxError"),
    "raises": ("raise RuntimeError('nope')\n", "it does not import: RuntimeError: nope"),
    "no-public-function": ("VALUE = 3\ndef _hidden():\n    pass\nfrom json import dumps\n",
                           "no public function in it"),
    "shadows-a-repl-name": ("def llm_query(x):\n    return x\n",
                            "'llm_query' is one of the REPL's own names"),
}


@pytest.mark.parametrize("command", ["run", "app"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_tools_file_is_one_line_and_exit_2(repo, tmp_path, case, command):
    text, message = BAD_FILES[case]
    tools = tmp_path / "tools.py"
    if text is not None:
        tools.write_text(text)
    transcript = tmp_path / "t.jsonl"
    if command == "run":
        argv = ["run", str(repo), "-q", "q", "--model", "demo", "--transcript",
                str(transcript)]
    else:
        argv = [str(repo), "--model", "demo"]
    done = rlm_tui(*argv, "--tools", str(tools), "--config", "/dev/null", timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rlm-tui: --tools {tools}: "), lines
    assert message in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not transcript.exists()  # it failed before anything was written
