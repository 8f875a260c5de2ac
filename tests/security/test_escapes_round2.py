"""Escape attempts, second round: paths the first suite (test_escapes, test_cves) does not take.

The same conventions: each attack is a cell a hostile model could write; it must end in a
refusal or an error without reaching its goal (printing PWNED, showing a canary or a secret),
and the sandbox must run the next cell. Attacks that reach their goal today are marked
`xfail(strict=True)` with the reason starting "ESCAPE" or "BYPASS"; once the sandbox is fixed,
they pass, and strict mode asks for the mark to be removed.

Four groups:
- attacks that fail today (one shared sandbox), kept so they stay failed;
- known escapes and bypasses, each in a fresh sandbox;
- model callbacks the REPL's own functions invoke (they must stay under the cell's timer);
- the operating-system wall alone: a process locked down exactly as the worker is, running
  the code an escaped cell would run, to see what is left once RestrictedPython is out of the way.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from rlm_tui.sandbox.limits import shield_host_process
from tests.security.conftest import (
    MARKER,
    assert_attack_failed,
    assert_next_cell_runs,
    everything_shown,
    new_sandbox,
    run,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

# A str subclass whose startswith() says no: every guard that checks a name with
# `name.startswith("_")` lets any dunder through, and getattr() reads the real name.
_NAME_THAT_LIES = """\
class Name(str):
    def startswith(self, prefix, *args):
        return False
"""


# -- attacks that fail today: they must stay failed ------------------------------------------

ATTACKS = {
    # The name check bypassed by a str subclass (see the escapes below), frames still meet
    # the value check: defence in depth holds for frames and code.
    "inspect-attribute-through-a-str-subclass-meets-the-value-check": """\
class Name(str):
    def startswith(self, prefix, *args):
        return False
    def __eq__(self, other):
        return str(self) == other
    def __hash__(self):
        Name.hashed += 1
        return 0 if Name.hashed == 1 else hash(str(self))  # miss the INSPECT set once
Name.hashed = 0
def gen():
    yield 1
g = gen()
print("PWNED", getattr(g, Name("gi_frame")))
""",
    # operator.setitem skips the write guard; the context must refuse writes by itself.
    "operator-setitem-on-the-context": """\
import operator
operator.setitem(context, "notes.md", "PWNED")
print(context["notes.md"])
""",
    "chainmap-writes-through-to-the-context": """\
import collections
view = collections.ChainMap(context)
view["notes.md"] = "PWNED"
print(context["notes.md"])
""",
    "chainmap-maps-hand-back-the-context-itself": """\
import collections
collections.ChainMap(context).maps[0]["notes.md"] = "PWNED"
""",
    "userdict-data-is-a-copy-of-the-context": """\
import collections
collections.UserDict(context).data["notes.md"] = "PWNED"
assert context["notes.md"] == "PWNED", "the context did not change"
""",
    "abc-register-does-not-make-the-context-writable": """\
import collections.abc
collections.abc.MutableMapping.register(type(context))
context["notes.md"] = "PWNED"
""",
    "copy-of-the-context-is-still-read-only": """\
import copy
clone = copy.copy(context)
clone["notes.md"] = "PWNED"
""",
    "deep-copy-of-a-module-proxy-is-still-read-only": """\
import copy, json
clone = copy.deepcopy(json)
clone.dumps = lambda *a, **k: "PWNED"
print(clone.dumps(1))
""",
    # memoryview objects are handed out (BytesIO.getbuffer); the memoryview type is not.
    "memoryview-type-through-bytesio-getbuffer": """\
import io
view_type = type(io.BytesIO(b"abc").getbuffer())
print("PWNED", view_type(b"PWNED"))
""",
    "bytesio-resized-under-an-exported-buffer": """\
import io
stream = io.BytesIO(b"abc")
view = stream.getbuffer()
stream.write(b"x" * 10**6)
print("PWNED", bytes(view[:3]))
""",
    # Mutation during the C code's own callbacks: CPython checks, the worker survives.
    "list-cleared-while-it-sorts": """\
