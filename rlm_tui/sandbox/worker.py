"""The worker process: holds one REPL namespace and runs cells in it, one at a time.

Started by `host.Sandbox` as `python -I -m rlm_tui.sandbox.worker` with an empty environment
in an empty temporary directory. The protocol travels on the process's original stdin/stdout,
which the worker moves aside at once (fd 0 becomes /dev/null, fd 1 joins stderr).

Messages (see protocol.py):
  host -> worker  init {context, limits, tools}   exec {id, code, timeout}
                  reply {id, results | json | error [, stop] | cancelled}
  worker -> host  ready {pid, protections}  call {id, kind, prompts, model, context}
                  call {id, kind: "tool", name, arguments}   result {id, stdout, error, ...}
"""

from __future__ import annotations

import gc
import json
import linecache
import os
import signal
import time
import traceback
from collections.abc import Iterator, Mapping
from typing import Any

from rlm_tui.sandbox import limits
from rlm_tui.sandbox.guards import exact_str
from rlm_tui.sandbox.namespace import CellOutput, build_namespace
from rlm_tui.sandbox.policy import compile_cell
from rlm_tui.sandbox.protocol import ProtocolError, read_message, write_message
from rlm_tui.sandbox.signals import (
    CellInterrupted,
    CellTimeout,
    FinalAnswer,
    OutputFlood,
    SandboxStop,
)

# Once a cell has timed out, the timer keeps firing this often so that code that ignores the
# first signal (a loop in a `finally:`) is hit again until it ends or the host kills us.
_REFIRE_SECONDS = 0.25


class ReadOnlyFiles(Mapping):
    """A small path -> text context given as a dict. Unlike MappingProxyType, comparing it
    with a model object never hands that object the dict behind it."""

    __slots__ = ("_files",)

    def __init__(self, files: dict[str, str]) -> None:
        self._files = files

    def __getitem__(self, path: str) -> str:
        return self._files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._files))

    def __len__(self) -> int:
        return len(self._files)

    def __repr__(self) -> str:
        return f"<context: {len(self._files)} files>"


