"""JSON data given as a context source, as model code holds it: lists and dicts that are
still `list` and `dict` (isinstance holds, json.dumps and len work) but refuse every change.

Standard library only (the worker imports it before its limits close the doors). A subclass
of list or dict alone is not read-only against hostile code: the base type's own methods
(`list.append(data, x)`, `super(type(data), data).append(x)`) and C functions that mutate a
list through the C API (heapq) bypass any override. The guards (guards.py) therefore refuse
the base types' mutating methods on these objects, and modules.py hands out heapq's in-place
functions wrapped by `refusing_read_only`. A copy (`list(data)`, `dict(data)`,
`copy.deepcopy(data)`) is an ordinary, mutable list or dict.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

_MESSAGE = ("{kind} is read-only data in the sandbox (a context source); "
            "{copy} makes a copy you can change")

LIST_MUTATORS = frozenset({"append", "extend", "insert", "remove", "pop", "clear", "sort",
                           "reverse", "__setitem__", "__delitem__", "__iadd__", "__imul__"})
DICT_MUTATORS = frozenset({"pop", "popitem", "clear", "update", "setdefault", "__setitem__",
                           "__delitem__", "__ior__"})


def read_only_refusal(value: Any) -> TypeError:
    """The error a change to the read-only `value` raises."""
    if isinstance(value, dict):
        return TypeError(_MESSAGE.format(kind="this dict", copy="dict(x)"))
    return TypeError(_MESSAGE.format(kind="this list", copy="list(x)"))


def _refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise read_only_refusal(self)


class ReadOnlyList(list):  # type: ignore[type-arg]
    """A list of JSON data that refuses every change."""

    __slots__ = ()

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse  # type: ignore[assignment]

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (list, (list(self),))

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(item, memo) for item in self]


class ReadOnlyDict(dict):  # type: ignore[type-arg]
    """A dict of JSON data that refuses every change."""

    __slots__ = ()

    pop = popitem = clear = update = setdefault = _refuse
    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (dict, (dict(self),))

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    @classmethod
    def fromkeys(cls, *args: Any) -> dict[Any, Any]:  # type: ignore[override]
        return dict.fromkeys(*args)


READ_ONLY_TYPES = (ReadOnlyList, ReadOnlyDict)


def read_only(value: Any) -> Any:
    """`value` (decoded JSON) with every list and dict in it, at any depth, made read-only."""
    if isinstance(value, list):
        return ReadOnlyList([read_only(item) for item in value])
    if isinstance(value, dict):
        return ReadOnlyDict({key: read_only(item) for key, item in value.items()})
    return value


def is_mutator_of_read_only(value: Any) -> bool:
    """Whether `value` is a base list or dict method that changes its object, bound to a
    read-only one (`super(type(data), data).append`)."""
    owner = getattr(value, "__self__", None)
    if not isinstance(owner, READ_ONLY_TYPES):
        return False
    name = getattr(value, "__name__", "")
    return name in (DICT_MUTATORS if isinstance(owner, dict) else LIST_MUTATORS)


def base_mutator(value: Any) -> bool:
    """Whether `value` is one of list's or dict's own mutating methods, unbound
    (`list.append`), which would change a read-only object passed to it."""
    owner = getattr(value, "__objclass__", None)
    name = getattr(value, "__name__", "")
    return ((owner is list and name in LIST_MUTATORS)
            or (owner is dict and name in DICT_MUTATORS))


def refusing_read_only(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func`, refusing a read-only list or dict as its first argument (heapq.heappush, or
    list.append reached as an unbound method)."""

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], READ_ONLY_TYPES):
            raise read_only_refusal(args[0])
        return func(*args, **kwargs)

    del guarded.__wrapped__  # nothing leads back to the unwrapped function
    return guarded