data = list(range(1000))
data.sort(key=lambda v: data.clear() or v)
raise ValueError("no crash: the worker survived")
""",
    "heap-cleared-during-a-comparison": """\
import heapq
heap = [1, 2, 3]
class Evil:
    def __lt__(self, other):
        heap.clear()
        return True
for _ in range(10):
    heapq.heappush(heap, Evil())
raise ValueError("no crash: the worker survived")
""",
    "dict-mutated-during-its-own-comparison": """\
a = {i: i for i in range(100)}
class Evil:
    def __eq__(self, other):
        a.clear()
        return False
    def __hash__(self):
        return 5
b = dict(a)
b[5] = Evil()
print(a == b, b == a)
raise ValueError("no crash: the worker survived")
""",
    # format specs and defaults are expressions like any other: guarded.
    "format-spec-with-a-field": 'print("PWNED", format(llm_query, "{0.__globals__}"))',
    "nested-f-string-spec-with-a-dunder": 'print(f"PWNED {1:{llm_query.__globals__}}")',
    "default-argument-reads-a-dunder": """\
def leak(g=getattr(llm_query, "__globals__")):
    return g
print("PWNED", leak())
""",
    "decorator-reads-a-dunder": """\
@getattr(llm_query, "__globals__").get
def sys():
    pass
print("PWNED", sys)
""",
    "lambda-default-reads-a-dunder": 'print("PWNED", (lambda g=llm_query.__globals__: g)())',
    # typing's Type[...] is an alias of the real `type`, but calling it is refused.
    "typing-type-alias-called-as-type": """\
import typing
Hooked = typing.Type[int]("Hooked", (), {"__getattr__": lambda self, name: "PWNED"})
print(Hooked().x)
""",
    # GenericAlias forwards attribute reads to its origin; the name check still applies.
    "generic-alias-forwards-a-dunder": """\
Alias = type(list[int])
print("PWNED", getattr(Alias(llm_query, ()), "__globals__"))
""",
    "generic-alias-forwards-the-obj-of-an-exception": """\
Alias = type(list[int])
try:
    getattr(llm_query, "nothing_here")
except AttributeError as e:
    leaked = Alias(e, ()).obj  # past the guard's `obj` rule, which looks at the object only
assert leaked is not None, "the guard's error carries no object"
print("PWNED", leaked)
""",
    # Arguments of the RLM functions that are not what they should be.
    "prompt-of-an-odd-type": 'llm_query({1, 2})\nprint("PWNED")',
    "model-of-an-odd-type": 'llm_query("hi", model=["gpt"])\nprint("PWNED")',
    "batch-given-as-a-str": 'llm_query_batched("many prompts")\nprint("PWNED")',
    "context-whose-items-fail": """\
class Weird(dict):
    def items(self):
        raise ValueError("no items")
rlm_query("q", context=Weird(a=1))
print("PWNED")
""",
    "deeply-nested-prompt": """\
nested = []
for i in range(100000):
    nested = [nested]
llm_query(nested)
print("PWNED")
""",
}


@pytest.mark.parametrize("code", list(ATTACKS.values()), ids=list(ATTACKS))
async def test_escape_attempt_fails_and_the_repl_survives(sandbox, canary, code):
    result = await run(sandbox, canary.cell(code))
    assert_attack_failed(result, canary.secret, "<module ", "root:x:0:0")
    assert not result.worker_restarted
    assert result.subcalls == 0
    await assert_next_cell_runs(sandbox)
    after = await run(sandbox, 'print(context["notes.md"])')
    assert after.stdout == "# notes\nnothing secret here\n\n", everything_shown(after)


# -- known escapes and bypasses: each in a fresh sandbox -------------------------------------


@dataclass(frozen=True)
class Escape:
    code: str
    reason: str
    timeout: float | None = None
    leaks: tuple[str, ...] = ()  # text that must not appear anywhere in the output


# Each escape below was found open by this round; `reason` says what it was and how it was
# closed. Any still open is listed here and runs as a strict xfail.
STILL_OPEN: set[str] = set()

ESCAPES = {
    "str-subclass-name-passes-the-attribute-guard": Escape(
        _NAME_THAT_LIES + """\
