"""The run-time guards RestrictedPython calls from compiled cells (`_getattr_`, `_write_`, ...).

Each is built here from scratch: RestrictedPython's shared `safe_globals` and `Guards` objects
are never handed to model code nor mutated. The rule they enforce: no object reachable from the
namespace may lead to a module outside the allowlist, a frame, code object, or an unsafe builtin.
"""

from __future__ import annotations

import _string  # the field-name parser str.format itself uses
import builtins
import operator
import string
import types
from collections.abc import Callable
from typing import Any

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from rlm_tui.sandbox.policy import EXTRA_FORBIDDEN_ATTRIBUTES
from rlm_tui.sandbox.readonly_data import (
    base_mutator,
    is_mutator_of_read_only,
    read_only_refusal,
    refusing_read_only,
)
from rlm_tui.sandbox.signals import SandboxStop

# Builtins that must never be reachable, even as an attribute of something allowed.
_FORBIDDEN_BUILTINS = tuple(
    getattr(builtins, name)
    for name in (
        "eval", "exec", "compile", "open", "__import__", "input", "breakpoint", "globals",
        "locals", "vars", "getattr", "setattr", "delattr", "exit", "quit", "help",
        "memoryview", "__build_class__",
    )
    if hasattr(builtins, name)
)
_FORBIDDEN_IDS = frozenset(id(f) for f in _FORBIDDEN_BUILTINS)
_FORBIDDEN_TYPES = (types.FrameType, types.TracebackType, types.CodeType, types.ModuleType,
                    types.CellType)


# Filled by modules.py: real module name -> the proxy model code may hold instead.
MODULE_PROXIES: dict[str, Any] = {}


class SandboxAccessError(AttributeError):
    """An attribute the sandbox refuses; carries no reference to the object looked at."""


def check_value(value: Any, what: str) -> Any:
    """Refuse values that would open a way out: modules, frames, code, unsafe builtins."""
    if isinstance(value, _FORBIDDEN_TYPES):
        raise SandboxAccessError(f"{what} is not available in the sandbox")
    if id(value) in _FORBIDDEN_IDS:
        raise SandboxAccessError(f"{what} is not available in the sandbox")
    if isinstance(value, type) and issubclass(value, type):
        # A metaclass called with three arguments builds a class with any dunder method.
        raise SandboxAccessError(f"{what} is a metaclass, not available in the sandbox")
    return value


def exact_str(value: Any) -> str:
    """A plain str with the same text: a str subclass from model code may override any
    method (startswith, strip, __eq__, __len__), so the sandbox's own checks never use one."""
    if type(value) is not str:
        value = str.__str__(value if isinstance(value, str) else str(value))
    return value


def _name(name: Any) -> str:
    if type(name) is not str:  # not isinstance: a subclass could lie to the checks below
        raise TypeError("attribute name must be a plain string")
    return name


def _forbidden_name(name: str) -> bool:
    return name.startswith("_") or name in INSPECT_ATTRIBUTES


class _GuardedFormatter(string.Formatter):
    """`str.format` whose field names (`{0.attr}`, `{0[key]}`) go through the guards.
    Never handed to model code: it is a real Formatter subclass, so its class order leads to
    the unguarded original (CVE-2026-76825); model code gets `SafeFormatter` instead."""

    def get_field(self, field_name, args, kwargs):
        first, rest = _formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attr, key in rest:
            obj = guarded_getattr(obj, key) if is_attr else guarded_getitem(obj, key)
        return obj, first

    def format_field(self, value, format_spec):
        return format(value, format_spec)


_formatter_field_name_split = _string.formatter_field_name_split
_SAFE_FORMATTER = _GuardedFormatter()


class SafeFormatter:
    """What model code sees as `string.Formatter`: formats through the guarded formatter.
    A standalone class, so neither its class order nor super() reaches the real one."""

    __slots__ = ()

    def format(self, format_string: str, /, *args: Any, **kwargs: Any) -> str:
        return _SAFE_FORMATTER.vformat(format_string, args, kwargs)

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        return _SAFE_FORMATTER.vformat(format_string, args, kwargs)


def safe_str_format(template: str, /, *args: Any, **kwargs: Any) -> str:
    if not isinstance(template, str):
        raise TypeError("format() needs a str")
    return _SAFE_FORMATTER.vformat(template, args, kwargs)


def safe_str_format_map(template: str, mapping: Any, /) -> str:
    if not isinstance(template, str):
        raise TypeError("format_map() needs a str")
    return _SAFE_FORMATTER.vformat(template, (), mapping)


def _bound(func: Callable[..., Any], template: str) -> Callable[..., Any]:
    def bound(*args: Any, **kwargs: Any) -> Any:
        return func(template, *args, **kwargs)

    bound.__name__ = func.__name__.replace("safe_str_", "")
    return bound


_MISSING = object()
_METHOD_DESCRIPTOR = type(list.append)


