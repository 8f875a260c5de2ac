"""RestrictedPython's shared objects (`safe_globals`, `safe_builtins`, ...) are never handed to
model code nor changed by running it.

The worker is another process, so the check that matters runs the worker's own pieces in this
one: the namespace `build_namespace` makes, cells compiled by `compile_cell`, executed as the
worker does. Only cells that are harmless or refused run here, never a known escape.
"""

from __future__ import annotations

import sys
from types import MappingProxyType

import pytest
import RestrictedPython
from RestrictedPython import (
    Guards,
    limited_builtins,
    safe_builtins,
    safe_globals,
    utility_builtins,
)

from rlm_tui.sandbox import guards, modules, namespace
from rlm_tui.sandbox.namespace import CellOutput, build_namespace
from rlm_tui.sandbox.policy import compile_cell
from rlm_tui.sandbox.signals import SandboxStop
from tests.security.conftest import new_sandbox, run

SHARED = {
    "safe_globals": safe_globals,
    "safe_builtins": safe_builtins,
    "limited_builtins": limited_builtins,
    "utility_builtins": utility_builtins,
    "Guards.safe_builtins": Guards.safe_builtins,
}

CELLS = [
    "x = [1, 2]\nx.append(3)\nd = {'a': 1}\nd['b'] = 2\nd['a'] += 1\nprint(x, d)",
    "class Point:\n    def __init__(self, x):\n        self.x = x\n"
    "p = Point(1)\np.x += 1\nprint(p.x)",
    "import json, re, collections\nprint(json.dumps({'a': [1]}), re.findall('a', 'aa'))",
    "from dataclasses import dataclass\n@dataclass\nclass P:\n    x: int = 0\nprint(P(1))",
    "print('{0} {1}'.format(1, 2), sorted(dir())[:3])",
    "safe_builtins = {}\nsafe_globals = None\nprint(safe_builtins, safe_globals)",
    # refused or failing attempts at the builtins and the guards
    "__builtins__['open'] = print",
    "setattr(len, 'poisoned', 1)",
    "setattr(getattr, 'poisoned', 1)",
    "str.upper = print",
    "getattr.__defaults__ = (1,)",
    "print(getattr(print, '__self__'))",
    "import json\njson.dumps = print",
    "del _getattr_",
    "_print_ = None",
    "def f(_write_, /):\n    pass",
    "while True:\n    raise SystemExit",
]


class _NoHost:
    def call(self, kind, prompts, model, context):
        return ["Error: no host" for _ in prompts]


def _snapshot():
    return {name: (obj, dict(obj)) for name, obj in SHARED.items()}


def _assert_unchanged(before) -> None:
    for name, (obj, copy) in before.items():
        now = SHARED[name]
        assert now is obj, f"{name} was replaced"
        assert now.keys() == copy.keys(), f"{name} gained or lost names"
        changed = [k for k in copy if now[k] is not copy[k]]
        assert not changed, f"{name} had {changed} replaced"
    assert safe_globals["__builtins__"] is safe_builtins
    assert RestrictedPython.safe_builtins is safe_builtins


@pytest.fixture
def isolated_worker_state():
    """build_namespace registers a module and fills caches; keep this process as it was."""
    saved_module = sys.modules.get("sandbox")
    saved_proxies = dict(guards.MODULE_PROXIES)
    saved_replacements = {k: dict(v) for k, v in modules._REPLACEMENTS.items()}
    saved_reserved = set(namespace._RESERVED)
    yield
    if saved_module is None:
        sys.modules.pop("sandbox", None)
    else:
        sys.modules["sandbox"] = saved_module
    guards.MODULE_PROXIES.clear()
    guards.MODULE_PROXIES.update(saved_proxies)
    modules._REPLACEMENTS.clear()
    modules._REPLACEMENTS.update(saved_replacements)
    namespace._RESERVED.clear()
    namespace._RESERVED.update(saved_reserved)


def test_running_cells_leaves_restrictedpython_shared_objects_untouched(isolated_worker_state):
    before = _snapshot()
    output = CellOutput(keep_chars=100_000, flood_chars=1_000_000)
    ns = build_namespace(MappingProxyType({"a.md": "x"}), _NoHost(), output)
    shared_ids = {id(obj) for obj in SHARED.values()}
    # None of RestrictedPython's shared dicts is the namespace, its builtins or any value in it.
    assert id(ns) not in shared_ids
    assert id(ns["__builtins__"]) not in shared_ids
    assert not [k for k, v in ns.items() if id(v) in shared_ids]
    assert not [k for k, v in ns["__builtins__"].items() if id(v) in shared_ids]
    # Nor do the guards come from RestrictedPython's mutable defaults.
    assert ns["_getattr_"] is not safe_builtins.get("_getattr_")
    assert ns["_getattr_"] is not Guards.safer_getattr
    assert ns["__builtins__"]["setattr"] is not safe_builtins["setattr"]

    refused = 0
    for number, cell in enumerate(CELLS):
        compiled = compile_cell(cell, f"<cell {number}>")
        if compiled.code is None:
            refused += 1
            continue
        output.reset()
        try:
            exec(compiled.code, ns)
        except (Exception, SystemExit, SandboxStop):
            pass
    assert refused >= 4
    _assert_unchanged(before)
    assert "poisoned" not in dir(len) and "poisoned" not in dir(guards.guarded_getattr)
    assert guards.guarded_getattr.__defaults__ == (guards._MISSING,)


async def test_cells_in_a_real_worker_leave_this_process_untouched():
    before = _snapshot()
    async with new_sandbox() as sandbox:
        for cell in CELLS:
            await run(sandbox, cell)
    _assert_unchanged(before)
