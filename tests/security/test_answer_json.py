"""FINAL(value) of a dict or a list is sent as JSON: hostile values.

The answer is built in the worker from model objects, so every method a subclass can override
(`items`, `__iter__`, `keys`, `__str__`, `__repr__`, `__len__`, `__getitem__`) may lie: the
answer is the object's real contents, never what a lying method says (its lies say PWNED).
Structures that hold themselves, that are huge or deep, or that hold what JSON has no form
for end in a clear error, and the sandbox runs the next cell.
"""

from __future__ import annotations

import json

import pytest

from rlm_tui.sandbox.answers import MAX_JSON_DEPTH, MAX_JSON_ITEMS
from tests.security.conftest import MARKER, assert_next_cell_runs, run

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIARS = {
    "a-dict-subclass-whose-items-iter-and-keys-lie": """\
class D(dict):
    def __iter__(self):
        return iter(["PWNED"])
    def items(self):
        return [("PWNED", 1)]
    def keys(self):
        return ["PWNED"]
    def values(self):
        return ["PWNED"]
    def __len__(self):
        return 0
FINAL(D(real=1))
""",
    "str-subclass-keys-and-values-whose-str-lies": """\
class S(str):
    def __str__(self):
        return "PWNED"
    def __repr__(self):
        return "PWNED"
    def __len__(self):
        return 0
    def encode(self, *args):
        return b"PWNED"
FINAL({S("real"): S("1")})
""",
    "number-subclasses-whose-conversions-lie": """\
class I(int):
    def __repr__(self):
        return "PWNED"
    def __str__(self):
        return "PWNED"
class F(float):
    def __repr__(self):
        return "PWNED"
    def __str__(self):
        return "PWNED"
FINAL({"real": [I(1), F(1.5)]})
""",
    "list-and-tuple-subclasses-whose-iteration-lies": """\
class L(list):
    def __iter__(self):
        return iter(["PWNED"])
    def __len__(self):
        return 0
    def __getitem__(self, index):
        return "PWNED"
class T(tuple):
    def __iter__(self):
        return iter(["PWNED"])
    def __getitem__(self, index):
        return "PWNED"
FINAL({"real": L([1]), "also": T((1,))})
""",
}

REAL = {
    "a-dict-subclass-whose-items-iter-and-keys-lie": {"real": 1},
    "str-subclass-keys-and-values-whose-str-lies": {"real": "1"},
    "number-subclasses-whose-conversions-lie": {"real": [1, 1.5]},
    "list-and-tuple-subclasses-whose-iteration-lies": {"real": [1], "also": [1]},
}


@pytest.mark.parametrize("name", sorted(LIARS))
async def test_a_lying_container_answers_with_its_real_contents(sandbox, name):
    result = await run(sandbox, LIARS[name])
    assert result.error is None, result.for_model()
    assert result.final_answer is not None and MARKER not in result.final_answer
    assert json.loads(result.final_answer) == REAL[name]
    await assert_next_cell_runs(sandbox)


REFUSED = {
    "a-list-that-holds-itself": ("a = [1]\na.append(a)\nFINAL(a)", "contains itself"),
    "a-dict-that-holds-itself": ("d = {}\nd['me'] = d\nFINAL_VAR('d')", "contains itself"),
    "a-shared-list-doubled-sixty-times": (
        "a = [1]\nfor i in range(60):\n    a = [a, a]\nFINAL(a)", f"{MAX_JSON_ITEMS:,} items"),
    "nesting-deeper-than-the-cap": (
        f"a = 0\nfor i in range({MAX_JSON_DEPTH + 5}):\n    a = [a]\nFINAL(a)",
        f"nested more than {MAX_JSON_DEPTH} deep"),
    "a-set-inside": ("FINAL({'files': {'a', 'b'}})", "set, which JSON has no form for"),
    "an-object-inside": ("class Thing:\n    pass\nFINAL([Thing()])", "Thing"),
    "nan-inside": ("FINAL({'x': float('nan')})", "nan"),
    "a-tuple-key": ("FINAL({(1, 2): 3})", "JSON keys are strings"),
    "an-int-too-long-to-write": ("FINAL([10 ** 5000])", "digits"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
async def test_a_value_json_cannot_hold_is_a_clear_error(sandbox, name):
    code, said = REFUSED[name]
    result = await run(sandbox, code)
    assert result.final_answer is None
    # refused while copying (its own message), not after a blow-up
    assert result.error is not None and said in result.error, result.for_model()
    await assert_next_cell_runs(sandbox)


async def test_a_top_level_object_still_answers_with_its_str(sandbox):
    result = await run(sandbox, "class V:\n    def __str__(self):\n        return 'v'\n"
                                "FINAL(V())")
    assert result.final_answer == "v"
