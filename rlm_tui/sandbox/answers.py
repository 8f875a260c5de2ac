"""What FINAL(value) and FINAL_VAR("name") hand the host: the answer's text.

A dict, a list or a tuple is sent as JSON (`{"ok": true}`, not Python's `{'ok': True}`);
anything else as its str, as before. The value is model code's, so it is read through the
base types' own methods (a dict subclass's lying `items` or `__iter__`, a str subclass's
`__str__`, an int's `__index__` are never called), bounded in depth, items and characters,
and refused with a clear error when it holds itself or a value JSON has no form for (a set,
an object, NaN).
"""

from __future__ import annotations

import json
import math
from typing import Any

from rlm_tui.sandbox import guards

# Characters of an answer; nesting depth and items of a JSON one.
MAX_ANSWER_CHARS = 5_000_000
MAX_JSON_DEPTH = 100
MAX_JSON_ITEMS = 1_000_000


def answer_text(value: Any) -> str:
    """The answer's text: JSON for a dict, list or tuple, else str(value); ValueError or
    TypeError (the cell's error, which the model reads) when it cannot be one."""
    if isinstance(value, (dict, list, tuple)):
        text = json_text(value)
    else:
        text = guards.exact_str(value)
    if len(text) > MAX_ANSWER_CHARS:
        raise ValueError(f"the answer is {len(text):,} characters; at most "
                         f"{MAX_ANSWER_CHARS:,} can be returned")
    return text


def json_text(value: Any) -> str:
    """`value` as one line of JSON, built from plain copies of its parts."""
    plain = _Plain().convert(value, 0, "the answer")
    return json.dumps(plain, ensure_ascii=False, allow_nan=False)


class _Plain:
    """Copies a model's value into exact builtin types, counting as it goes."""

    def __init__(self) -> None:
        self.items = 0
        self.chars = 0
        self.path: set[int] = set()  # the containers being copied (a cycle comes back here)

    def _count(self, chars: int = 1) -> None:
        self.items += 1
        self.chars += chars
        if self.items > MAX_JSON_ITEMS:
            raise ValueError(f"FINAL: the answer has more than {MAX_JSON_ITEMS:,} items")
        if self.chars > MAX_ANSWER_CHARS:
            raise ValueError(f"FINAL: the answer is over {MAX_ANSWER_CHARS:,} characters")

    def convert(self, value: Any, depth: int, where: str) -> Any:
        if value is None or value is True or value is False:
            self._count()
            return value
        if isinstance(value, str):
            text = guards.exact_str(value)
            self._count(len(text) + 2)
            return text
        if isinstance(value, int):
            number = int.__index__(value)
            self._count()
            return number
        if isinstance(value, float):
            real = float.__float__(value)
            if math.isnan(real) or math.isinf(real):
                raise ValueError(f"FINAL: {where} is {real!r}, which JSON has no form for")
            self._count()
            return real
        if not isinstance(value, (dict, list, tuple)):
            kind = guards.exact_str(type(value).__name__)
            raise TypeError(f"FINAL: {where} is a {kind}, which JSON has no form for: give "
                            "dicts, lists, str, numbers, True, False or None")
        if depth >= MAX_JSON_DEPTH:
            raise ValueError(f"FINAL: the answer is nested more than {MAX_JSON_DEPTH} deep")
        key = id(value)
        if key in self.path:
            raise ValueError(f"FINAL: {where} contains itself (a circular reference)")
        self.path.add(key)
        try:
            self._count()
            if isinstance(value, dict):
                return self._dict(value, depth, where)
            items = list.copy(value) if isinstance(value, list) else \
                list(tuple.__getitem__(value, slice(None)))
            return [self.convert(item, depth + 1, f"{where}[{index}]")
                    for index, item in enumerate(items)]
        finally:
            self.path.discard(key)

    def _dict(self, value: dict[Any, Any], depth: int, where: str) -> dict[str, Any]:
        copied: dict[str, Any] = {}
        for raw_key, item in list(dict.items(value)):
            name = self._key(raw_key, where)
            copied[name] = self.convert(item, depth + 1, f"{where}[{name!r}]")
        return copied

    def _key(self, key: Any, where: str) -> str:
        """A key as JSON writes one: a str, or a number, True, False or None as text."""
        if isinstance(key, str):
            text = guards.exact_str(key)
        elif key is None or key is True or key is False:
            text = {None: "null", True: "true", False: "false"}[key]
        elif isinstance(key, int):
            text = str(int.__index__(key))
        elif isinstance(key, float):
            text = json.dumps(float.__float__(key))
        else:
            kind = guards.exact_str(type(key).__name__)
            raise TypeError(f"FINAL: a key of {where} is a {kind}; JSON keys are strings")
        self._count(len(text) + 2)
        return text
