"""Resource bombs: cells that try to exhaust memory, CPU, the stack, the output or the host.

Each must end with an error message to the model (`CellResult.error` set, with a fitting
`error_kind`), never hang the host (every call is wrapped in a 60 s safety net, but no test
asserts on timings), and leave a sandbox that runs the next cell. When the worker had to be
killed, the result says so (`worker_restarted`) and the model is told its variables were lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import pytest_asyncio

from rlm_tui.sandbox import Sandbox, SandboxLimits
from tests.security.conftest import assert_next_cell_runs, everything_shown, run

pytestmark = pytest.mark.asyncio(loop_scope="module")

BOMB_LIMITS = SandboxLimits(
    cell_timeout=1.0,
    kill_grace=1.0,
    memory_mb=512,
    kept_output_chars=200_000,
    flood_output_chars=2_000_000,
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bomb_sandbox():
    async with Sandbox(limits=BOMB_LIMITS) as sandbox:
        yield sandbox


@dataclass(frozen=True)
class Bomb:
    code: str
    kinds: frozenset[str]  # acceptable error kinds
    restart: bool | None = None  # True: must be killed; False: must be stopped in place
    says: str | None = None  # text the error must contain
    timeout: float | None = None  # for bombs that take a while to build


def bomb(code: str, *kinds: str, restart: bool | None = None, says: str | None = None,
         timeout: float | None = None) -> Bomb:
    return Bomb(code, frozenset(kinds), restart, says, timeout)


BOMBS = {
    "string-of-ten-gigabytes": bomb('x = "a" * 10**10', "memory", restart=False),
    "list-of-a-billion-items": bomb("x = [0] * 10**9", "memory", restart=False),
    "list-growing-in-a-loop": bomb(
        "def grow():\n    chunks = []\n    while True:\n"
        "        chunks.append('x' * 10**6 + str(len(chunks)))\ngrow()",
        "memory", "timeout",
    ),
    "bigint-power-tower": bomb("x = 10**10**8", "timeout", "memory"),
    "bigint-power-of-two-tower": bomb("x = 2**2**40", "timeout", "memory"),
    "busy-loop": bomb("while True:\n    pass", "timeout", restart=False, says="TimeoutError"),
    "uninterruptible-c-call": bomb(
        'import hashlib\nhashlib.pbkdf2_hmac("sha256", b"p", b"s", 10**9)',
        "timeout", restart=True,
    ),
    "regex-catastrophic-backtracking": bomb(
        'import re\nre.match(r"(a+)+$", "a" * 64 + "b")', "timeout",
    ),
    "deep-recursion": bomb("def f():\n    f()\nf()", "exception", says="RecursionError"),
    "deeply-nested-json": bomb(
        "import json\nnested = []\nfor i in range(10**6):\n    nested = [nested]\n"
        "json.dumps(nested)",
        "exception", says="RecursionError", timeout=20,
    ),
    "deeply-nested-json-text": bomb(
        'import json\njson.loads("[" * 10**6 + "]" * 10**6)', "exception", says="RecursionError",
    ),
    "deeply-nested-repr": bomb(
        "nested = []\nfor i in range(10**6):\n    nested = [nested]\nnested",
        "exception", says="RecursionError", timeout=20,
    ),
    "input": bomb("name = input('who? ')", "exception", says="input() is not available"),
    "sleep-for-eleven-days": bomb(
        "import time\ntime.sleep(10**6)", "timeout", restart=False, says="TimeoutError",
    ),
    "output-flood": bomb(
        'while True:\n    print("x" * 10000)', "output_flood", restart=False,
        says="OutputLimitError",
    ),
    "fork-bomb-through-os": bomb(
        'import os\nwhile True:\n    os.fork()\n    os.system("id")', "exception",
        says="ImportError",
    ),
    "subprocess": bomb(
        'import subprocess\nsubprocess.run(["sh", "-c", "id"])', "exception", says="ImportError",
    ),
    "thread": bomb(
        "import threading\nthreading.Thread(target=lambda: None).start()", "exception",
        says="ImportError",
    ),
    "thread-low-level": bomb(
        "from _thread import start_new_thread\nstart_new_thread(print, ())", "exception",
        "refused",
    ),
    "loop-in-finally-ignores-the-timeout": bomb(
        "try:\n    while True:\n        pass\nfinally:\n    while True:\n        pass",
        "timeout",
    ),
    "except-base-exception-swallows-in-a-loop": bomb(
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except BaseException:\n        pass",
        "timeout",
    ),
    "continue-in-finally-swallows-in-a-loop": bomb(
        "while True:\n    try:\n        while True:\n            pass\n    finally:\n"
        "        continue",
        "refused", "timeout",  # refused at compile time now; a timeout if that ever slips
    ),
    "exit-hook-swallows-in-a-loop": bomb(
        'Quiet = type(int)("Quiet", (), {"__enter__": lambda self: self,'
        ' "__exit__": lambda self, *exc: True})\n'
        "while True:\n    with Quiet():\n        while True:\n            pass",
        "timeout", "exception",
    ),
    "exception-whose-str-never-returns": bomb(
        "class Loud(Exception):\n    def __str__(self):\n        while True:\n            pass\n"
        "raise Loud()",
        "timeout",
    ),
    # Should a 10 MB cell ever compile and run in time, its last line still fails.
    "ten-megabyte-cell": bomb(
        "x = 1\n" * (10 * 1024 * 1024 // 6) + "end_of_a_huge_cell", "timeout", "refused",
        "memory", "exception",
    ),
    "ten-megabyte-expression": bomb(
        "x = [" + "1," * (5 * 1024 * 1024) + "]\nend_of_a_huge_cell", "refused", "memory",
        "timeout", "exception",
    ),
    "deeply-nested-source": bomb("x = " + "(" * 100_000 + ")" * 100_000, "refused", "syntax"),
}


@pytest.mark.parametrize("case", list(BOMBS.values()), ids=list(BOMBS))
async def test_resource_bomb_ends_with_an_error_and_the_next_cell_runs(bomb_sandbox, case):
    result = await run(bomb_sandbox, case.code, timeout=case.timeout)
    shown = everything_shown(result)
    assert result.error, f"the bomb ended without an error:\n{shown[:2000]}"
    assert result.error_kind in case.kinds, shown[:2000]
    if case.says:
        assert case.says in result.error
    if case.restart is not None:
        assert result.worker_restarted is case.restart, shown[:2000]
    if result.worker_restarted:
        assert "all variables were lost" in result.for_model()
    await assert_next_cell_runs(bomb_sandbox)


async def test_a_stopped_busy_loop_keeps_the_variables_set_before_it(bomb_sandbox):
    result = await run(bomb_sandbox, "kept = 41\nwhile True:\n    kept = 42")
    assert result.error_kind == "timeout"
    assert (await run(bomb_sandbox, "print(kept)")).stdout == "42\n"


async def test_a_killed_worker_loses_its_variables_and_says_so(bomb_sandbox):
    await run(bomb_sandbox, "lost = 1")
    result = await run(
        bomb_sandbox, 'import hashlib\nhashlib.pbkdf2_hmac("sha256", b"p", b"s", 10**9)'
    )
    assert result.worker_restarted
    assert "all variables were lost" in result.for_model()
    after = await run(bomb_sandbox, "print('lost' in dir())")
    assert after.stdout == "False\n"


async def test_memory_freed_by_a_failed_cell_is_usable_again(bomb_sandbox):
    for _ in range(3):
        result = await run(bomb_sandbox, "x = bytearray(400 * 1024 * 1024)")
        assert result.error_kind == "memory" or result.error is None
        await run(bomb_sandbox, "x = None")
    result = await run(bomb_sandbox, "y = bytearray(100 * 1024 * 1024)\nprint(len(y))")
    assert result.stdout == f"{100 * 1024 * 1024}\n", everything_shown(result)[:2000]
    await assert_next_cell_runs(bomb_sandbox)


async def test_an_exception_with_a_huge_message_is_capped_for_the_model(bomb_sandbox):
    result = await run(bomb_sandbox, "raise ValueError('x' * 10**7)")
    assert result.error_kind == "exception"
    assert len(result.for_model(max_chars=20_000)) <= 25_000
