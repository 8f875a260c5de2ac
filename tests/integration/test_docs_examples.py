"""The README's and docs/'s shell examples run as written, and their relative links resolve.

Every ```sh / ```bash / ```console block of README.md and docs/*.md runs in a temporary
directory with the repo's venv first on PATH, one block a bash script (`set -e`), and must
exit 0, or the code a `<!-- exit: N -->` comment just above it names. A block that needs an
API key, a network, a long time or a running server says so just above it with
`<!-- not run: why -->` and is skipped. Offline: no block that runs talks to a network.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"(?P<before>(?:<!--[^\n]*-->\n)?)```(?P<lang>sh|bash|console)\n(?P<body>.*?)^```",
    re.M | re.S)
NOT_RUN = re.compile(r"<!--\s*not run:")
EXIT = re.compile(r"<!--\s*exit:\s*(\d+)\s*-->")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def blocks():
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            line = text[:match.start("lang")].count("\n") + 1
            yield pytest.param(match, id=f"{page.relative_to(ROOT)}:{line}")


def script(body: str, lang: str) -> str:
    if lang != "console":
        return body
    return "\n".join(l[2:] for l in body.splitlines() if l.startswith("$ "))


@pytest.mark.parametrize("match", blocks())
def test_a_shell_example_runs_as_written(match, tmp_path):
    if NOT_RUN.search(match["before"]):
        pytest.skip(match["before"].strip())
    code = EXIT.search(match["before"])
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(ROOT), LITELLM_LOCAL_MODEL_COST_MAP="True",
               XDG_DATA_HOME=str(tmp_path / ".data"), XDG_CONFIG_HOME=str(tmp_path / ".config"),
               XDG_CACHE_HOME=str(tmp_path / ".cache"))
    for key in [k for k in env if k.endswith("_API_KEY")]:
        del env[key]
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(["bash", "-e", "-c", script(match["body"], match["lang"])], cwd=work,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == (int(code[1]) if code else 0), done.stdout + done.stderr


def test_the_docs_have_shell_examples_that_run():
    runnable = [m for m in (p.values[0] for p in blocks()) if not NOT_RUN.search(m["before"])]
    assert len(runnable) >= 1


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, - for spaces."""
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.*)$", page.read_text(), re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_and_heading(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        if target.startswith("#"):
            target = page.name + target
        path, _, anchor = target.partition("#")
        if not (page.parent / path).exists():
            broken.append(target)
        elif anchor and path.endswith(".md") and anchor not in anchors(page.parent / path):
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"


def test_the_readme_shows_the_install_and_test_commands_that_ci_runs():
    """.ci/run installs as the README says and runs the README's test command: the same lines."""
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    readme = (ROOT / "README.md").read_text()
    shown = [m["body"] for m in FENCE.finditer(readme)]
    for label in ("# README: install", "# README: test"):
        command = ci[ci.index(label) + 1]
        assert any(command in body for body in shown), f"{label}: {command}"


def test_every_dependency_is_in_the_list_that_says_why():
    """Each package pyproject.toml pins (extras too) is named in docs/dependencies.md."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = project["dependencies"] + sum(project.get("optional-dependencies", {}).values(), [])
    listed = (ROOT / "docs" / "dependencies.md").read_text().lower()
    missing = [n for n in (re.split(r"[=<>\[ ;~!]", pin)[0] for pin in pins)
               if n.lower() not in listed]
    assert not missing, f"say in docs/dependencies.md why these are there: {missing}"
