"""Tools: the host's own functions, which model code calls from the REPL by name.

A tool is code the user chose to trust: it runs in the host process, with the host's rights,
never in the worker. Only JSON crosses the worker's pipe: the arguments are decoded and
checked on the host (sandbox/tool_calls.py), the result is encoded here, at most
MAX_TOOL_JSON_CHARS characters (a bigger one is an error for the cell, never a cut value),
without building the text of a value that is over the cap.

    tools = ToolSet.from_callables({"lookup_issue": lookup_issue})   # UsageError if unusable
    tools = ToolSet.from_file("tools.py")                           # InputError if unusable
    tools.describe()                       # the system prompt's list of them
    text = await tools.call(request)       # the result as JSON text, or ToolCallError
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import inspect
import json
import math
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlm_tui.errors import InputError, UsageError
from rlm_tui.sandbox.namespace import MAX_TOOL_JSON_CHARS, tool_name_error
from rlm_tui.sandbox.tool_calls import ToolCallError, ToolRequest, utf8_safe

__all__ = ["MAX_TOOL_JSON_CHARS", "Tool", "ToolCallError", "ToolSet", "encode_result"]

_MAX_DEPTH = 100  # of a result's nesting


@dataclass(frozen=True)
class Tool:
    """One host function, as the REPL and the system prompt know it."""

    name: str
    func: Callable[..., Any]
    signature: inspect.Signature | None
    doc: str  # the first paragraph of its docstring
    is_async: bool = False  # awaited on the loop; else run in a thread

    def describe(self) -> str:
        shown = _shown_signature(self.signature) if self.signature is not None else "(...)"
        line = f"- `{self.name}{shown}`"
        return f"{line}: {self.doc}" if self.doc else line


class ToolSet:
    """The tools of a run, by name; `call` runs one (sync ones in a thread of their own,
    async ones awaited on the run's loop)."""

    def __init__(self, tools: list[Tool]) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._threads = _DaemonThreads()

    @classmethod
    def from_callables(cls, mapping: Mapping[str, Callable[..., Any]]) -> ToolSet:
        """Tools from a mapping of name -> sync or async callable; UsageError (one line) for
        a name the REPL cannot give a tool, or a value that is not callable."""
        tools = []
        for name, func in mapping.items():
            why = tool_name_error(name)
            if why is not None:
                raise UsageError(f"tools: {why}: name tools with a plain identifier")
            if not callable(func):
                raise UsageError(f"tools: {name!r} is a {type(func).__name__}, not a callable")
            tools.append(_tool(name, func))
        return cls(tools)

    @classmethod
    def from_file(cls, path: str | Path) -> ToolSet:
        """Tools from a Python file (`--tools FILE.py`): it is imported as a module, in the
        host, and its public functions (defined in it, not starting with "_") are the tools.
        InputError (one line) when it is missing, does not import, or has none."""
        where = Path(path).expanduser()
        shown = f"--tools {path}"
        if not where.is_file():
            raise InputError(f"{shown}: no such file" if not where.exists() else
                             f"{shown}: not a file")
        module = _import_file(where, shown)
        functions = {name: obj for name, obj in vars(module).items()
                     if inspect.isfunction(obj) and obj.__module__ == module.__name__
                     and not name.startswith("_")}
        if not functions:
            raise InputError(f"{shown}: no public function in it (a tool is a function "
                             "defined in the file whose name does not start with \"_\")")
        for name in functions:
            why = tool_name_error(name)
            if why is not None:
                raise InputError(f"{shown}: function {why}: rename it or start its name "
                                 "with \"_\"")
        return cls([_tool(name, func) for name, func in functions.items()])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def describe(self) -> str:
        """The system prompt's list: each tool's name, signature and first docstring
        paragraph, one a line."""
        return "\n".join(tool.describe() for tool in self._tools.values())

    async def call(self, request: ToolRequest) -> str:
        """Run the tool the request names; its result as JSON text (see encode_result).
        ToolCallError, with a one-line message, for anything that went wrong."""
        tool = self._tools.get(request.name)
        if tool is None:
            raise ToolCallError(f"no tool named {request.name!r} in this session")
        if tool.signature is not None:
            try:
                tool.signature.bind(*request.args, **request.kwargs)
            except TypeError as exc:
                raise ToolCallError(f"{tool.name}: TypeError: {exc}") from None
        try:
            if tool.is_async:
                value = await tool.func(*request.args, **request.kwargs)
            else:
                value = await self._threads.run(tool.func, request.args, request.kwargs)
                if inspect.isawaitable(value):
                    value = await value
        except (asyncio.CancelledError, ToolCallError):
            raise
        except Exception as exc:  # the tool's own failure: the cell sees it, the run goes on
            raise ToolCallError(f"{tool.name}: {type(exc).__name__}: {_first_line(exc)}") \
                from None
        return encode_result(tool.name, value)


def encode_result(name: str, value: Any, limit: int = MAX_TOOL_JSON_CHARS) -> str:
    """`value` as compact JSON text, or ToolCallError when it is not JSON data or its text
    would pass `limit` characters: the check is made piece by piece, so a 100 MB result is
    refused without its text ever being built."""
    parts: list[str] = []
    size = 0

    def add(text: str) -> None:
        nonlocal size
        size += len(text)
        if size > limit:
            raise _TooBig
        parts.append(text)

    def walk(item: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise ToolCallError(f"{name}: its result nests deeper than {_MAX_DEPTH} levels")
        if isinstance(item, str):
            if len(item) + 2 + size > limit:  # before its text is made
                raise _TooBig
            add(json.dumps(item, ensure_ascii=False))
        elif item is None or isinstance(item, (bool, int)):
            add(json.dumps(item))
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ToolCallError(f"{name}: its result holds {item}, which JSON has not")
            add(json.dumps(item))
        elif isinstance(item, (list, tuple)):
            add("[")
            for index, element in enumerate(item):
                if index:
                    add(",")
                walk(element, depth + 1)
            add("]")
        elif isinstance(item, dict):
            add("{")
            for index, (key, element) in enumerate(item.items()):
                if not isinstance(key, str):
                    raise ToolCallError(f"{name}: its result has a dict key of type "
                                        f"{type(key).__name__}; JSON keys are str")
                add(("," if index else "") + json.dumps(key, ensure_ascii=False) + ":")
                walk(element, depth + 1)
            add("}")
        else:
            raise ToolCallError(f"{name}: it returned a {type(item).__name__}, which is not "
                                "JSON data (return a dict, list, str, int, float, bool or "
                                "None)")

    try:
        walk(value, 0)
    except _TooBig:
        parts.clear()
        raise ToolCallError(f"{name}: its result is over {limit:,} characters of JSON, the "
                            "most that crosses to the REPL: return less (a page, a summary)") \
            from None
    return utf8_safe("".join(parts))


class _TooBig(Exception):
    pass


class _Written:
    """An annotation as the file wrote it (a string, under `from __future__ import
    annotations`): shown as code, not as a quoted str."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _shown_signature(signature: inspect.Signature) -> str:
    def plain(annotation: Any) -> Any:
        return _Written(annotation) if isinstance(annotation, str) else annotation

    params = [p.replace(annotation=plain(p.annotation)) for p in signature.parameters.values()]
    return str(signature.replace(parameters=params,
                                 return_annotation=plain(signature.return_annotation)))


def _tool(name: str, func: Callable[..., Any]) -> Tool:
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have none
        signature = None
    doc = inspect.getdoc(func) or ""
    first = doc.strip().split("\n\n", 1)[0]
    is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None))
    return Tool(name, func, signature, " ".join(first.split()), is_async)


def _import_file(path: Path, shown: str) -> Any:
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    module_name = f"rlm_tui_tools_{stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"{shown}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # whatever the file raises, SystemExit included
        sys.modules.pop(module_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise InputError(f"{shown}: it does not import: {type(exc).__name__}: "
                         f"{_first_line(exc)}") from None
    return module


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:500] if lines else "(no message)"


class _DaemonThreads:
    """The threads sync tools run in: daemon threads, started as calls need them and kept
    for the next. Not asyncio.to_thread: a thread cannot be killed, so a tool that hangs past
    its cell's time is abandoned (its thread stays busy until the tool returns, and the next
    call gets another), and the default executor's threads would hold the program's exit
    until it returned. Kept, not one per call: starting a thread costs ~0.1-0.5 ms."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0

    async def run(self, func: Callable[..., Any], args: list[Any],
                  kwargs: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        context = contextvars.copy_context()

        def settle(ok: bool, value: Any) -> None:
            if not future.done():  # a call the cell stopped waiting for is dropped
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

        def work() -> None:
            try:
                value = context.run(func, *args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                ok, value = False, exc
            else:
                ok = True
            try:
                loop.call_soon_threadsafe(settle, ok, value)
            except RuntimeError:  # the loop has closed: nobody waits for it any more
                pass

        with self._lock:
            if self._idle:
                self._idle -= 1  # an idle thread takes it
            else:
                self._started += 1
                threading.Thread(target=self._serve, name=f"rlm-tool-{self._started}",
                                 daemon=True).start()
        self._work.put(work)
        return await future

    def _serve(self) -> None:
        while True:
            self._work.get()()
            with self._lock:
                self._idle += 1
