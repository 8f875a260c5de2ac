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
MAX_JSON_ITEMS = 250_000  # a bound the copy reaches in well under a second


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
    plain = _Plain().convert(value, 0, None)
    return json.dumps(plain, ensure_ascii=False, allow_nan=False)


# Where a part sits in the answer, built only when an error names it: (parent, key).
Where = tuple[Any, Any] | None


def _place(where: Where) -> str:
    keys: list[str] = []
    while where is not None:
        where, key = where
        keys.append(f"[{key!r}]" if isinstance(key, str) else f"[{key}]")
    return "the answer" + "".join(reversed(keys))


class _Plain:
    """Copies a model's value into exact builtin types, counting as it goes."""

    def __init__(self) -> None:
        self.items = 0
        self.chars = 0
        self.path: set[int] = set()  # the containers being copied (a cycle comes back here)

    def _over(self) -> None:
        if self.items > MAX_JSON_ITEMS:
            raise ValueError(f"FINAL: the answer has more than {MAX_JSON_ITEMS:,} items")
        raise ValueError(f"FINAL: the answer is over {MAX_ANSWER_CHARS:,} characters")

    def convert(self, value: Any, depth: int, where: Where) -> Any:
        self.items += 1
        if self.items > MAX_JSON_ITEMS:
            self._over()
        if value is None or value is True or value is False:
            return value
        if isinstance(value, str):
            text = guards.exact_str(value)
            self.chars += len(text) + 2
            if self.chars > MAX_ANSWER_CHARS:
                self._over()
            return text
        if isinstance(value, int):
            return int.__index__(value)  # the int itself, not what a subclass says it is
        if isinstance(value, float):
            real = float.__float__(value)
            if math.isnan(real) or math.isinf(real):
                raise ValueError(f"FINAL: {_place(where)} is {real!r}, which JSON has no "
                                 "form for")
            return real
        if not isinstance(value, (dict, list, tuple)):
            kind = guards.exact_str(type(value).__name__)
            raise TypeError(f"FINAL: {_place(where)} is a {kind}, which JSON has no form "
                            "for: give dicts, lists, str, numbers, True, False or None")
        if depth >= MAX_JSON_DEPTH:
            raise ValueError(f"FINAL: the answer is nested more than {MAX_JSON_DEPTH} deep")
        key = id(value)
        if key in self.path:
            raise ValueError(f"FINAL: {_place(where)} contains itself (a circular reference)")
        self.path.add(key)
        try:
            if isinstance(value, dict):
                return self._dict(value, depth, where)
            # The base types' own copies: a subclass's __iter__ or __getitem__ is not asked.
            items = list.copy(value) if isinstance(value, list) else \
                list(tuple.__getitem__(value, slice(None)))
            convert, below = self.convert, depth + 1
            return [convert(item, below, (where, index)) for index, item in enumerate(items)]
        finally:
            self.path.discard(key)

    def _dict(self, value: dict[Any, Any], depth: int, where: Where) -> dict[str, Any]:
        copied: dict[str, Any] = {}
        convert, below = self.convert, depth + 1
        for raw_key, item in list(dict.items(value)):
            name = raw_key if type(raw_key) is str else self._key(raw_key, where)
            self.chars += len(name) + 2
            copied[name] = convert(item, below, (where, name))
        if self.chars > MAX_ANSWER_CHARS:
            self._over()
        return copied

    @staticmethod
    def _key(key: Any, where: Where) -> str:
        """A key as JSON writes one: a str, or a number, True, False or None as text."""
        if isinstance(key, str):
            return guards.exact_str(key)
        if key is None or key is True or key is False:
            return {None: "null", True: "true", False: "false"}[key]
        if isinstance(key, int):
            return str(int.__index__(key))
        if isinstance(key, float):
            return json.dumps(float.__float__(key))
        kind = guards.exact_str(type(key).__name__)
        raise TypeError(f"FINAL: a key of {_place(where)} is a {kind}; JSON keys are strings")
