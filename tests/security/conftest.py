"""Shared pieces of the adversarial suite: sandboxes, canaries and the checks attacks end with.

Every attack here is a cell of model-written code run in a real worker. A test passes when the
attack failed (the cell was refused or raised, and its goal was not reached) and the same sandbox
still runs the next cell. Attacks print the marker `PWNED` only once they have reached their
goal, so a marker in the output means the sandbox was escaped.

Attacks that once escaped (found by this suite, then fixed) run in fresh sandboxes, so a
regression cannot contaminate the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from rlm_tui.sandbox import CellResult, Sandbox, SandboxLimits

MARKER = "PWNED"
SAFETY_NET_SECONDS = 60  # a hung host fails the test instead of the whole run

ATTACK_LIMITS = SandboxLimits(cell_timeout=5.0, kill_grace=1.0, memory_mb=512)
ATTACK_CONTEXT = {"notes.md": "# notes\nnothing secret here\n", "src/app.py": "print('hi')\n"}

# A probe that passes only when the namespace is as the sandbox built it: no real builtins
# leaked in and the attribute guard still refuses dunders.
_INTEGRITY_PROBE = """\
intact = []
try:
    open
except NameError:
    intact.append("no-open")
try:
    getattr((), "__class__")
except AttributeError:
    intact.append("guarded")
print(1 + 1, len(intact) == 2)
"""


async def run(sandbox: Sandbox, code: str, **kwargs: object) -> CellResult:
    """Run one cell, failing (not hanging) if the host does not answer in time."""
    return await asyncio.wait_for(sandbox.run_cell(code, **kwargs), SAFETY_NET_SECONDS)


def everything_shown(result: CellResult) -> str:
    """All the text a cell produced, for the model and for the user."""
    return "\n".join([result.stdout, result.stderr, result.error or "", result.for_model()])


def assert_attack_failed(result: CellResult, *secrets_: str) -> None:
    """The cell ended in a refusal or an error, and its goal was not reached."""
    shown = everything_shown(result)
    assert MARKER not in result.stdout, f"the attack reached its goal:\n{shown}"
    for secret in secrets_:
        assert secret not in shown, f"a secret leaked into the output:\n{shown}"
    assert result.error is not None, f"the attack ran without an error:\n{shown}"
    assert result.error_kind in ("syntax", "refused", "exception"), result.error_kind
    assert result.final_answer is None


async def assert_next_cell_runs(sandbox: Sandbox) -> None:
    result = await run(sandbox, "print(1 + 1)")
    assert result.error is None, result.for_model()
    assert result.stdout == "2\n"


async def namespace_is_intact(sandbox: Sandbox) -> bool:
    result = await run(sandbox, _INTEGRITY_PROBE)
    return result.error is None and result.stdout == "2 True\n"


@contextlib.asynccontextmanager
async def new_sandbox(
    context: object = None, *, limits: SandboxLimits = ATTACK_LIMITS
) -> AsyncIterator[Sandbox]:
    """A sandbox of its own, for attacks that may damage the state they run in."""
    async with Sandbox(ATTACK_CONTEXT if context is None else context, limits=limits) as sandbox:
        yield sandbox


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_sandbox() -> AsyncIterator[Sandbox]:
    """One sandbox per test module, for attacks that are expected to fail."""
    async with Sandbox(ATTACK_CONTEXT, limits=ATTACK_LIMITS) as sandbox:
        yield sandbox


@pytest_asyncio.fixture(loop_scope="module")
async def sandbox(shared_sandbox: Sandbox) -> AsyncIterator[Sandbox]:
    """The module's sandbox; if an attack left its namespace damaged, it is restarted, so a
    successful attack cannot make the tests after it pass or fail by accident."""
    yield shared_sandbox
    if not shared_sandbox.alive or not await namespace_is_intact(shared_sandbox):
        await shared_sandbox.restart()


@dataclass(frozen=True)
class Canary:
    """A file only an escaped cell could read, and a path only an escaped cell could write."""

    path: str  # world-readable, holds `secret`
    secret: str
    write_target: str  # in a world-writable directory; must never come to exist

    def cell(self, code: str) -> str:
        """`code` with CANARY and WRITE_TARGET replaced by the paths, as str literals."""
        return code.replace("WRITE_TARGET", repr(self.write_target)).replace(
            "CANARY", repr(self.path)
        )


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Canary]:
    # The worker drops to `nobody` when started as root, and pytest's tmp_path is private to
    # its owner: a canary there would be protected by file permissions alone and could not
    # tell a language-level escape from a blocked one. So the file the cell names lives in a
    # world-readable directory; its twin in tmp_path shows the path handed to the cell is
    # outside the worker's directory either way.
    secret = f"canary-{secrets.token_hex(16)}"
    (tmp_path / "secret.txt").write_text(secret)
    shared = tempfile.mkdtemp(prefix="rlm-security-canary-")
    try:
        os.chmod(shared, 0o755)
        path = os.path.join(shared, "secret.txt")
        with open(path, "w") as f:
            f.write(secret)
        os.chmod(path, 0o644)
        writable = os.path.join(shared, "drop")
        os.mkdir(writable)
        os.chmod(writable, 0o777 | stat.S_ISVTX)
        yield Canary(path=path, secret=secret, write_target=os.path.join(writable, "owned.txt"))
    finally:
        shutil.rmtree(shared, ignore_errors=True)