globs = getattr(llm_query, Name("__globals__"))
os = globs.get("sys").modules.get("os")  # call results are not value-checked
print("PWNED", os.read(os.open(CANARY, os.O_RDONLY), 200))
""",
        "ESCAPE: guards.guarded_getattr accepts any str subclass as a name and checks it with "
        "name.startswith('_'), which the subclass overrides; getattr() then reads the real "
        "dunder (__globals__ -> sys -> os -> any file). Fix: in guards.guarded_getattr, "
        "guarded_setattr and guarded_hasattr, refuse `type(name) is not str` (or take "
        "name = str(name) only after that check) before any other test.",
    ),
    "str-subclass-name-in-setattr-adds-an-attribute-hook": Escape(
        _NAME_THAT_LIES + """\
class Hooked:
    pass
setattr(Hooked, Name("__getattribute__"), lambda self, name: "PWNED " + name)
print(Hooked().anything)
""",
        "BYPASS: guards.guarded_setattr checks the name with the same overridable "
        "startswith(), so a model class gets any dunder (__getattribute__, __del__, __exit__). "
        "Fix: `type(name) is str` in guarded_setattr.",
    ),
    "str-subclass-name-unequal-to-format-reaches-the-real-str-format": Escape(
        """\
class Name(str):
    def __eq__(self, other):  # unequal to the guard's "format", equal to str's own entry
        Name.calls += 1
        return Name.calls > 3 and other == "format"
    def __hash__(self):
        return hash(str(self))
Name.calls = 0
fmt = getattr("{0.__globals__[sys].modules}", Name("format"))
print("PWNED", fmt(llm_query))
""",
        "BYPASS: guarded_getattr swaps str.format for the guarded one with "
        "`name in ('format', 'format_map')`, which a str subclass's __eq__ answers; the real "
        "str.format then resolves {0.__globals__...} unguarded (CVE-2023-41039 again). Fix: "
        "`type(name) is str` in guarded_getattr.",
        leaks=("<module ", "'sys'"),
    ),
    "user-string-format-resolves-fields-unguarded": Escape(
        """\
import collections
print("PWNED", collections.UserString("{0.__globals__[sys].modules}").format(llm_query))
""",
        "BYPASS: collections.UserString.format/format_map call the real str.format on their "
        "data, so format fields read any attribute (CVE-2023-41039 through another door). "
        "Fix: in modules.py replace collections.UserString with a subclass whose format and "
        "format_map go through guards.safe_str_format / safe_str_format_map.",
        leaks=("<module ", "'sys'"),
    ),
    "typing-alias-of-str-hands-out-the-real-str-format": Escape(
        """\
import typing
fmt = typing.Annotated[str, 0].format  # typing aliases forward attributes to their origin
print("PWNED", fmt("{0.__globals__[sys].modules}", llm_query))
""",
        "BYPASS: guarded_getattr only swaps `format` when the object is a str or a str "
        "class; a typing alias whose origin is str forwards `.format` to the real, unbound "
        "str.format. Fix: check the value, not the object: in guarded_getattr, replace any "
        "value that `is str.format`/`str.format_map`, or a builtin method whose __self__ is a "
        "str and whose __name__ is format/format_map, by the guarded versions.",
        leaks=("<module ", "'sys'"),
    ),
    "generic-alias-of-str-hands-out-the-real-format-map": Escape(
        """\
Alias = type(list[int])
fmt = Alias(str, ()).format_map  # types.GenericAlias forwards to its origin too
print("PWNED", fmt("{f.__globals__[sys].modules}", {"f": llm_query}))
""",
        "BYPASS: types.GenericAlias(str, ()) forwards .format_map to the real str.format_map "
        "(same fix as the typing alias: check the value guarded_getattr returns).",
        leaks=("<module ", "'sys'"),
    ),
    "typing-get-origin-hands-out-the-real-type": Escape(
        """\
