"""Resource bombs, second round: what the first suite (test_resource_bombs) does not try.

Model code that runs after its cell's timer has stopped, error messages and printed objects
that are not the plain `str` the worker's own code assumes, sub-call batches that multiply in
the host, and frames a hostile worker may send the host. Each must end with an error for the
model and leave a sandbox that runs the next cell; bombs that do not are marked
`xfail(strict=True)` with the reason starting "BYPASS" or "DOS".
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import pytest_asyncio

from rlm_tui.sandbox import Sandbox, SandboxLimits
from rlm_tui.sandbox import host as host_module
from tests.security.conftest import assert_next_cell_runs, everything_shown, run

pytestmark = pytest.mark.asyncio(loop_scope="module")

KEEP = 10_000
LIMITS = SandboxLimits(
    cell_timeout=1.0,
    kill_grace=1.0,
    memory_mb=512,
    kept_output_chars=KEEP,
    flood_output_chars=100_000,
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bomb_sandbox():
    async with Sandbox(limits=LIMITS) as sandbox:
        yield sandbox



# Bombs and hostile frames found open by this round and not yet closed (strict xfail).
STILL_OPEN: set[str] = set()

@dataclass(frozen=True)
class Bomb:
    code: str
    kinds: frozenset[str]
    restart: bool | None = None  # False: must be stopped in place, variables kept
    reason: str | None = None  # what went wrong when this round found it open


def bomb(code: str, *kinds: str, restart: bool | None = None, reason: str | None = None) -> Bomb:
    return Bomb(code, frozenset(kinds), restart, reason)


BOMBS = {
    "generator-finalised-after-the-cell-never-ends": bomb(
        """\
def stubborn():
    try:
        yield 1
    finally:
        while True:  # runs when the generator is collected: after the cell, no timer
            pass
def fail():
    gen = stubborn()
    next(gen)
    raise ValueError("the cell fails; its generator dies with the traceback")
fail()
""",
        "exception", "timeout", restart=False,
        reason="DOS/BYPASS: _execute stops the timer (running=False) before the exception and "
        "its traceback are released; the frames' generators are then finalised and their "
        "`finally` runs model code with no timer and SIGINT ignored, in the worker's own "
        "bookkeeping. The worker hangs until the host kills it (variables lost); the same "
        "holds for __del__ from the Enum/type bypasses. Fix: in worker._execute, catch the "
        "exception inside the timed region, format it there, then `exc.__traceback__ = None`, "
        "traceback.clear_frames(tb), drop every reference and gc.collect() while running is "
        "still True and the timer armed; only then stop the timer.",
    ),
    "error-message-object-that-breaks-the-formatter": bomb(
        """\
class Falsy:
    def __bool__(self):
        raise ValueError("the error formatter meets this")
class Lines:
    def splitlines(self):
        return Falsy()
class Message(str):
    def strip(self):
        return Lines()
class Boom(Exception):
    def __str__(self):
        return Message("boom")
raise Boom()
""",
        "exception", restart=False,
        reason="DOS: worker._one_line calls strip()/splitlines() on what str(exc) returned, a "
        "str subclass the model controls, and tests the result outside its try; the exception "
        "escapes run_cell and kills the worker (all variables lost, on demand). Fix: in "
        "_one_line use `text = str.__str__(...)`-style exact-str coercion (e.g. "
        "`msg = str(exc); msg = msg if type(msg) is str else '(...)'`) and keep all of it "
        "inside the try.",
    ),
    "return-in-finally-in-a-loop": bomb(
        """\
def swallow():
    try:
        while True:
            pass
    finally:
        return 1
while True:
    swallow()
""",
        "refused", "timeout",  # refused at compile time now; a timeout if that ever slips
    ),
    "decimal-context-at-its-maximum-precision": bomb(
        """\
import decimal
decimal.getcontext().prec = decimal.MAX_PREC
x = decimal.Decimal(1) / decimal.Decimal(7)
""",
        "memory", "exception", "timeout",
    ),
}


@pytest.mark.parametrize(
    "case",
    [pytest.param(b, id=name, marks=[pytest.mark.xfail(strict=True, reason=b.reason)]
                  if name in STILL_OPEN else [])
     for name, b in BOMBS.items()],
)
async def test_bomb_ends_with_an_error_and_the_next_cell_runs(bomb_sandbox, case):
    result = await run(bomb_sandbox, case.code)
    shown = everything_shown(result)[:3000]
    assert result.error, f"the bomb ended without an error:\n{shown}"
    assert result.error_kind in case.kinds, shown
    if case.restart is not None:
        assert result.worker_restarted is case.restart, shown
    await assert_next_cell_runs(bomb_sandbox)
    await run(bomb_sandbox, "import decimal\ndecimal.setcontext(decimal.Context())")


# -- the output limits, with printed objects that are not plain str ---------------------------

_HUGE_WITHOUT_LENGTH = """\
class Huge(str):
    def __len__(self):  # CellOutput counts with len()
        return 0
    def __add__(self, other):
        return self
"""

OUTPUT_BYPASSES = {
    "print-end-whose-radd-returns-a-huge-str": _HUGE_WITHOUT_LENGTH + """\
