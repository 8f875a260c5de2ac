"""What the compile step accepts, rewrites and refuses (no worker needed)."""

import pytest

from rlm_tui.sandbox.policy import compile_cell


def compiles(source: str) -> bool:
    return compile_cell(source, "<cell 1>").code is not None


@pytest.mark.parametrize(
    "source",
    [
        "d = {}\nd['k'] = 0\nd['k'] += 1",
        "class C:\n    def __init__(self):\n        self.n = 0\nc = C()\nc.n += 1",
        "x: int = 1",
        "xs = [1, 2]\nxs[0:1] += [5]",
        "match 3:\n    case 1 | 2:\n        pass\n    case int(x):\n        pass\n    case _:\n        pass",
        "def outer():\n    n = 0\n    def inner():\n        nonlocal n\n        n += 1\n    inner()\n    return n",
        "class V:\n    def __repr__(self):\n        return 'V'\n    def __len__(self):\n        return 0",
        "s = f'{1 + 1:>{4}}'",
        "try:\n    pass\nexcept Exception as e:\n    pass",
        "print(sorted(zip([2, 1], 'ab')), sum(map(abs, [-1])), any([]), all([]))",
    ],
)
def test_common_model_code_compiles(source):
    assert compiles(source), compile_cell(source, "<cell 1>").error


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("x = ().__class__", '"__class__"'),
        ("_private = 1", '"_private"'),
        ("def f(_getattr_, /):\n    pass", '"_getattr_"'),
        ("try:\n    pass\nexcept* ValueError:\n    pass", "TryStar"),
        ("g = (i for i in [1])\ng.gi_frame", "gi_frame"),
        ("exec('1')", "Exec"),
        ("eval('1')", "Eval"),
        ("async def f():\n    pass", "AsyncFunctionDef"),
        ("match e:\n    case AttributeError(obj=o):\n        pass", '"obj"'),
        ("class M:\n    def __getattribute__(self, n):\n        pass", "__getattribute__"),
        ("class M:\n    def __exit__(self, *a):\n        return True", "__exit__"),
        ("x.__dict__ += 1", "__dict__"),
    ],
)
def test_forbidden_code_is_refused_with_a_one_line_reason_and_line_number(source, reason):
    result = compile_cell(source, "<cell 1>")
    assert result.code is None
    assert reason in result.error
    assert all(line.startswith("Line ") for line in result.error.splitlines())


def test_syntax_errors_name_the_line():
    result = compile_cell("x = 1\nif x\n", "<cell 1>")
    assert result.code is None
    assert result.error.startswith("Line 2: SyntaxError")


def test_absurdly_nested_code_is_refused_not_crashing():
    result = compile_cell("x = " + "(" * 5000 + "1" + ")" * 5000, "<cell 1>")
    assert result.code is None
