"""Model code is hostile: nothing public on the view leads to the mmap, a file, the pack's
path, a module or a function's globals; errors carry only messages."""

from __future__ import annotations

import mmap
import types
from pathlib import Path

import pytest

from rlm_tui.context.view import ContextView, open_view

from .conftest import write

PLAIN = (str, int, float, bool, type(None))


def assert_plain(value: object, pack_dir: str, where: str) -> None:
    """`value` is plain data all the way down, and never mentions the pack's path."""
    if isinstance(value, (list, tuple)):
        for item in value:
            assert_plain(item, pack_dir, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_plain(key, pack_dir, where)
            assert_plain(item, pack_dir, where)
    else:
        assert isinstance(value, PLAIN), f"{where} gives {type(value).__name__}"
        assert pack_dir not in str(value), f"{where} shows the pack's path"


@pytest.fixture
def opened(tmp_path: Path, load) -> tuple[ContextView, str]:
    write(tmp_path / "src", {"a.py": "import os\nprint(os.sep)\n", "b/c.txt": "hello\n"})
    pack = load(tmp_path / "src")
    view = open_view(str(pack.directory))
    assert isinstance(view, ContextView)
    return view, str(pack.directory)


def test_public_attributes_are_plain_data_or_bound_methods(opened):
    view, pack_dir = opened
    public = [name for name in dir(view) if not name.startswith("_")]
    assert public  # the walk saw something
    for name in public:
        value = getattr(view, name)
        if isinstance(value, types.MethodType):
            assert value.__self__ is view
            # A bound method's own public attributes: none at all.
            assert [a for a in dir(value) if not a.startswith("_")] == []
        else:
            assert_plain(value, pack_dir, name)


def test_public_methods_return_plain_data(opened):
    view, pack_dir = opened
    calls = {
        "keys": view.keys(),
        "values": view.values(),
        "items": view.items(),
        "get": view.get("a.py"),
        "read": view.read("a.py", 1, 1),
        "grep": view.grep("os"),
        "glob": view.glob("*.py"),
        "info": view.info("a.py"),
        "sizes": view.sizes(),
        "getitem": view["b/c.txt"],
        "iter": list(iter(view)),
        "repr": repr(view),
    }
    for name, value in calls.items():
        assert_plain(value, pack_dir, name)


def test_the_view_has_no_instance_dict_and_hides_state_behind_underscores(opened):
    view, _ = opened
    with pytest.raises(TypeError):
        vars(view)
    assert all(name.startswith("_") for name in ContextView.__slots__)
    assert any(isinstance(getattr(view, n), mmap.mmap) for n in ContextView.__slots__)
    with pytest.raises(AttributeError):
        view.anything = 1  # type: ignore[attr-defined]


def test_errors_carry_only_messages(opened):
    view, pack_dir = opened
    attempts = [
        lambda: view["missing.py"],
        lambda: view[3],  # type: ignore[index]
        lambda: view.read("a.py", "x"),  # type: ignore[arg-type]
        lambda: view.grep("(unclosed"),
        lambda: view.grep("x", paths=42),  # type: ignore[arg-type]
        lambda: view.grep("x", paths=["missing.py"]),
    ]
    for attempt in attempts:
        with pytest.raises(Exception) as caught:
            attempt()
        error = caught.value
        assert all(isinstance(arg, str) for arg in error.args), error.args
        assert pack_dir not in str(error)
        assert error.__cause__ is None


def test_the_view_cannot_be_built_copied_or_pickled(opened):
    import copy
    import pickle

    view, _ = opened
    with pytest.raises(TypeError, match="open_view"):
        ContextView()
    with pytest.raises(TypeError):
        copy.copy(view)
    with pytest.raises(TypeError):
        pickle.dumps(view)


def test_restricted_python_code_cannot_reach_the_internals(opened):
    from RestrictedPython import compile_restricted, safe_builtins
    from RestrictedPython.Guards import full_write_guard, safer_getattr

    view, _ = opened

    def run(source: str) -> object:
        code = compile_restricted(source, "<cell>", "exec")
        scope = {
            "__builtins__": dict(safe_builtins, getattr=safer_getattr),
            "_getattr_": safer_getattr,
            "_getitem_": lambda obj, key: obj[key],
            "_getiter_": iter,
            "_write_": full_write_guard,
            "context": view,
        }
        exec(code, scope)
        return scope.get("result")

    assert run("result = context.read('a.py', 2, 2)") == "print(os.sep)\n"
    for escape in ("result = context._mm", "result = context.read.__self__"):
        with pytest.raises(SyntaxError):
            run(escape)
    with pytest.raises((AttributeError, TypeError, NameError)):
        run("result = getattr(context, '_mm')")
    with pytest.raises((AttributeError, TypeError)):
        run("context.files = []")