class Worker:
    def __init__(self, fd_in: int, fd_out: int) -> None:
        self.fd_in = fd_in
        self.fd_out = fd_out
        self.running = False  # a cell is executing model code
        self.in_host_call = False  # waiting for the host: stop signals are held back
        self.pending: SandboxStop | None = None
        self.raised: SandboxStop | None = None
        self.call_id = 0
        self.cell_number = 0
        self.output: CellOutput | None = None
        self.ns: dict[str, Any] = {}
        self.context: Any = None
        self.coverage_views: list[Any] = []  # the context views whose reads are recorded
        self.sources: dict[str, Any] = {}  # each source's own variable (context_0, ...)

    # -- start ---------------------------------------------------------------------------

    def start(self) -> None:
        init = read_message(self.fd_in)
        if init.get("op") != "init":
            raise ProtocolError("expected init")
        cfg = init.get("limits", {})
        self.output = CellOutput(int(cfg["keep_chars"]),  # the host sends every limit
                                 int(cfg["flood_chars"]))
        self.context, readonly = self._open_context(init.get("context") or {"kind": "none"})
        if not self.sources and self.context is not None:
            self.sources["context_0"] = self.context  # as rlms names it
        # Everything the process needs is loaded before the limits close the doors.
        tools = init.get("tools")
        names = tuple(str(n) for n in tools) if isinstance(tools, list) else ()
        self.ns = build_namespace(self.context, self, self.output, readonly, names,
                                  self.sources)
        from rlm_tui.sandbox import modules

        for name in modules.ALLOWED_MODULES:  # import now: after the limits, files are gone
            modules.proxy_for(name)
        for name in modules.INTERNAL_LAZY_IMPORTS:
            __import__(name)
        for codec in ("cp1252", "latin-1", "utf-16", "utf-32", "ascii", "cp437", "iso8859-15"):
            "é".encode(codec, "replace")  # load common codecs while files can be read
        compile_cell("x = 1", "<warm-up>")
        protections = ["restricted-python", "empty-environment"]
        spec = init.get("context") or {}
        pack_dirs = [str(spec["dir"])] if spec.get("kind") == "pack" else []
        protections += limits.apply_limits(int(cfg["memory_mb"]), pack_dirs)
        # After apply_limits: changing user clears the kernel's parent-death signal.
        limits.die_with_parent(int(init.get("host_pid", 0) or 0))
        signal.signal(signal.SIGINT, self._on_interrupt)
        signal.signal(signal.SIGALRM, self._on_timer)
        signal.signal(signal.SIGXCPU, self._on_timer)
        write_message(self.fd_out, {"op": "ready", "pid": os.getpid(),
                                    "protections": protections})

    def _open_context(self, spec: dict[str, Any]) -> tuple[Any, tuple[type, ...]]:
        kind = spec.get("kind")
        if kind == "text":
            return str(spec.get("text", "")), ()
        if kind == "mapping":
            files = ReadOnlyFiles(dict(sorted(spec.get("files", {}).items())))
            return files, (ReadOnlyFiles,)
        if kind == "pack":
            return self._open_pack(spec)
        return None, ()

    def _open_pack(self, spec: dict[str, Any]) -> tuple[Any, tuple[type, ...]]:
        """The pack as `context`, and each source as its own variable: for one path, its
        name (`context_0`) is another name of `context`; for several, each is its own (a
        directory a view of its files, a file its str, data read-only lists and dicts) and
        `context` the whole pack. One source given as data is `context` itself."""
        from rlm_tui.context import view
        from rlm_tui.sandbox.readonly_data import READ_ONLY_TYPES, read_only

        ctx, table = view.open_pack(spec["dir"])
        readonly: tuple[type, ...] = ()
        if not isinstance(ctx, str):
            self.coverage_views.append(ctx)
            readonly = (type(ctx), *READ_ONLY_TYPES)
        if not table:
            for name in spec.get("names") or ("context_0",):
                self.sources[str(name)] = ctx
            return ctx, readonly
        assert isinstance(ctx, view.ContextView)
        for source in table:
            value: Any = view.source_value(ctx, source)
            if isinstance(value, view.ContextView):
                self.coverage_views.append(value)
            elif source.get("kind") == "data" and source.get("type") != "str":
                value = read_only(json.loads(value))
            self.sources[str(source["name"])] = value
        if len(table) == 1:
            return next(iter(self.sources.values())), readonly
        return ctx, readonly

    # -- signals -------------------------------------------------------------------------

    def _raise_or_hold(self, stop: SandboxStop) -> None:
        if not self.running:
            return
        if self.in_host_call:
            self.pending = self.pending or stop
            return
        self.raised = self.raised or stop  # remembered: `return` in a `finally` can swallow it
        raise stop

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        self._raise_or_hold(CellInterrupted("the run was halted"))

    def _on_timer(self, signum: int, frame: Any) -> None:
        if self.running:
            signal.setitimer(signal.ITIMER_REAL, _REFIRE_SECONDS)
        self._raise_or_hold(CellTimeout("the cell ran past its time limit"))

    # -- the HostLink used by llm_query & co ----------------------------------------------

    def call(self, kind: str, prompts: list[str], model: str | None, context: Any) -> list[str]:
        if model is not None and not isinstance(model, str):
            raise TypeError("model must be a str")
        remaining, _ = signal.setitimer(signal.ITIMER_REAL, 0)  # waiting is not running
        self.in_host_call = True
        try:
            self.call_id += 1
            write_message(self.fd_out, {"op": "call", "id": self.call_id, "kind": kind,
                                        "prompts": prompts, "model": model,
                                        "context": context})
            while True:
                reply = read_message(self.fd_in)
                if reply.get("op") == "reply" and reply.get("id") == self.call_id:
                    break
        finally:
            self.in_host_call = False
            if remaining > 0:
                signal.setitimer(signal.ITIMER_REAL, remaining)
        if self.pending is not None or reply.get("cancelled"):
            stop, self.pending = self.pending, None
            raise stop or CellInterrupted("the run was halted")
        if isinstance(reply.get("error"), str):
            raise RuntimeError(reply["error"])
        results = reply.get("results")
        if not isinstance(results, list) or len(results) != len(prompts):
            raise RuntimeError("the host sent a malformed reply")
        return [str(r) for r in results]

    def tool(self, name: str, arguments: str) -> Any:
        """A host tool's call. Unlike a sub-call, its time counts as the cell's: the timer
        runs on (its signal held until the reply), and the host bounds its wait to match."""
        self.in_host_call = True
        try:
            self.call_id += 1
            write_message(self.fd_out, {"op": "call", "id": self.call_id, "kind": "tool",
                                        "name": name, "arguments": arguments})
            while True:
                reply = read_message(self.fd_in)
                if reply.get("op") == "reply" and reply.get("id") == self.call_id:
                    break
        finally:
            self.in_host_call = False
        if self.pending is not None or reply.get("cancelled"):
            stop, self.pending = self.pending, None
            raise stop or CellInterrupted("the run was halted")
        if reply.get("stop") == "timeout":
            self.raised = self.raised or CellTimeout("the cell ran past its time limit")
            raise self.raised
        if isinstance(reply.get("error"), str):
            raise RuntimeError(reply["error"])
        text = reply.get("json")
        if not isinstance(text, str):
            raise RuntimeError("the host sent a malformed reply")
        return json.loads(text)

    # -- cells ---------------------------------------------------------------------------

    def run_cell(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.output is not None
        self.cell_number += 1
        filename = f"<cell {self.cell_number}>"
        source = str(message.get("code", ""))
        timeout = float(message["timeout"])  # the host sends its limit with every cell
        self.output.reset()
        result: dict[str, Any] = {"op": "result", "id": message.get("id"), "error": None,
                                  "error_kind": None, "final": None, "stderr": ""}
        started = time.perf_counter()
        compiled = compile_cell(source, filename)
        if compiled.code is None:
            result.update(error=compiled.error, error_kind=compiled.kind)
        else:
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            self._execute(compiled.code, filename, timeout, result)
        result["seconds"] = time.perf_counter() - started
        result["stdout"] = self.output.text()
        result["stdout_total_chars"] = self.output.total
        if self.coverage_views:
            from rlm_tui.context import view

            read: dict[str, list[list[int]]] = {}
            for source in self.coverage_views:
                for path, ranges in view.take_coverage(source)["read"].items():
                    read.setdefault(path, []).extend(ranges)
            result["coverage"] = {"read": read}
        return result

    def _execute(self, code: Any, filename: str, timeout: float, result: dict[str, Any]) -> None:
        self.pending = self.raised = None
        limits.limit_cpu_for_cell(timeout)
        self.running = True
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            try:
                exec(code, self.ns)
            except BaseException as exc:  # model code may raise anything, SystemExit included
                self._record(exc, filename, timeout, result)
                del exc
                # Freeing the traceback may run model code (a generator's `finally`): let it
                # run now, while the cell's timer still stands guard.
                gc.collect()
            else:
                if self.raised is not None:  # a stop the cell swallowed (`return` in finally)
                    self._record(self.raised, filename, timeout, result)
        except SandboxStop as late:  # the timer fired again while we tidied up
            if result["error"] is None and result["final"] is None:
                self._record(late, filename, timeout, result)
        finally:
            self.running = False
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _record(self, exc: BaseException, filename: str, timeout: float,
                result: dict[str, Any]) -> None:
        if isinstance(exc, FinalAnswer):
            result["final"] = {"answer": exc.answer, "source": exc.source}
        elif isinstance(exc, CellTimeout):
            result.update(error=f"TimeoutError: the cell ran longer than {timeout:g} s and was "
                                "stopped; variables set before that point are kept",
                          error_kind="timeout")
        elif isinstance(exc, CellInterrupted):
            result.update(error="Interrupted: the run was halted while this cell ran",
                          error_kind="interrupted")
        elif isinstance(exc, OutputFlood):
            result.update(error=f"OutputLimitError: {_one_line(exc)}; the cell was stopped",
                          error_kind="output_flood")
        elif isinstance(exc, RecursionError):
            result.update(error="RecursionError: maximum recursion depth exceeded",
                          error_kind="exception", stderr=_format_traceback(filename, exc))
        elif isinstance(exc, MemoryError):
            result.update(error="MemoryError: the cell ran out of its memory limit",
                          error_kind="memory")
        else:
            result.update(error=_one_line(exc), error_kind="exception",
                          stderr=_format_traceback(filename, exc))

    def serve(self) -> None:
        while True:
            message = read_message(self.fd_in)
            op = message.get("op")
            if op == "exec":
                write_message(self.fd_out, self.run_cell(message))
            elif op == "shutdown":
                return
            # stray replies to cancelled calls are dropped


# An exception's message is model-controlled text: keep it from flooding the root's prompt.
_ERROR_CHARS = 2_000
_TRACEBACK_CHARS = 8_000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit:,} chars cut]"


