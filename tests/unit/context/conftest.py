"""Helpers for context tests: real files in tmp_path, real git repositories, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rlm_tui.context.loader import LoadOptions, load_context
from rlm_tui.context.pack import ContextPack

REPO_ROOT = Path(__file__).resolve().parents[3]


def write(root: Path, files: dict[str, str | bytes]) -> None:
    """Create `files` (relative path -> text or bytes) under `root`."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def git(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout


@pytest.fixture
def git_repo(tmp_path: Path) -> Callable[[dict[str, str | bytes], list[str]], Path]:
    """Make a git repository with `files`; the paths in `tracked` are committed."""

    def make(files: dict[str, str | bytes], tracked: list[str]) -> Path:
        root = tmp_path / "repo"
        root.mkdir()
        git(root, "init", "-q")
        write(root, files)
        if tracked:
            git(root, "add", "-f", "--", *tracked)
            git(root, "commit", "-q", "-m", "init")
        return root

    return make


@pytest.fixture
def pack_dirs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    """Fresh pack directories, outside tmp_path (which tests load as a source)."""
    return lambda: tmp_path_factory.mktemp("pack")


@pytest.fixture
def load(pack_dirs: Callable[[], Path]) -> Callable[..., ContextPack]:
    """Load a source into a fresh pack directory."""

    def run(source: Path | str, **options: object) -> ContextPack:
        return load_context(source, pack_dirs(), LoadOptions(**options))  # type: ignore[arg-type]

    return run


def run_cli(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m rlm_tui` for real, as a user would; stdout and stderr as text."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "rlm_tui", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    )
