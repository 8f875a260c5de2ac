"""The modules model code may import, each handed over as a `ModuleProxy`.

A proxy is a read-only object holding copies of a module's public functions, classes and
constants. It holds no reference to the module itself and none to other modules (a submodule
appears only if it is itself allowed, as another proxy), so nothing can be walked from it to
`os`, `sys` or the file system.
"""

from __future__ import annotations

import heapq
import importlib
import types
from typing import Any

from rlm_tui.sandbox.guards import MODULE_PROXIES, SafeFormatter
from rlm_tui.sandbox.readonly_data import refusing_read_only

# module -> names to leave out (None: nothing beyond the general rules). Why, per entry:
#   typing.get_type_hints, ForwardRef: evaluate strings as unrestricted code.
#   dataclasses.make_dataclass: field names as strings, unchecked.
#   hashlib.file_digest: takes a file object.
#   enum.global_enum: writes an enum's members into any module in sys.modules.
#   copy.dispatch_table: a registry that makes copy() call setattr on anything.
#   operator.attrgetter/methodcaller: attribute names as strings, past the getattr guard.
ALLOWED_MODULES: dict[str, frozenset[str] | None] = {
    "re": None,
    "json": None,
    "math": None,
    "cmath": None,
    "statistics": None,
    "collections": frozenset({"UserString"}),  # its format() calls str.format unguarded
    "collections.abc": None,
    "itertools": None,
    "functools": None,  # see _ONLY
    "datetime": None,
    "textwrap": None,
    "difflib": None,
    "string": None,  # Formatter is replaced, see _REPLACEMENTS
    "heapq": None,
    "bisect": None,
    "random": None,
    "hashlib": frozenset({"file_digest"}),
    "base64": None,
    "fractions": None,
    "decimal": None,
    "unicodedata": None,
    "csv": None,
    "html": None,
    "copy": frozenset({"dispatch_table"}),
    "time": None,  # see _ONLY
    "typing": frozenset({"get_type_hints", "ForwardRef", "get_overloads", "overload",
                         "TYPE_CHECKING"}),
    "dataclasses": frozenset({"make_dataclass"}),
    "enum": frozenset({"global_enum", "global_enum_repr", "global_flag_repr", "global_str"}),
    "operator": frozenset({"attrgetter", "methodcaller"}),
    "pprint": frozenset({"PrettyPrinter"}),  # pprint/pp are replaced to print into the cell
    "numbers": None,
    "io": None,  # see _ONLY
    "zlib": None,
    "binascii": None,
    "array": None,
}

# For some modules, list what is kept rather than what is left out.
#   functools: update_wrapper/wraps copy attributes named by the caller (their safe versions
#   are in _REPLACEMENTS); singledispatch evaluates string annotations as unrestricted code.
_ONLY: dict[str, frozenset[str]] = {
    "functools": frozenset({
        "reduce", "partial", "lru_cache", "cache", "cmp_to_key", "total_ordering",
        "cached_property", "wraps", "update_wrapper",
    }),
    "io": frozenset({"StringIO", "BytesIO"}),
    "time": frozenset({
        "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
        "sleep", "strftime", "strptime", "gmtime", "localtime", "mktime", "asctime", "ctime",
        "struct_time", "timezone", "altzone", "daylight", "tzname",
    }),
}

# Stand-ins for names whose real versions are unsafe; filled in here and by namespace.py.
_REPLACEMENTS: dict[str, dict[str, Any]] = {
    "string": {"Formatter": SafeFormatter},
    # heapq changes a list through the C API, past a read-only list's own methods.
    "heapq": {name: refusing_read_only(getattr(heapq, name))
              for name in ("heapify", "heappop", "heappush", "heappushpop", "heapreplace")},
}


class ModuleProxy:
    """A sandboxed module: public attributes only, read-only."""

    __slots__ = ("__dict__",)

    def __init__(self, name: str, attrs: dict[str, Any]) -> None:
        object.__setattr__(self, "__dict__", dict(attrs))
        # Not the real name: `from json import decoder` falls back to sys.modules[f"{__name__}
        # .decoder"] when the proxy lacks the name; this name finds nothing there.
        object.__setattr__(self, "__name__", f"{name} (sandboxed)")
        object.__setattr__(self, "__sandboxed_module__", name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"module {self.__sandboxed_module__!r} is read-only in the sandbox")

    __delattr__ = __setattr__  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<module {self.__sandboxed_module__!r} (sandboxed)>"

    def __dir__(self) -> list[str]:
        return sorted(k for k in self.__dict__ if not k.startswith("_"))


def _public_attrs(name: str, module: types.ModuleType) -> dict[str, Any]:
    leave_out = ALLOWED_MODULES[name] or frozenset()
    only = _ONLY.get(name)
    attrs: dict[str, Any] = {}
    for attr in dir(module):
        if attr.startswith("_") or attr in leave_out or (only is not None and attr not in only):
            continue
        value = getattr(module, attr)
        if isinstance(value, types.ModuleType):
            sub = f"{name}.{attr}"
            if value.__name__ == sub and sub in ALLOWED_MODULES:
                attrs[attr] = proxy_for(sub)
            continue
        if isinstance(value, type) and issubclass(value, type):
            continue  # a metaclass builds classes with any dunder methods: type(n, b, d)
        attrs[attr] = value
    attrs.update(_REPLACEMENTS.get(name, {}))
    return attrs


def proxy_for(name: str) -> ModuleProxy | None:
    """The proxy for an allowed module (built once per worker), or None if not allowed."""
    proxy = MODULE_PROXIES.get(name)
    if proxy is None and name in ALLOWED_MODULES:
        module = importlib.import_module(name)
        proxy = ModuleProxy(name, _public_attrs(name, module))
        MODULE_PROXIES[name] = proxy
    return proxy


# Modules that C code imports lazily through the builtins' __import__ of the calling frame
# (datetime.strptime imports _strptime). Model code cannot name them (RestrictedPython refuses
# names starting with "_"), and C code needs the real module, so they pass through as is.
INTERNAL_LAZY_IMPORTS = frozenset({"_strptime"})


def guarded_import(name: str, globals: Any = None, locals: Any = None,
                   fromlist: Any = (), level: int = 0) -> Any:
    """`__import__` for model code: the allowlist only, as proxies."""
    if type(name) is str and name in INTERNAL_LAZY_IMPORTS and level == 0:
        return importlib.import_module(name)
    if level != 0:
        raise ImportError("relative imports are not available in the sandbox")
    if name not in ALLOWED_MODULES:
        allowed = ", ".join(sorted(n for n in ALLOWED_MODULES if "." not in n))
        raise ImportError(
            f"module {name!r} is not available in the sandbox; allowed modules: {allowed}"
        )
    if fromlist or "." not in name:
        proxy = proxy_for(name)
        assert proxy is not None
        for item in fromlist or ():
            if item != "*" and item not in proxy.__dict__:
                raise ImportError(f"cannot import name {item!r} from {name!r} in the sandbox")
    else:  # `import collections.abc` binds the top package
        proxy_for(name)
        proxy = proxy_for(name.split(".")[0])
    assert proxy is not None
    return proxy