class End(str):
    def __radd__(self, other):  # print() builds `joined + end`
        return Huge("y" * 300_000)
print("x", end=End(""))
""",
    "print-sep-whose-join-returns-a-huge-str": _HUGE_WITHOUT_LENGTH + """\
class Sep(str):
    def join(self, parts):  # print() builds `sep.join(...)`
        return Huge("y" * 300_000)
print("x", sep=Sep(" "))
""",
    "repr-whose-add-returns-a-huge-str": _HUGE_WITHOUT_LENGTH + """\
class Piece(str):
    def __add__(self, other):  # the shown last expression is `repr(value) + "\\n"`
        return Huge("y" * 300_000)
class Shown:
    def __repr__(self):
        return Piece("shown")
Shown()
""",
}


@pytest.mark.parametrize("code", list(OUTPUT_BYPASSES.values()), ids=list(OUTPUT_BYPASSES))
async def test_printed_objects_cannot_skip_the_output_limits(bomb_sandbox, code):
    result = await run(bomb_sandbox, code)
    assert len(result.stdout) <= KEEP, f"{len(result.stdout):,} characters kept"
    assert result.stdout_total_chars >= len(result.stdout)
    await assert_next_cell_runs(bomb_sandbox)


# -- sub-calls that multiply in the host ------------------------------------------------------

MAX_SUBCALLS_PER_BATCH = 10_000


async def test_a_huge_batch_of_prompts_is_refused():
    calls = 0

    async def handler(request):
        nonlocal calls
        calls += 1
        return ""

    async with Sandbox(limits=SandboxLimits(cell_timeout=30.0, kill_grace=1.0),
                       on_subcall=handler) as sandbox:
        result = await run(sandbox, 'answers = llm_query_batched([""] * 100_000)\n'
                                    "print(len(answers))")
        assert calls <= MAX_SUBCALLS_PER_BATCH, f"the host made {calls:,} sub-calls"
        assert result.error, everything_shown(result)[:2000]
        await assert_next_cell_runs(sandbox)


# -- frames a hostile worker may send ---------------------------------------------------------
#
# Once a cell escapes (see test_escapes_round2), the worker writes what it likes on the
# protocol pipe. A fake worker stands for it here: it answers each cell with the frame the
# cell's code names, so the host is tested without depending on any particular escape.

_FAKE_WORKER = r'''
import json, os, struct, sys

def read_exactly(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data

def read():
    (size,) = struct.unpack("!I", read_exactly(4))
    return json.loads(read_exactly(size))

def send(raw):
    os.write(1, struct.pack("!I", len(raw)) + raw)

read()  # init
send(json.dumps({"op": "ready", "pid": os.getpid(), "protections": []}).encode())
while True:
    message = read()
    if message.get("op") == "shutdown":
        sys.exit(0)
    if message.get("op") != "exec":
        continue
    cell, frame = message["id"], message["code"]
    if frame == "nested-json":
        send(b'{"op":"result","id":%d,"seconds":' % cell + b"[" * 100000 + b"]" * 100000 + b"}")
    elif frame == "field-of-the-wrong-type":
        send(json.dumps({"op": "result", "id": cell, "seconds": "soon"}).encode())
    elif frame == "oversized-frame":
        os.write(1, struct.pack("!I", 2**31))
    elif frame == "not-json":
        send(b"\xff not json")
    elif frame == "not-an-object":
        send(b"[1, 2, 3]")
    else:
        send(json.dumps({"op": "result", "id": cell, "stdout": "2\n", "seconds": 0.0}).encode())
'''

HOSTILE_FRAMES = {
    "nested-json": (
        "DOS (host): protocol.decode catches ValueError only; a frame nested 100,000 deep "
        "raises RecursionError out of Sandbox.run_cell into the engine. Fix: in "
        "protocol.decode also catch RecursionError (and MemoryError) as ProtocolError."
    ),
    "field-of-the-wrong-type": (
        "DOS (host): host._cell_result calls float(message['seconds']) and trusts the other "
        "fields' types; a str there raises ValueError out of Sandbox.run_cell. Fix: validate "
        "every field's type in _cell_result (bad ones -> 0 / None) or turn any exception "
        "while building the result into a 'crashed' CellResult."
    ),
    "oversized-frame": None,
    "not-json": None,
    "not-an-object": None,
}


@pytest.mark.parametrize(
    "frame",
    [pytest.param(name, id=name, marks=[pytest.mark.xfail(strict=True, reason=reason)]
                  if name in STILL_OPEN else [])
     for name, reason in HOSTILE_FRAMES.items()],
)
async def test_the_host_survives_a_hostile_frame_from_its_worker(monkeypatch, tmp_path, frame):
    script = tmp_path / "fake_worker.py"
    script.write_text(_FAKE_WORKER)
    boot = f"import runpy; runpy.run_path({str(script)!r})"
    monkeypatch.setattr(host_module, "_WORKER_MAIN", boot)
    async with Sandbox(limits=LIMITS) as sandbox:
        result = await run(sandbox, frame)  # must come back as a result, not an exception
        assert result.error, json.dumps(result.__dict__, default=str)[:2000]
        await assert_next_cell_runs(sandbox)