import typing
real_type = typing.get_origin(typing.Type[int])
Hooked = real_type("Hooked", (), {"__getattribute__": lambda self, name: "PWNED " + name})
print(Hooked().anything)
""",
        "BYPASS: check_value refuses metaclasses read as attributes or items, but call results "
        "are unchecked: typing.get_origin(typing.Type[int]) returns `type` itself, and its "
        "three-argument form builds classes with any dunder (__getattribute__, __del__, "
        "__exit__, __reduce_ex__) and metaclasses. Fix: in modules.py wrap typing.get_origin "
        "and typing.get_args so their results pass guards.check_value (or leave them out).",
    ),
    "enum-functional-api-defines-an-attribute-hook": Escape(
        """\
import enum
Hooked = enum.Enum("Hooked", {"a": 1, "__getattr__": lambda self, name: "PWNED " + name})
print(Hooked.a.anything)
""",
        "BYPASS: the functional Enum API takes member names from a dict, and dunder names in "
        "it become class attributes: __getattr__, __exit__, __del__, __reduce_ex__ on a model "
        "class. Fix: in modules.py wrap enum.Enum/IntEnum/Flag/IntFlag/StrEnum calls so names "
        "(dict keys, tuples, strings) starting with '_' are refused.",
    ),
    "enum-exit-hook-swallows-the-timeout": Escape(
        """\
import enum
Quiet = enum.Enum("Quiet", {"on": 1, "__enter__": lambda self: self,
                            "__exit__": lambda self, *exc: True})
with Quiet.on:
    while True:
        pass
print("PWNED: the timeout was swallowed and the cell went on")
""",
        "BYPASS: with an __exit__ from the Enum API (or typing.get_origin's type), a `with` "
        "block swallows CellTimeout, FINAL and halts, which policy.py says model code cannot do. "
        "Fix: as for the Enum API; see also the return-in-finally bypass.",
        timeout=1.0,
    ),
    "dataclass-field-name-injected-into-generated-code": Escape(
        """\
import dataclasses
@dataclasses.dataclass
class Base:
    x: int = 0
field = dataclasses.fields(Base)[0]  # Field objects are writable, and shared with the class
field.name = ("x,) if (self.__dict__.update(loot=[c for c in ().__class__.__base__"
              ".__subclasses__() if c.__name__ == 'BuiltinImporter'][0].load_module('posix')"
              ".read([c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "
              "'BuiltinImporter'][0].load_module('posix').open(CANARY, 0), 200))) else (1")
@dataclasses.dataclass(init=False, repr=False)
class Child(Base):  # inherits the renamed field; its __eq__ is generated from the name
    pass
child = Child()
child == Child()  # runs the injected code: unrestricted bytecode, no guards at all
print("PWNED", child.loot)
""",
        "ESCAPE: dataclasses builds __init__/__eq__/__repr__ as source text from field names "
        "and exec()s it unrestricted; Field.name is writable (the write guard lets any library "
        "instance be changed), and a subclass inherits the renamed field. Fix: add "
        "dataclasses.Field to the WriteGuard's read-only types, and wrap dataclasses.dataclass "
        "in modules.py to refuse classes not made by a cell and any field name (own or "
        "inherited) that is not an identifier or starts with '_'.",
    ),
    "dataclass-over-annotations-of-a-class-from-the-real-type": Escape(
        """\
import dataclasses, typing
evil = ("x,) if (self.__dict__.update(loot=[c for c in ().__class__.__base__"
        ".__subclasses__() if c.__name__ == 'BuiltinImporter'][0].load_module('posix')"
        ".read([c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "
        "'BuiltinImporter'][0].load_module('posix').open(CANARY, 0), 200))) else (1")
real_type = typing.get_origin(typing.Type[int])
Loot = dataclasses.dataclass(real_type("Loot", (), {"__annotations__": {evil: int}}),
                             init=False, repr=False)
one = Loot()
one == Loot()
print("PWNED", one.loot)
""",
        "ESCAPE: the same dataclasses sink fed without writing a Field: any class whose "
        "__annotations__ hold an arbitrary key (here one built by the real type from "
        "typing.get_origin) becomes exec()'d source. So making Field read-only is not enough: "
        "the dataclasses.dataclass wrapper must validate every field name itself.",
    ),
    "cached-property-attrname-and-copy-write-a-library-class": Escape(
        """\
