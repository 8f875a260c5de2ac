"""The REPL namespace model code runs in: safe builtins, guards, and the RLM functions.

Built once per worker; it persists across cells, so variables live from one iteration to the
next. The RLM functions (`llm_query`, `FINAL`, ...) are given a `HostLink` that carries their
requests to the host process.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import json
import keyword
import pprint
import re
import sys
import types
import typing
import weakref
from collections.abc import Mapping
from typing import Any, Protocol

from RestrictedPython.Guards import guarded_iter_unpack_sequence as _iter_unpack_sequence
from RestrictedPython.Guards import guarded_unpack_sequence as _unpack_sequence

from rlm_tui.sandbox import answers, guards, modules, policy
from rlm_tui.sandbox.signals import FinalAnswer, OutputFlood

# Names model code sees in its builtins, taken from Python's own builtins.
_SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr",
    "classmethod", "complex", "dict", "divmod", "enumerate", "filter", "float", "format",
    "frozenset", "hash", "hex", "id", "int", "isinstance", "issubclass", "iter", "len", "list",
    "map", "max", "min", "next", "object", "oct", "ord", "pow", "property", "range", "repr",
    "reversed", "round", "set", "slice", "sorted", "staticmethod", "str", "sum", "super",
    "tuple", "zip", "None", "True", "False", "Ellipsis", "NotImplemented",
)
_EXCEPTION_NAMES = tuple(
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
    and name not in ("BaseExceptionGroup", "ExceptionGroup")  # except* stays forbidden
)


class HostLink(Protocol):
    """How the RLM functions reach the host process (implemented by the worker)."""

    def call(self, kind: str, prompts: list[str], model: str | None, context: Any) -> list[str]:
        ...

    def tool(self, name: str, arguments: str) -> Any:
        """Call the host's tool `name` with `arguments` (JSON text); its result, decoded."""
        ...


class CellOutput:
    """What a cell prints: kept up to `keep_chars`, counted beyond, stopped at `flood_chars`."""

    def __init__(self, keep_chars: int, flood_chars: int) -> None:
        self.keep_chars = keep_chars
        self.flood_chars = flood_chars
        self.reset()

    def reset(self) -> None:
        self._parts: list[str] = []
        self._kept = 0
        self.total = 0

    def write(self, text: str) -> None:
        text = guards.exact_str(text)  # a str subclass could lie about its length
        self.total += len(text)
        room = self.keep_chars - self._kept
        if room > 0:
            piece = text if len(text) <= room else text[:room]
            self._parts.append(piece)
            self._kept += len(piece)
        if self.total > self.flood_chars:
            raise OutputFlood(f"the cell printed more than {self.flood_chars:,} characters")

    def text(self) -> str:
        return "".join(self._parts)

    @property
    def cut_chars(self) -> int:
        return self.total - self._kept


class _Printer:
    """`_print_` for RestrictedPython: print() writes into the cell's output."""

    def __init__(self, output: CellOutput) -> None:
        self._output = output

    def __call__(self, _getattr_: Any = None) -> _Printer:
        return self

    def _call_print(self, *objects: Any, sep: Any = " ", end: Any = "\n", file: Any = None,
                    flush: bool = False) -> None:
        if file is not None:
            raise TypeError("print(file=...) is not available in the sandbox")
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if not isinstance(sep, str) or not isinstance(end, str):
            raise TypeError("sep and end must be strings")
        exact = guards.exact_str
        self._output.write(exact(sep).join(exact(o) for o in objects) + exact(end))


class _ClassMaker:
    """`__metaclass__` for class statements: builds the class with the metaclass its bases
    call for, and records it as made by model code (so its attributes may be written)."""

    def __init__(self, made: weakref.WeakSet) -> None:
        self._made = made

    @staticmethod
    def _meta(bases: tuple[Any, ...]) -> type:
        meta: type = type
        for base in bases:
            base_meta = type(base)
            if issubclass(base_meta, meta):
                meta = base_meta
        return meta

    def __prepare__(self, name: str, bases: tuple[Any, ...], **kwargs: Any) -> Mapping[str, Any]:
        return self._meta(bases).__prepare__(name, bases, **kwargs)

    def __call__(self, name: str, bases: tuple[Any, ...], ns: dict[str, Any], **kwargs: Any):
        if any(isinstance(b, type) and issubclass(b, type) for b in bases):
            raise TypeError("defining a metaclass is not allowed in the sandbox")
        cls = self._meta(bases)(name, bases, ns, **kwargs)
        self._made.add(cls)
        return cls