def guarded_getattr(obj: Any, name: Any, default: Any = _MISSING) -> Any:
    """`getattr` for model code: no private, dunder or introspection names; no unsafe values."""
    name = _name(name)
    if _forbidden_name(name):
        raise SandboxAccessError(
            f'"{name}" is not allowed: names starting with "_" and frame/code attributes are '
            "off limits in the sandbox"
        )
    if name in ("format", "format_map") and (
        isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    ):
        func = safe_str_format if name == "format" else safe_str_format_map
        return _bound(func, obj) if isinstance(obj, str) else func
    if name == "obj" and isinstance(obj, (BaseException, types.GenericAlias)):
        # AttributeError.obj leaks the object looked at (CVE-2024-47532); a GenericAlias
        # forwards attribute reads to whatever it wraps.
        raise SandboxAccessError('"obj" of an exception is not available in the sandbox')
    try:
        value = getattr(obj, name)
    except AttributeError:
        if default is not _MISSING:
            return default
        raise SandboxAccessError(
            f"{type(obj).__name__!r} object has no attribute {name!r}"
        ) from None
    kind = type(value)
    if kind is _METHOD_DESCRIPTOR and base_mutator(value):
        return refusing_read_only(value)  # list.append(data, x) on read-only data
    if kind is types.BuiltinMethodType and is_mutator_of_read_only(value):
        raise read_only_refusal(value.__self__)  # super(type(data), data).append
    if isinstance(value, types.ModuleType):
        proxy = MODULE_PROXIES.get(value.__name__)
        if proxy is None:
            raise SandboxAccessError(f"module {value.__name__!r} is not available in the sandbox")
        return proxy
    return _safe_format_method(value) or check_value(value, f"attribute {name!r}")


_STR_FORMAT, _STR_FORMAT_MAP = str.format, str.format_map


def _safe_format_method(value: Any) -> Any:
    """The guarded stand-in when `value` is str.format or str.format_map, however it was
    reached (a str subclass, an alias forwarding attributes, a bound method)."""
    if value is _STR_FORMAT:
        return safe_str_format
    if value is _STR_FORMAT_MAP:
        return safe_str_format_map
    if isinstance(value, types.BuiltinMethodType) and isinstance(value.__self__, str):
        if value.__name__ == "format":
            return _bound(safe_str_format, exact_str(value.__self__))
        if value.__name__ == "format_map":
            return _bound(safe_str_format_map, exact_str(value.__self__))
    return None


def guarded_hasattr(obj: Any, name: Any) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def guarded_getitem(obj: Any, key: Any) -> Any:
    value = obj[key]
    return _safe_format_method(value) or check_value(value, "that item")


def guarded_getiter(obj: Any) -> Any:
    return iter(obj)


class _ReadOnly:
    """What `_write_` hands back for objects model code may not change at all."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        object.__setattr__(self, "_what", what)

    def _refuse(self, *args: Any) -> None:
        raise TypeError(f"{object.__getattribute__(self, '_what')} cannot be changed in the sandbox")

    __setattr__ = __delattr__ = __setitem__ = __delitem__ = _refuse  # type: ignore[assignment]


class _ItemsOnly:
    """What `_write_` hands back for library objects: their items may change (a Counter, a
    deque, a dict subclass), their attributes may not (a library object's attributes steer
    library code: cached_property.attrname, Field.name)."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        object.__setattr__(self, "_obj", obj)

    def __setitem__(self, key: Any, value: Any) -> None:
        object.__getattribute__(self, "_obj")[key] = value

    def __delitem__(self, key: Any) -> None:
        del object.__getattribute__(self, "_obj")[key]

    def _refuse(self, *args: Any) -> None:
        kind = type(object.__getattribute__(self, "_obj")).__name__
        raise TypeError(f"attributes of a {kind!r} object cannot be set in the sandbox; only "
                        "objects of classes defined in a cell take new attributes")

    __setattr__ = __delattr__ = _refuse  # type: ignore[assignment]


_PLAIN_DATA = (dict, list, set, bytearray)


class WriteGuard:
    """`_write_`: attributes may be written only on classes made by model code and their
    instances; items on data. Modules, library classes and functions are read-only."""

    def __init__(self, sandbox_classes: Any, readonly_types: tuple[type, ...]) -> None:
        self._classes = sandbox_classes
        self._readonly_types = readonly_types

    def __call__(self, obj: Any) -> Any:
        if isinstance(obj, self._readonly_types):
            return _ReadOnly(f"{type(obj).__name__!r} object")
        if isinstance(obj, type):
            if obj in self._classes:
                return obj
            return _ReadOnly(f"class {obj.__name__!r}")
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                            types.ModuleType)):
            return _ReadOnly(f"{type(obj).__name__!r} object")
        if type(obj) in self._classes or type(obj) in _PLAIN_DATA:
            return obj
        return _ItemsOnly(obj)


def guarded_setattr(write_guard: WriteGuard) -> Callable[[Any, str, Any], None]:
    def setattr_(obj: Any, name: Any, value: Any) -> None:
        name = _name(name)
        if _forbidden_name(name):
            raise SandboxAccessError(f"setting {name!r} is not allowed in the sandbox")
        setattr(write_guard(obj), name, value)

    setattr_.__name__ = "setattr"
    return setattr_


_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
    "<<=": operator.ilshift, ">>=": operator.irshift, "|=": operator.ior, "^=": operator.ixor,
    "&=": operator.iand, "@=": operator.imatmul,
}


def inplacevar(op: str, target: Any, value: Any) -> Any:
    return _INPLACE_OPS[op](target, value)


def make_aug_guards(write_guard: WriteGuard) -> tuple[Callable[..., None], Callable[..., None]]:
    """The helpers behind `obj.n += v` and `d[k] += v` (see policy.CellTransformer)."""

    def aug_attr(obj: Any, name: str, op: str, value: Any) -> None:
        current = guarded_getattr(obj, name)
        setattr(write_guard(obj), name, inplacevar(op, current, value))

    def aug_item(obj: Any, key: Any, op: str, value: Any) -> None:
        current = guarded_getitem(obj, key)
        write_guard(obj)[key] = inplacevar(op, current, value)

    return aug_attr, aug_item


def apply(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def abort_check() -> None:
    """Called first in every `except` clause: re-raise the sandbox's own stop signals."""
    import sys

    exc = sys.exc_info()[1]
    if isinstance(exc, SandboxStop):
        raise exc