import copy, functools, json
class Carrier:
    @functools.cached_property
    def hook(self):
        return lambda proto: (lambda: json.JSONEncoder, (), (None, {"item_separator": "PWNED"}))
Carrier.hook.attrname = "__reduce_ex__"  # cached_property caches under any name
carrier = Carrier()
carrier.hook  # instance __dict__["__reduce_ex__"] now holds the lambda
copy.copy(carrier)  # copy calls it, then setattr(JSONEncoder, ...) with no write guard
print(json.JSONEncoder.item_separator)
""",
        "BYPASS: a writable cached_property.attrname puts any dunder in an instance's "
        "__dict__; copy.copy() then calls that __reduce_ex__ and its reconstruction does "
        "unguarded setattr/__setitem__ on whatever the model returns (library classes). "
        "Fix: add functools.cached_property (and dataclasses.Field) to the WriteGuard's "
        "read-only types, or give model code a cached_property whose attrname is fixed and "
        "checked by __set_name__.",
    ),
    "final-var-of-a-guard-through-a-str-subclass": Escape(
        """\
class Name(str):
    def strip(self):
        return self
    def startswith(self, prefix, *args):
        return False
FINAL_VAR(Name("_getattr_"))
""",
        "BYPASS: FINAL_VAR checks the name with an overridable strip()/startswith(), so it "
        "answers with a private namespace entry (a guard, __builtins__). Fix: in "
        "namespace.FINAL_VAR, `if type(name) is not str: raise TypeError`, then "
        "key = str.strip(name).",
    ),
    "return-in-finally-swallows-the-timeout": Escape(
        """\
def stubborn():
    try:
        while True:
            pass
    finally:
        return "swallowed"
stubborn()
print("PWNED: the cell ran on past its timeout")
""",
        "BYPASS: `return` (or break/continue) in a finally block discards CellTimeout; the "
        "except-clause check never runs, and a cell that ends within the 0.25 s re-fire "
        "reports success. Fix: in worker._raise_or_hold remember the stop raised; in "
        "_execute, report it even when exec() returns normally (and/or refuse "
        "return/break/continue inside finally in policy.py).",
        timeout=1.0,
    ),
    "dataclass-decorator-writes-a-library-class": Escape(
        """\
import dataclasses, json
dataclasses.dataclass(json.JSONEncoder, eq=False, frozen=True)  # setattr on a library class
print(json.dumps([1], indent=1))
""",
        "BYPASS: dataclasses.dataclass(cls) sets attributes on any class given to it, past "
        "the write guard; a frozen JSONEncoder breaks the worker's own protocol encoder, so "
        "the worker dies after the cell (all variables lost). Fix: the dataclasses.dataclass "
        "wrapper in modules.py must accept only classes made by cells (namespace's "
        "made_classes); same for functools.total_ordering.",
    ),
    "match-class-pattern-under-a-shadowed-builtin-name": Escape(
        """\
import collections, collections.abc
# __match_args__ from a namedtuple; isinstance() made true with ABC.register.
class GenMatch(collections.namedtuple("G", ["gi_frame"]), collections.abc.Generator):
    pass
class FrameMatch(collections.namedtuple("F", ["f_back", "f_globals"]),
                 collections.abc.Hashable):
    pass
def walk():
    list = GenMatch  # policy.py allows positional class patterns for the *name* "list"
    match it:
        case list(frame):
            pass
    FrameMatch.register(type(frame))
    list = FrameMatch
    found = None
    while frame is not None and found is None:
        match frame:
            case list(back, globs):
                found = globs.get("os")
                frame = back
    yield found