def _size_of(value: Any) -> str:
    try:
        n = len(value)
    except Exception:
        return ""
    return f"len {n:,}"


def _guard_enum_functional_api() -> None:
    """Enum("E", {"__getattr__": f}) would give a class any dunder method: in this worker the
    functional API takes public member names only."""
    import enum

    create = enum.EnumType._create_
    if getattr(create, "_sandbox_checked", False):
        return

    def _create_(cls: Any, class_name: Any, names: Any, **kwargs: Any) -> Any:
        if isinstance(names, str):
            listed = names.replace(",", " ").split()
        else:
            names = list(names.items()) if isinstance(names, Mapping) else list(names)
            listed = [n if isinstance(n, str) else n[0] for n in names]
        for name in listed:
            if type(name) is not str or name.startswith("_"):
                raise ValueError(f"enum member name {name!r} is not allowed in the sandbox")
        return create(cls, class_name, names, **kwargs)

    _create_._sandbox_checked = True  # type: ignore[attr-defined]
    enum.EnumType._create_ = _create_  # type: ignore[method-assign]


def build_namespace(context: Any, host: HostLink, output: CellOutput,
                    readonly_types: tuple[type, ...] = (),
                    tools: tuple[str, ...] = (),
                    sources: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The globals of the REPL: guarded builtins, the context (and each of its sources by
    name: context_0, ...), the RLM functions, and a function for each of the host's `tools`
    (names checked by the host: see tool_name_error)."""
    _guard_enum_functional_api()
    made_classes: weakref.WeakSet = weakref.WeakSet()
    write_guard = guards.WriteGuard(made_classes, (modules.ModuleProxy, *readonly_types))
    aug_attr, aug_item = guards.make_aug_guards(write_guard)
    printer = _Printer(output)
    # The namespace is a real module's dict, registered under its __name__, because library
    # code such as dataclasses looks a class's module up in sys.modules.
    module = types.ModuleType("sandbox")
    sys.modules["sandbox"] = module
    ns: dict[str, Any] = module.__dict__

    def display(value: Any) -> None:
        if value is not None:
            output.write(guards.exact_str(repr(value)) + "\n")

    def safe_pprint(obj: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("stream", None)
        output.write(pprint.pformat(obj, *args, **kwargs) + "\n")

    def safe_dataclass(cls: Any = None, /, **kwargs: Any) -> Any:
        """dataclasses.dataclass, for classes defined in a cell with plain field names:
        dataclasses writes the field names into code it compiles unrestricted."""

        def wrap(target: Any) -> Any:
            if not (isinstance(target, type) and target in made_classes):
                raise TypeError("@dataclass applies only to classes defined in a cell")
            for klass in target.__mro__:
                names = list(vars(klass).get("__annotations__", {}))
                names += list(getattr(klass, "__dataclass_fields__", {}))
                for field_name in names:
                    if type(field_name) is not str or not field_name.isidentifier() \
                            or field_name.startswith("_"):
                        raise TypeError(f"dataclass field name {field_name!r} is not allowed")
            return dataclasses.dataclass(**kwargs)(target)

        return wrap if cls is None else wrap(cls)

    def checked(func: Any) -> Any:
        """A library function whose results go through the value check (typing.get_origin
        returns the real `type` for typing.Type[...])."""

        def call(*args: Any, **kwargs: Any) -> Any:
            result = func(*args, **kwargs)
            if isinstance(result, tuple):
                return tuple(guards.check_value(r, "that result") for r in result)
            return guards.check_value(result, "that result")

        call.__name__ = func.__name__
        return call

    modules._REPLACEMENTS["pprint"] = {"pprint": safe_pprint, "pp": safe_pprint}
    modules._REPLACEMENTS["dataclasses"] = {"dataclass": safe_dataclass}
    modules._REPLACEMENTS["typing"] = {"get_origin": checked(typing.get_origin),
                                       "get_args": checked(typing.get_args)}

    def safe_type(obj: Any) -> type:
        """type(obj): the one-argument form only, and never a metaclass."""
        return guards.check_value(type(obj), "the type of a class")

    def is_cell_function(func: Any) -> bool:
        return isinstance(func, types.FunctionType) and func.__globals__ is ns

    def safe_update_wrapper(wrapper: Any, wrapped: Any) -> Any:
        """functools.update_wrapper with its standard attributes, onto your own function."""
        if not is_cell_function(wrapper):
            raise TypeError("update_wrapper: the wrapper must be a function defined in a cell")
        return functools.update_wrapper(wrapper, wrapped)

    def safe_wraps(wrapped: Any) -> Any:
        """functools.wraps, onto functions defined in a cell."""
        return functools.partial(safe_update_wrapper, wrapped=wrapped)

    modules._REPLACEMENTS["functools"] = {"wraps": safe_wraps,
                                          "update_wrapper": safe_update_wrapper}

    def safe_dir(*args: Any) -> list[str]:
        """dir(obj) without private names; dir() lists your variables."""
        if not args:
            return sorted(_user_variables(ns))
        return sorted(n for n in dir(args[0]) if not n.startswith("_"))

    def no_input(*args: Any) -> str:
        raise RuntimeError("input() is not available: nobody is at the keyboard in the sandbox")

    def llm_query(prompt: Any, model: str | None = None) -> str:
        """Ask a sub-model one question; returns its answer as a str."""
        return host.call("llm", [_as_prompt(prompt)], _as_model(model), None)[0]

    def llm_query_batched(prompts: Any, model: str | None = None) -> list[str]:
        """Ask many questions at once (run concurrently); a failed one comes back as
        "Error: ..." at its position."""
        if isinstance(prompts, (str, bytes)):
            raise TypeError("llm_query_batched takes a list of prompts")
        items = []
        for p in prompts:
            items.append(_as_prompt(p))
            if len(items) > MAX_BATCH:
                raise ValueError(f"llm_query_batched takes at most {MAX_BATCH:,} prompts; "
                                 "split the work or merge small pieces")
        return host.call("llm", items, _as_model(model), None) if items else []

    def rlm_query(prompt: Any, context: Any = None) -> str:
        """Hand a sub-question (and optionally a piece of context) to a child RLM."""
        return host.call("rlm", [_as_prompt(prompt)], None, _as_context(context))[0]

    def FINAL(value: Any) -> None:  # noqa: N802 - the REPL contract's name
        """End the session with value as the answer: a dict or a list as JSON, else
        str(value)."""
        raise FinalAnswer(_as_answer(value), "FINAL")

    def FINAL_VAR(name: Any) -> None:  # noqa: N802
        """End the session with the value of the variable called `name`."""
        if not isinstance(name, str):
            raise TypeError('FINAL_VAR takes the variable\'s name as a string: FINAL_VAR("answer")')
        key = guards.exact_str(name).strip()
        if key.startswith("_") or key not in ns or key in _RESERVED:
            known = ", ".join(sorted(_user_variables(ns))) or "none yet"
            raise NameError(f"FINAL_VAR: no variable named {key!r} (variables: {known})")
        raise FinalAnswer(_as_answer(ns[key]), f"FINAL_VAR({key!r})")

    def SHOW_VARS() -> None:  # noqa: N802
        """Print your variables with their type and size."""
        names = sorted(_user_variables(ns))
        if not names:
            output.write("(no variables yet)\n")
            return
        for n in names:
            value = ns[n]
            kind = "module" if isinstance(value, modules.ModuleProxy) else type(value).__name__
            output.write(f"{n}: {kind} {_size_of(value)}".rstrip() + "\n")

    safe_builtins: dict[str, Any] = {n: getattr(builtins, n) for n in _SAFE_BUILTIN_NAMES}
    safe_builtins.update({n: getattr(builtins, n) for n in _EXCEPTION_NAMES})
    safe_builtins.update(
        __build_class__=builtins.__build_class__,  # class statements; bound to __metaclass__
        __import__=modules.guarded_import,
        getattr=guards.guarded_getattr,
        hasattr=guards.guarded_hasattr,
        setattr=guards.guarded_setattr(write_guard),
        type=safe_type,
        dir=safe_dir,
        input=no_input,
    )

    ns.update(
        __builtins__=safe_builtins,
        __name__="sandbox",
        __metaclass__=_ClassMaker(made_classes),
        _getattr_=guards.guarded_getattr,
        _getitem_=guards.guarded_getitem,
        _getiter_=guards.guarded_getiter,
        _iter_unpack_sequence_=_iter_unpack_sequence,
        _unpack_sequence_=_unpack_sequence,
        _write_=write_guard,
        _print_=printer,
        _inplacevar_=guards.inplacevar,
        _apply_=guards.apply,
        _aug_attr_=aug_attr,
        _aug_item_=aug_item,
        _abort_check_=guards.abort_check,
        _display_=display,
        _match_types_=types.SimpleNamespace(**{
            n: getattr(builtins, n) for n in policy.SELF_MATCHING_TYPES}),
        **dict(sources or {}),
        context=context,
        llm_query=llm_query,
        llm_query_batched=llm_query_batched,
        rlm_query=rlm_query,
        FINAL=FINAL,
        FINAL_VAR=FINAL_VAR,
        SHOW_VARS=SHOW_VARS,
    )
    for name in tools:
        if tool_name_error(name) is None:  # the host checked them; never trust a message
            ns[name] = _tool_function(host, name)
    _RESERVED.update(n for n in ns if not n.startswith("_"))
    return ns


# The REPL's own names; user variables are everything else without a leading underscore.
_RESERVED: set[str] = set()


# The REPL's own names: a host tool may not take one (see tool_name_error).
REPL_FUNCTIONS = ("context", "llm_query", "llm_query_batched", "rlm_query", "FINAL",
                  "FINAL_VAR", "SHOW_VARS")
_CONTEXT_NAME = re.compile(r"context_\d+")
# Characters of a tool call's arguments, and of its result, as JSON: what crosses the pipe.
MAX_TOOL_JSON_CHARS = 1_000_000
_MAX_TOOL_DEPTH = 64


def tool_name_error(name: Any) -> str | None:
    """Why `name` cannot be a tool's name in the REPL, or None when it can."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        return f"{name!r} is not a Python identifier"
    if name.startswith("_"):
        return f"{name!r} starts with an underscore"
    if (name in REPL_FUNCTIONS or name in _SAFE_BUILTIN_NAMES or name in _EXCEPTION_NAMES
            or name in ("print", "getattr", "hasattr", "setattr", "type", "dir", "input")
            or _CONTEXT_NAME.fullmatch(name)):
        return f"{name!r} is one of the REPL's own names"
    return None


def _tool_function(host: HostLink, name: str) -> Any:
    def tool(*args: Any, **kwargs: Any) -> Any:
        data = {"args": [_as_json_data(a, 0) for a in args],
                "kwargs": {guards.exact_str(k): _as_json_data(v, 0) for k, v in kwargs.items()}}
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if len(text) > MAX_TOOL_JSON_CHARS:
            raise ValueError(f"{name}: its arguments are {len(text):,} characters of JSON; at "
                             f"most {MAX_TOOL_JSON_CHARS:,} go to a tool")
        return host.tool(name, text)

    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = f"The host's tool {name}: JSON data in, JSON data out."
    return tool


def _as_json_data(value: Any, depth: int) -> Any:
    """A tool's argument as plain JSON data, built from exact types (a model's subclass of
    str or dict could lie to json.dumps)."""
    if depth > _MAX_TOOL_DEPTH:
        raise ValueError(f"tool arguments nest deeper than {_MAX_TOOL_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return guards.exact_str(value)
    if isinstance(value, (list, tuple)):
        return [_as_json_data(v, depth + 1) for v in value]
    if isinstance(value, dict):
        data = {}
        for k, v in dict.items(value):
            if not isinstance(k, str):
                raise TypeError(f"tool arguments: a dict's keys must be str, not "
                                f"{type(k).__name__}")
            data[guards.exact_str(k)] = _as_json_data(v, depth + 1)
        return data
    raise TypeError(f"tool arguments must be JSON data (str, int, float, bool, None, list, "
                    f"dict), not {type(value).__name__}")


def _user_variables(ns: dict[str, Any]) -> list[str]:
    return [n for n in ns if not n.startswith("_") and n not in _RESERVED]


# Sub-calls per llm_query_batched call, and characters of a FINAL answer.
MAX_BATCH = 2_000
MAX_ANSWER_CHARS = answers.MAX_ANSWER_CHARS


def _as_prompt(prompt: Any) -> str:
    if isinstance(prompt, (str, list, dict, tuple, int, float)):
        return guards.exact_str(prompt)
    raise TypeError(f"a prompt must be a str, not {type(prompt).__name__}")


def _as_model(model: Any) -> str | None:
    if model is None:
        return None
    if not isinstance(model, str):
        raise TypeError("model must be a str")
    return guards.exact_str(model)


def _as_answer(value: Any) -> str:
    return answers.answer_text(value)  # a dict or a list as JSON, anything else as str


def _as_context(value: Any) -> Any:
    exact = guards.exact_str
    if value is None:
        return None
    if isinstance(value, str):
        return exact(value)
    if isinstance(value, Mapping):
        return {exact(k): exact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact(v) for v in value]
    return exact(value)


