"""RestrictedPython's published sandbox escapes, reproduced as the model would write them.

Each advisory's proof of concept is rewritten as a cell (adapted to what this sandbox offers:
its own guards, `string.Formatter` replaced by a guarded subclass, module proxies) and must fail
without reaching its goal, leaving the REPL usable.
"""

from __future__ import annotations

import pytest

from tests.security.conftest import (
    assert_attack_failed,
    assert_next_cell_runs,
    new_sandbox,
    run,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def attack(sandbox, code: str, *secrets: str):
    result = await run(sandbox, code)
    assert_attack_failed(result, *secrets)
    await assert_next_cell_runs(sandbox)
    return result


# -- CVE-2023-37271 (GHSA-wqc8-x2pr-7jqh): stack frames reached through a generator -------------


async def test_cve_2023_37271_generator_frame_walk_is_refused(sandbox):
    # The advisory's shape: a generator expression that refers to itself walks gi_frame, then
    # f_back up to the caller's frame, whose f_globals / f_builtins hold the real builtins.
    code = """\
q = (q.gi_frame.f_back.f_back for _ in (1,))
frame = [x for x in q][0]
print("PWNED", frame.f_globals["__builtins__"], frame.f_builtins["__import__"])
"""
    result = await attack(sandbox, code)
    assert result.error_kind == "refused"


@pytest.mark.parametrize("code", [
    # the same walk with the names as strings, so only the run-time guard can stop it
    """\
q = (getattr(getattr(getattr(q, "gi_frame"), "f_back"), "f_back") for _ in (1,))
frame = [x for x in q][0]
print("PWNED", getattr(frame, "f_globals"))
""",
    # a generator function, its frame taken while it runs
    """\
def walk():
    yield getattr(getattr(it, "gi_frame"), "f_back")
it = walk()
print("PWNED", getattr(next(it), "f_globals"))
""",
    # the frame of a suspended generator through yield from
    """\
def inner():
    yield 1
def outer():
    yield from inner()
g = outer()
next(g)
print("PWNED", getattr(getattr(g, "gi_yieldfrom"), "gi_frame"))
""",
], ids=["generator-expression", "generator-function", "yield-from"])
async def test_cve_2023_37271_generator_frame_walk_by_name_is_refused(sandbox, code):
    result = await attack(sandbox, code)
    assert "SandboxAccessError" in result.error


# -- CVE-2023-41039 (GHSA-xjw2-6jm9-rf67): attribute access in format strings ------------------

FORMAT_ATTACKS = {
    "str-instance-format": 'print("PWNED", "{0.__class__.__mro__}".format(1))',
    "str-instance-format-map": 'print("PWNED", "{a.__class__.__base__}".format_map({"a": 1}))',
    "str-class-format": 'print("PWNED", str.format("{0.__globals__}", llm_query))',
    "str-class-format-map": 'print("PWNED", str.format_map("{f.__globals__}", {"f": llm_query}))',
    "string-formatter-format": (
        'import string\nprint("PWNED", string.Formatter().format("{0.__globals__}", llm_query))'
    ),
    "string-formatter-subclass": (
        "import string\nclass MyFormatter(string.Formatter):\n    pass\n"
        'print("PWNED", MyFormatter().format("{0.__class__.__base__.__subclasses__}", 1))'
    ),
    "item-then-attribute": 'print("PWNED", "{0[f].__globals__}".format({"f": llm_query}))',
}


@pytest.mark.parametrize("code", list(FORMAT_ATTACKS.values()), ids=list(FORMAT_ATTACKS))
async def test_cve_2023_41039_format_string_attribute_access_is_guarded(sandbox, code):
    result = await attack(sandbox, code)
    assert "SandboxAccessError" in result.error


async def test_cve_2023_41039_format_still_works_for_plain_fields(sandbox):
    result = await run(sandbox, 'print("{0} {x[1]} {y.real}".format("a", x=[0, "b"], y=3))')
    assert result.stdout == "a b 3\n"


# -- CVE-2024-47532 (GHSA-5rfv-66g4-jr8h): AttributeError.obj and the string module ------------

OBJ_LEAKS = {
    # The advisory's shape: a failed lookup on the string module raises an AttributeError
    # whose .obj is the module itself, and from there Formatter and the module's globals.
    "attribute-error-obj": """\
import string
try:
    string.no_such_name
except AttributeError as e:
    leaked = e.obj
    print("PWNED", leaked, leaked.Formatter.mro())
""",
    "attribute-error-obj-with-getattr": """\
try:
    llm_query.no_such_name
except AttributeError as e:
    print("PWNED", getattr(e, "obj"))
""",
    "attribute-error-obj-in-a-format-field": """\
try:
    context.no_such_name
except AttributeError as e:
    print("PWNED", "{0.obj}".format(e))
""",
    "attribute-error-obj-by-class-pattern": """\
import string
try:
    string.no_such_name
except AttributeError as e:
    match e:
        case AttributeError(obj=o):
            print("PWNED", o)
""",
    "attribute-error-obj-by-nested-pattern": """\
try:
    llm_query.no_such_name
except Exception as e:
    match [e]:
        case [AttributeError(name=n, obj=o)]:
            print("PWNED", n, o)
""",
    "class-pattern-on-a-dunder": """\
match llm_query:
    case object(__globals__=g):
        print("PWNED", g)
""",
}


@pytest.mark.parametrize("code", list(OBJ_LEAKS.values()), ids=list(OBJ_LEAKS))
async def test_cve_2024_47532_attribute_error_obj_does_not_leak(sandbox, code):
    await attack(sandbox, code)


async def test_cve_2024_47532_guard_errors_carry_no_object(sandbox):
    result = await run(sandbox, """\
try:
    getattr(llm_query, "__globals__")
except AttributeError as e:
    print(type(e), e.name, e.args)
""")
    assert result.error is None, result.for_model()
    assert result.stdout.startswith("<class 'rlm_tui.sandbox.guards.SandboxAccessError'> None ")
    assert "<function" not in result.stdout


# -- CVE-2025-22153 (GHSA-gmj9-h825-chq2): type confusion through try/except* -----------------


async def test_cve_2025_22153_try_except_star_is_refused(sandbox):
    # The advisory's proof of concept, in its shape: CPython 3.11-3.13.1 trusts the tuple an
    # ExceptionGroup subclass's split() returns (gh-128049), so a heap spray of complex numbers
    # laid out like a tuple hands `except*` a forged object that writes anywhere in memory.
    code = """\
fake_tuple = 1j * 4.0
spray = []
for i in range(100):
    spray.append(i + fake_tuple)
    spray.append([None, None, None, None])
to_return = spray[-2]
class Evil(ExceptionGroup):
    def split(self, *args):
        return to_return
mem = None
try:
    raise Evil("wow!", [ValueError()])
except* ValueError as e:
    mem = e
mem[id(250) + 24] = 100
print("PWNED", 250)
"""
    result = await attack(sandbox, code)
    assert result.error_kind == "refused"
    assert "TryStar" in result.error


async def test_cve_2025_22153_exception_groups_are_not_available(sandbox):
    code = """\
class Evil(BaseExceptionGroup):
    def split(self, *args):
        return "NOT A TUPLE!"
print("PWNED", Evil, ExceptionGroup)
"""
    result = await attack(sandbox, code)
    assert "NameError" in result.error


# -- CVE-2026-55830 (GHSA-ffg3-p8fm-mjx2): guard hooks shadowed by positional-only parameters ---

HOOKS = ["_getattr_", "_write_", "_getitem_", "_print_", "_inplacevar_"]


@pytest.mark.parametrize("hook", HOOKS)
async def test_cve_2026_55830_positional_only_parameter_cannot_shadow_a_guard(sandbox, hook):
    code = f"""\
def unguarded({hook}, /):
    return "PWNED"
print(unguarded(lambda *a: a))
"""
    result = await attack(sandbox, code)
    assert result.error_kind == "refused"


@pytest.mark.parametrize("hook", HOOKS)
async def test_cve_2026_55830_positional_only_lambda_parameter_cannot_shadow_a_guard(
    sandbox, hook
):
    code = f'f = lambda {hook}, /: "PWNED"\nprint(f(None))'
    result = await attack(sandbox, code)
    assert result.error_kind == "refused"


async def test_cve_2026_55830_shadowed_write_guard_cannot_poison_a_shared_module(sandbox):
    # The advisory's full exploit: with _write_ shadowed by the identity, `json.dumps = ...`
    # would go straight to the shared module.
    code = """\
import json
def poison(_write_, /):
    json.dumps = lambda *a, **k: "PWNED"
poison(lambda ob: ob)
print(json.dumps([1]))
"""
    result = await attack(sandbox, code)
    assert result.error_kind == "refused"
    after = await run(sandbox, "import json\nprint(json.dumps([1]))")
    assert after.stdout == "[1]\n"


# -- CVE-2026-76825 (GHSA-hp3v-5vw7-fx9w): string.Formatter's own field resolution -------------

FORMATTER_ATTACKS = {
    "get-field": """\
import string
obj, first = string.Formatter().get_field("0.__globals__[builtins].open", [llm_query], {})
print("PWNED", obj(CANARY).read())
""",
    "vformat": """\
import string
field = "{0.__globals__[sys].modules[os].environ}"
print("PWNED", string.Formatter().vformat(field, [llm_query], {}))
""",
    "format": """\
import string
print("PWNED", string.Formatter().format("{0.__globals__[builtins]}", llm_query))
""",
    "get-value-override": """\
import string
class F(string.Formatter):
    def get_value(self, key, args, kwargs):
        return llm_query
obj, first = F().get_field("x.__globals__", [], {})
print("PWNED", obj)
""",
    "get-field-of-a-subclass-instance": """\
import string
class F(string.Formatter):
    pass
obj, first = F().get_field("0.__globals__", [llm_query], {})
print("PWNED", obj)
""",
    "unbound-get-field-from-the-class": """\
import string
obj, first = string.Formatter.get_field(string.Formatter(), "0.__globals__", [llm_query], {})
print("PWNED", obj)
""",
    "from-string-import-formatter": """\
from string import Formatter
obj, first = Formatter().get_field("0.__globals__", [llm_query], {})
print("PWNED", obj)
""",
}


@pytest.mark.parametrize("code", list(FORMATTER_ATTACKS.values()), ids=list(FORMATTER_ATTACKS))
async def test_cve_2026_76825_string_formatter_field_resolution_is_guarded(sandbox, canary, code):
    result = await attack(sandbox, canary.cell(code), canary.secret)
    assert "SandboxAccessError" in result.error


async def test_cve_2026_76825_real_formatter_is_not_reachable_through_mro(canary):
    code = canary.cell("""\
import string
real = string.Formatter.mro()[1]
opener, first = real().get_field("0.__globals__[builtins].open", [llm_query], {})
print("PWNED", opener(CANARY).read())
""")
    async with new_sandbox() as sandbox:
        await attack(sandbox, code, canary.secret)


async def test_cve_2026_76825_real_formatter_is_not_reachable_through_super(canary):
    code = canary.cell("""\
import string
f = string.Formatter()
real = super(string.Formatter, f)
opener, first = real.get_field("0.__globals__[builtins].open", [llm_query], {})
print("PWNED", opener(CANARY).read())
""")
    async with new_sandbox() as sandbox:
        await attack(sandbox, code, canary.secret)


async def test_cve_2026_76825_formatter_subclass_cannot_reach_the_real_get_field(canary):
    code = canary.cell("""\
import string
class Open(string.Formatter):
    def get_field(self, field_name, args, kwargs):
        return super(string.Formatter, self).get_field(field_name, args, kwargs)
print("PWNED", Open().format("{0.__globals__[sys].modules[os].environ}", llm_query))
""")
    async with new_sandbox() as sandbox:
        await attack(sandbox, code, canary.secret)