it = walk()
GenMatch.register(type(it))
os = next(it)
print("PWNED", os.read(os.open(CANARY, os.O_RDONLY), 200))
""",
        "ESCAPE: visit_MatchClass allows positional sub-patterns when the class is *named* "
        "like a builtin (list, str, ...), but any cell may rebind that name; MATCH_CLASS then "
        "reads the names in __match_args__ (gi_frame, f_back, f_globals) with no guard. Fix: "
        "in policy.visit_MatchClass rewrite such a Name into an attribute of a reserved, "
        "unbindable name (e.g. `_match_types_.list`, bound in namespace.py to the real types), "
        "or refuse positional sub-patterns altogether.",
    ),
}


@pytest.mark.parametrize(
    "case",
    [pytest.param(e, id=name, marks=[pytest.mark.xfail(strict=True, reason=e.reason)]
                  if name in STILL_OPEN else [])
     for name, e in ESCAPES.items()],
)
async def test_known_escape_is_closed(canary, case):
    async with new_sandbox() as sandbox:
        result = await run(sandbox, canary.cell(case.code), timeout=case.timeout)
        assert_attack_failed(result, canary.secret, *case.leaks)
        assert not result.worker_restarted, everything_shown(result)
        await assert_next_cell_runs(sandbox)
        after = await run(sandbox, "import json\nprint(json.dumps([1], indent=1), "
                                   "json.JSONEncoder.item_separator)")
        assert after.stdout == '[\n 1\n] , \n', everything_shown(after)


# -- model callbacks that the REPL's own functions invoke -------------------------------------

CALLBACKS = {
    "show-vars-calls-a-len-that-never-returns": """\
class Endless:
    def __len__(self):
        while True:
            pass
endless = Endless()
SHOW_VARS()
""",
    "display-calls-a-repr-that-never-returns": """\
class Endless:
    def __repr__(self):
        while True:
            pass
Endless()
""",
    "final-calls-a-str-that-never-returns": """\
class Endless:
    def __str__(self):
        while True:
            pass
FINAL(Endless())
""",
    "print-calls-a-str-that-never-returns": """\
class Endless:
    def __str__(self):
        while True:
            pass
print(Endless())
""",
}


@pytest.mark.parametrize("code", list(CALLBACKS.values()), ids=list(CALLBACKS))
async def test_model_callbacks_run_by_the_repl_stay_under_the_cell_timer(sandbox, code):
    result = await run(sandbox, code, timeout=1.0)
    assert result.error_kind == "timeout", everything_shown(result)
    assert not result.worker_restarted  # stopped in place, not killed
    assert result.final_answer is None
    await assert_next_cell_runs(sandbox)


async def test_lone_surrogates_in_output_and_prompts_do_not_break_the_protocol():
    prompts: list[str] = []

    async def handler(request):
        prompts.append(request.prompt)
        return "\udcff reply with a lone surrogate"

    async with new_sandbox() as sandbox:
        code = 'print("\\ud800 out")\nanswer = llm_query("\\udfff in")\nprint(answer)'
        result = await run(sandbox, code, on_subcall=handler)
        assert result.error is None, everything_shown(result)
        assert len(prompts) == 1
        prompts[0].encode("utf-8")  # what reached the host is valid text
        result.stdout.encode("utf-8")
        await assert_next_cell_runs(sandbox)


# -- the operating-system wall alone ----------------------------------------------------------
#
# A process started as the host starts its worker (empty environment, its own session, a
# 0777 working directory) locks itself down with the worker's own `limits.apply_limits` and
# `die_with_parent`, then runs what a cell that escaped RestrictedPython would run. The probe
# prints PWNED when it reaches its goal.

_REPO = str(Path(__file__).resolve().parents[2])

_LOCKED_BOOT = """\
import json, os, socket, sys
sys.path[:0] = [{repo!r}]
import encodings.idna  # loaded before the doors close, as the worker's own imports are
from rlm_tui.sandbox import limits
applied = limits.apply_limits(512)
limits.die_with_parent({parent})
print(json.dumps(applied), flush=True)
"""


async def _locked(probe: str, cwd: str, timeout: float = 20.0) -> subprocess.CompletedProcess:
    code = _LOCKED_BOOT.format(repo=_REPO, parent=os.getpid()) + probe
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-I", "-c", code], env={}, cwd=cwd,
        capture_output=True, text=True, start_new_session=True, timeout=timeout,
    )


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="rlm-security-os-")
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _assert_probe_failed(proc: subprocess.CompletedProcess, *secrets: str) -> None:
    shown = proc.stdout + proc.stderr
    assert proc.stdout.strip(), f"the locked process did not start:\n{shown}"
    assert MARKER not in proc.stdout, f"the escaped code reached its goal:\n{shown}"
    for secret in secrets:
        assert secret not in shown


AS_ROOT = os.geteuid() == 0


async def test_os_escaped_code_cannot_read_files_outside_its_directory(workdir, canary):
    proc = await _locked(canary.cell('print("PWNED", open(CANARY).read())'), workdir)
    _assert_probe_failed(proc, canary.secret)


# Once an escape (the network namespace isolates IP and abstract sockets, not unix sockets
# bound to a path: /run/docker.sock, ssh-agent, D-Bus); closed by the seccomp filter in
# limits.py, which refuses socket(AF_UNIX) (tests/security/test_seccomp.py).
async def test_os_escaped_code_cannot_connect_to_a_unix_socket_on_disk(workdir):
    listen_dir = tempfile.mkdtemp(prefix="rlm-security-sock-")
    os.chmod(listen_dir, 0o755)
    path = os.path.join(listen_dir, "service.sock")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(path)
        server.listen()
        os.chmod(path, 0o777)
        probe = f"""\