def _one_line(exc: BaseException) -> str:
    name = type(exc).__name__
    try:
        # exact_str: a model's __str__ may return a str subclass whose methods misbehave.
        lines = exact_str(exc).strip().splitlines()
        text = f"{name}: {lines[0]}" if lines else name
    except SandboxStop:  # a model's __str__ ran until the timer stopped it: that is a timeout
        raise
    except BaseException:  # a model's __str__ may fail
        text = f"{name}: (the exception's message could not be shown)"
    return _clip(text, _ERROR_CHARS)


def _format_traceback(filename: str, exc: BaseException) -> str:
    """The traceback as the model needs it: frames of its own cells only."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith("<cell ")]
    lines = ["Traceback (most recent call last):"]
    for f in frames[-8:]:
        where = f.filename.strip("<>")
        lines.append(f"  {where}, line {f.lineno}, in {f.name}")
        if f.line:
            lines.append(f"    {f.line.strip()}")
    lines.append(_one_line(exc))
    return _clip("\n".join(lines), _TRACEBACK_CHARS) + "\n"


def main() -> None:
    # Keep the protocol pipes away from fds 0/1, so a stray write cannot corrupt a frame.
    fd_in, fd_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until a cell runs
    worker = Worker(fd_in, fd_out)
    try:
        worker.start()
        worker.serve()
    except ProtocolError:
        pass  # the host went away or closed us


if __name__ == "__main__":
    main()