s = socket.socket(socket.AF_UNIX)
s.connect({path!r})
s.sendall(b"hello from the sandbox")
print("PWNED: connected to", {path!r})
"""
        proc = await _locked(probe, workdir)
        _assert_probe_failed(proc)
    finally:
        server.close()
        shutil.rmtree(listen_dir, ignore_errors=True)


@pytest.mark.xfail(not AS_ROOT, strict=False, reason=(
    "ESCAPE (OS layer, not root): no network namespace where unprivileged user namespaces "
    "are refused; see the loopback test."))
async def test_os_escaped_code_cannot_connect_to_an_abstract_unix_socket(workdir):
    name = f"\0rlm-security-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(name)
        server.listen()
        probe = f"""\
s = socket.socket(socket.AF_UNIX)
s.connect({name!r})
print("PWNED: connected to an abstract socket")
"""
        proc = await _locked(probe, workdir)
        _assert_probe_failed(proc)
        assert "ConnectionRefusedError" in proc.stderr or "Errno" in proc.stderr, proc.stderr
    finally:
        server.close()


@pytest.mark.xfail(not AS_ROOT, strict=False, reason=(
    "ESCAPE (OS layer, not root): without root the network namespace needs an unprivileged "
    "user namespace, which many systems refuse (Debian's kernel.unprivileged_userns_clone=0, "
    "Ubuntu 23.10+ AppArmor, containers); apply_limits then just leaves 'no-network' out and "
    "the host runs the worker with the network anyway. Fix: Sandbox.start should refuse (or "
    "loudly warn) when 'no-network' is missing from the worker's protections."))
async def test_os_escaped_code_cannot_reach_the_host_loopback(workdir):
    server = socket.socket()
    try:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        probe = f"""\
s = socket.socket()
s.settimeout(2)
s.connect(("127.0.0.1", {port}))
print("PWNED: reached the host's loopback")
"""
        proc = await _locked(probe, workdir)
        _assert_probe_failed(proc)
        assert "no-network" in proc.stdout
    finally:
        server.close()


@pytest.mark.xfail(not AS_ROOT, strict=True, reason=(
    "ESCAPE (OS layer, not root): the worker keeps the user's uid, so it may signal (kill, "
    "SIGSTOP) the host and every process of the user. Fix: when not root, run the worker "
    "in a new user+PID namespace (unshare CLONE_NEWUSER|CLONE_NEWPID before the fork), or "
    "install a seccomp filter refusing kill/tgkill/pidfd_send_signal to other pids."))
async def test_os_escaped_code_cannot_signal_the_host(workdir):
    probe = f"""\
os.kill({os.getpid()}, 0)  # signal 0: the permission check only, nothing is delivered
print("PWNED: may signal the host")
"""
    proc = await _locked(probe, workdir)
    _assert_probe_failed(proc)


async def test_os_escaped_code_cannot_signal_another_sandbox_worker(workdir):
    sleeper = subprocess.Popen(
        [sys.executable, "-I", "-c", _LOCKED_BOOT.format(repo=_REPO, parent=os.getpid())
         + "import time\ntime.sleep(30)\n"],
        env={}, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        assert sleeper.stdout is not None
        await asyncio.to_thread(sleeper.stdout.readline)  # locked down by now
        probe = f"""\
os.kill({sleeper.pid}, 0)  # signal 0: the permission check only
print("PWNED: may signal another worker")
"""
        proc = await _locked(probe, workdir)
        _assert_probe_failed(proc)
    finally:
        sleeper.kill()
        sleeper.wait()


async def test_os_escaped_code_cannot_truncate_a_writable_file(workdir):
    target_dir = tempfile.mkdtemp(prefix="rlm-security-trunc-")
    os.chmod(target_dir, 0o755)
    target = os.path.join(target_dir, "notes.txt")
    Path(target).write_text("precious data")
    os.chmod(target, 0o666)
    try:
        probe = f"""\
os.close(os.open({target!r}, os.O_WRONLY | os.O_TRUNC))
print("PWNED: emptied", {target!r})
"""
        proc = await _locked(probe, workdir)
        assert Path(target).read_text() == "precious data", proc.stdout + proc.stderr
        _assert_probe_failed(proc)
    finally:
        shutil.rmtree(target_dir, ignore_errors=True)


async def test_os_escaped_code_cannot_create_files_outside_its_directory(workdir):
    target_dir = tempfile.mkdtemp(prefix="rlm-security-drop-")
    os.chmod(target_dir, 0o777)
    try:
        probe = f"""\
os.mkdir(os.path.join({target_dir!r}, "planted"))
os.symlink("/etc/passwd", os.path.join({target_dir!r}, "link"))
print("PWNED: created entries in", {target_dir!r})
"""
        proc = await _locked(probe, workdir)
        leftovers = os.listdir(target_dir)
        _assert_probe_failed(proc)
        assert leftovers == []
    finally:
        shutil.rmtree(target_dir, ignore_errors=True)


async def test_os_escaped_code_cannot_write_data(workdir):
    target = os.path.join(workdir, "data.txt")
    probe = f"""\
fd = os.open({target!r}, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x" * 100)
print("PWNED: wrote data")
"""
    proc = await _locked(probe, workdir)
    _assert_probe_failed(proc)
    assert not os.path.exists(target) or os.path.getsize(target) == 0


async def test_os_escaped_code_cannot_start_a_process(workdir):
    probe = """\
pid = os.fork()
if pid == 0:
    os._exit(0)
print("PWNED: forked", pid)
"""
    proc = await _locked(probe, workdir)
    _assert_probe_failed(proc)


async def test_os_escaped_code_cannot_run_another_program(workdir):
    probe = 'os.execv("/bin/sh", ["sh", "-c", "echo PWNED: a shell runs in the worker"])\n'
    proc = await _locked(probe, workdir)
    _assert_probe_failed(proc)


async def test_os_escaped_code_cannot_lift_its_own_limits(workdir):
    probe = """\
import resource
lifted = []
for name in ("RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_NOFILE"):
    limit = getattr(resource, name)
    try:
        resource.setrlimit(limit, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        lifted.append(name)
    except (ValueError, OSError):
        pass
if lifted:
    print("PWNED: lifted", lifted)
"""
    proc = await _locked(probe, workdir)
    _assert_probe_failed(proc)
    assert json.loads(proc.stdout.splitlines()[0])  # the lock-down itself reported in


async def test_os_escaped_code_cannot_read_the_host_environment(workdir, monkeypatch):
    shield_host_process()  # what Sandbox.start does in the host
    monkeypatch.setenv("RLM_SECURITY_HOST_SECRET", "sk-host-environment-canary")
    probe = f"""\
print("PWNED", open("/proc/{os.getpid()}/environ", "rb").read())
"""
    proc = await _locked(probe, workdir)
    _assert_probe_failed(proc, "sk-host-environment-canary")
