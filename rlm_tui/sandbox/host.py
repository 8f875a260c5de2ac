"""The host side of a sandbox: starts the worker, runs cells, serves their sub-calls.

`Sandbox` is what the engine uses. One per RLM session; its worker keeps the REPL namespace
across cells. Everything the worker sends is treated as hostile input: size-capped frames, plain
JSON, and a deadline on every wait, so the host never hangs on a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rlm_tui.child_python import boot_code, child_paths
from rlm_tui.errors import SandboxError
from rlm_tui.sandbox.limits import shield_host_process
from rlm_tui.scratch import make_scratch_dir
from rlm_tui.config import (
    DEFAULT_CELL_TIMEOUT_S,
    DEFAULT_MEMORY_MB,
    DEFAULT_MODEL_OUTPUT_CHARS,
)
from rlm_tui.sandbox.namespace import MAX_BATCH
from rlm_tui.sandbox.tool_calls import ToolHandler, answer_tool_call
from rlm_tui.sandbox.protocol import HEADER, MAX_FRAME, ProtocolError, decode, encode


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandbox. Times in seconds, sizes in characters unless named otherwise."""

    cell_timeout: float = DEFAULT_CELL_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    model_output_chars: int = DEFAULT_MODEL_OUTPUT_CHARS  # of a cell's output, for the model
    kept_output_chars: int = 1_000_000  # kept for the user
    flood_output_chars: int = 50_000_000  # printing past this stops the cell
    kill_grace: float = 2.0  # after a timeout or halt, before the worker is killed
    start_timeout: float = 30.0


@dataclass(frozen=True)
class PackContext:
    """A context pack on disk (see rlm_tui.context): the worker maps it read-only. `names`:
    the other names of `context` in the REPL for a pack of one path (a pack of several
    sources names each in its own table)."""

    dir: str
    names: tuple[str, ...] = ("context_0",)


@dataclass(frozen=True)
class SubcallRequest:
    """One sub-call made by model code: `llm_query`, one prompt of a batch, or `rlm_query`."""

    kind: Literal["llm", "rlm"]
    prompt: str
    model: str | None = None
    context: Any = None
    batch_index: int = 0
    batch_size: int = 1


SubcallHandler = Callable[[SubcallRequest], Awaitable[str]]


@dataclass
class CellResult:
    """What running one cell produced."""

    stdout: str = ""
    stdout_total_chars: int = 0
    stderr: str = ""
    error: str | None = None
    # syntax | refused | exception | timeout | interrupted | output_flood | memory | crashed
    error_kind: str | None = None
    final_answer: str | None = None
    final_source: str | None = None
    seconds: float = 0.0
    worker_restarted: bool = False  # the namespace was lost
    coverage: dict[str, Any] = field(default_factory=dict)
    subcalls: int = 0

    @property
    def stdout_cut_chars(self) -> int:
        return max(0, self.stdout_total_chars - len(self.stdout))

    def for_model(self, max_chars: int = DEFAULT_MODEL_OUTPUT_CHARS) -> str:
        """The cell's output as the root model sees it, capped, with a note of what was cut."""
        parts = []
        out = self.stdout
        total = self.stdout_total_chars or len(out)
        if len(out) > max_chars:
            out = out[:max_chars]
        if out:
            parts.append(out.rstrip("\n"))
        if total > len(out):
            parts.append(f"[output cut: {total - len(out):,} of {total:,} characters not shown]")
        if self.stderr:
            parts.append(self.stderr.rstrip("\n"))
        elif self.error:
            parts.append(self.error)
        if self.worker_restarted:
            parts.append("[the REPL was restarted: all variables were lost]")
        if not parts:
            parts.append("[no output]")
        return "\n".join(parts)


_WORKER_MAIN = "from rlm_tui.sandbox.worker import main; main()"


class Sandbox:
    """A sandboxed REPL in its own worker process.

    `context` is a str, a mapping of path -> text, or a `PackContext`. `on_subcall` answers the model code's sub-calls; it may be replaced per cell.
    `tools`: the names of the host's tools, each a function of the REPL; `on_tool` answers
    their calls (it may be replaced per cell too).
    """

    def __init__(self, context: Any = None, *, limits: SandboxLimits | None = None,
                 on_subcall: SubcallHandler | None = None, tools: tuple[str, ...] = (),
                 on_tool: ToolHandler | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self.on_subcall = on_subcall
        self.tools = tuple(tools)
        self.on_tool = on_tool
        self._call_in_flight: Any = None  # the id of the call being answered
        self._context_spec = _context_spec(context)
        self._proc: asyncio.subprocess.Process | None = None
        self._workdir: str | None = None
        self._stderr_tail = bytearray()
        self._stderr_task: asyncio.Task[None] | None = None
        self._cell_ids = 0
        self._lock = asyncio.Lock()
        self.protections: list[str] = []
        self.pid: int | None = None
        self.start_seconds = 0.0
        self.restarts = 0

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker and wait until it is ready."""
        started = time.perf_counter()
        shield_host_process()
        self._workdir = make_scratch_dir("cell")
        os.chmod(self._workdir, 0o777)  # the worker may drop to an unprivileged user
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-c", boot_code(child_paths(), _WORKER_MAIN),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={}, cwd=self._workdir,
            start_new_session=True, limit=MAX_FRAME,
        )
        self._stderr_task = asyncio.create_task(self._drain_stderr(self._proc))
        self._send({"op": "init", "host_pid": os.getpid(), "context": self._context_spec,
                    "tools": list(self.tools), "limits": {
            "memory_mb": self.limits.memory_mb,
            "keep_chars": self.limits.kept_output_chars,
            "flood_chars": self.limits.flood_output_chars,
        }})
        try:
            ready = await asyncio.wait_for(self._read(), self.limits.start_timeout)
        except (ProtocolError, asyncio.TimeoutError) as exc:
            detail = self._stderr_text().strip().splitlines()
            await self._kill()
            why = detail[-1] if detail else str(exc) or "no answer"
            raise SandboxError(f"the sandbox worker did not start: {why}") from None
        self.protections = [str(p) for p in ready.get("protections", [])]
        self.pid = self._proc.pid
        self.start_seconds = time.perf_counter() - started

    async def close(self) -> None:
        """Stop the worker and remove its working directory."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(Exception):
                self._send({"op": "shutdown"})
                await asyncio.wait_for(proc.wait(), 1.0)
        await self._kill()
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    async def restart(self) -> None:
        """Replace the worker with a fresh one: every variable is lost."""
        await self._kill()
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self.restarts += 1
        await self.start()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    # -- cells ---------------------------------------------------------------------------

    async def run_cell(self, code: str, *, timeout: float | None = None,
                       on_subcall: SubcallHandler | None = None,
                       on_tool: ToolHandler | None = None) -> CellResult:
        """Run one cell in the persistent namespace.

        The cell's own running time is limited by `timeout` (time spent waiting for sub-calls
        does not count; time in a tool does). Cancelling this coroutine interrupts the cell
        (halt): the worker is asked to stop, and killed and restarted if it does not within
        the grace period.
        """
        async with self._lock:
            if not self.alive:
                await self.restart()
            timeout = self.limits.cell_timeout if timeout is None else timeout
            handler = on_subcall or self.on_subcall
            self._cell_ids += 1
            cell_id = self._cell_ids
            self._call_in_flight = None
            self._send({"op": "exec", "id": cell_id, "code": code, "timeout": timeout})
            try:
                return await self._serve_cell(cell_id, timeout, handler,
                                              on_tool or self.on_tool)
            except asyncio.CancelledError:
                await asyncio.shield(self._interrupt_after_cancel(cell_id))
                raise

    async def _serve_cell(self, cell_id: int, timeout: float, handler: SubcallHandler | None,
                          on_tool: ToolHandler | None = None) -> CellResult:
        started = time.perf_counter()
        # The worker's own clock pauses while it waits for sub-calls; ours does likewise.
        deadline = started + timeout + self.limits.kill_grace
        subcalls = 0
        while True:
            try:
                message = await asyncio.wait_for(self._read(),
                                                 max(0.0, deadline - time.perf_counter()))
            except asyncio.TimeoutError:
                return await self._lost_worker(
                    started, subcalls, "timeout",
                    f"TimeoutError: the cell ran longer than {timeout:g} s and could not be "
                    "interrupted, so the REPL was restarted")
            except ProtocolError:
                return await self._lost_worker(
                    started, subcalls, "crashed", self._crash_message())
            op = message.get("op")
            if op == "result" and message.get("id") == cell_id:
                try:
                    return _cell_result(message, subcalls)
                except ProtocolError:
                    return await self._lost_worker(
                        started, subcalls, "crashed",
                        "WorkerCrash: the REPL process sent a malformed result; it was "
                        "restarted and all variables were lost")
            if op == "call" and message.get("kind") == "tool":
                # A tool's time is the cell's: its wait ends when the cell's time does.
                left = deadline - self.limits.kill_grace - time.perf_counter()
                self._call_in_flight = message.get("id")
                reply = await answer_tool_call(message, self.tools, on_tool, left)
                self._call_in_flight = None
                self._send({"op": "reply", "id": message.get("id"), **reply})
            elif op == "call":
                waited = time.perf_counter()
                self._call_in_flight = message.get("id")
                reply = await self._answer_call(message, handler)
                self._call_in_flight = None
                subcalls += len(reply.get("results", ()))
                deadline += time.perf_counter() - waited
                self._send({"op": "reply", "id": message.get("id"), **reply})
            # anything else from the worker is ignored

    async def _answer_call(self, message: dict[str, Any],
                           handler: SubcallHandler | None) -> dict[str, Any]:
        """The reply to one sub-call message: {"results": [...]} or {"error": "..."}."""
        prompts = message.get("prompts")
        kind = message.get("kind")
        if (not isinstance(prompts, list) or kind not in ("llm", "rlm")
                or not all(isinstance(p, str) for p in prompts)):
            return {"error": "malformed sub-call"}
        if len(prompts) > MAX_BATCH:  # the worker caps batches too; never trust it
            return {"error": f"at most {MAX_BATCH:,} prompts per batch"}
        return {"results": await self._answer_prompts(message, prompts, kind, handler)}

    async def _answer_prompts(self, message: dict[str, Any], prompts: list[str], kind: str,
                              handler: SubcallHandler | None) -> list[str]:
        model = message.get("model") if isinstance(message.get("model"), str) else None
        requests = [
            SubcallRequest(kind=kind, prompt=str(p), model=model,
                           context=message.get("context"), batch_index=i,
                           batch_size=len(prompts))
            for i, p in enumerate(prompts)
        ]
        if handler is None:
            return ["Error: sub-calls are not available in this sandbox"] * len(requests)

        async def one(request: SubcallRequest) -> str:
            try:
                answer = await handler(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failure must not sink the batch
                text = str(exc).strip().splitlines()
                return f"Error: {text[0] if text else type(exc).__name__}"
            return answer if isinstance(answer, str) else str(answer)

        return list(await asyncio.gather(*(one(r) for r in requests)))

    async def _interrupt_after_cancel(self, cell_id: int) -> None:
        """Halt: ask the worker to stop the cell; kill it if it does not in time."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        if self._call_in_flight is not None:  # the worker waits for this call's reply
            call, self._call_in_flight = self._call_in_flight, None
            with contextlib.suppress(ProtocolError):
                self._send({"op": "reply", "id": call, "cancelled": True})
        deadline = time.perf_counter() + min(1.0, self.limits.kill_grace)
        try:
            while True:
                message = await asyncio.wait_for(self._read(),
                                                 max(0.0, deadline - time.perf_counter()))
                if message.get("op") == "result" and message.get("id") == cell_id:
                    return
                if message.get("op") == "call":  # a sub-call was pending: tell it to stop
                    self._send({"op": "reply", "id": message.get("id"), "cancelled": True})
        except (asyncio.TimeoutError, ProtocolError, ConnectionError):
            await self._kill()

    async def _lost_worker(self, started: float, subcalls: int, kind: str,
                           error: str) -> CellResult:
        await self.restart()
        return CellResult(error=error, error_kind=kind, worker_restarted=True,
                          seconds=time.perf_counter() - started, subcalls=subcalls)

    def _crash_message(self) -> str:
        code = self._proc.returncode if self._proc else None
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            how = f"was killed by {name}"
            if name in ("SIGKILL", "SIGSEGV", "SIGXCPU"):
                how += " (out of memory or CPU time, or a crash)"
        else:
            how = "exited unexpectedly"
        return (f"WorkerCrash: the REPL process {how}; it was restarted and all variables "
                "were lost")

    # -- plumbing ------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            raise ProtocolError("the worker is not running")
        try:
            proc.stdin.write(encode(message))
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ProtocolError("the worker closed its pipe") from exc

    async def _read(self) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdout is None:
            raise ProtocolError("the worker is not running")
        try:
            header = await proc.stdout.readexactly(HEADER.size)
            (size,) = HEADER.unpack(header)
            if size > MAX_FRAME:
                raise ProtocolError("the worker sent an oversized frame")
            data = await proc.stdout.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 1.0)
            raise ProtocolError("the worker went away") from exc
        return decode(data)

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while chunk := await proc.stderr.read(65536):
            self._stderr_tail += chunk
            del self._stderr_tail[:-8192]

    def _stderr_text(self) -> str:
        return self._stderr_tail.decode("utf-8", "replace")

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            # The worker leads its own session, so its group id is its pid. Only the group is
            # signalled: Popen.kill() would first poll(), reaping the child behind asyncio's
            # child watcher ("Unknown child process pid").
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5.0)
        if proc.stdin is not None:
            proc.stdin.close()
        # Close the pipes' transport now, on this loop; left to the garbage collector it may
        # be finalised after the loop has closed ("Event loop is closed" warnings).
        transport = getattr(proc, "_transport", None)
        if transport is not None:
            transport.close()
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(BaseException):
                await self._stderr_task
            self._stderr_task = None


def _context_spec(context: Any) -> dict[str, Any]:
    if context is None:
        return {"kind": "none"}
    if isinstance(context, str):
        return {"kind": "text", "text": context}
    if isinstance(context, PackContext):
        return {"kind": "pack", "dir": context.dir, "names": list(context.names)}
    if isinstance(context, Mapping):
        return {"kind": "mapping", "files": {str(k): str(v) for k, v in context.items()}}
    raise TypeError(f"unsupported context: {type(context).__name__}")


def _cell_result(message: dict[str, Any], subcalls: int) -> CellResult:
    final = message.get("final")
    answer = source = None
    if isinstance(final, dict) and isinstance(final.get("answer"), str):
        answer = final["answer"]
        source = final.get("source") if isinstance(final.get("source"), str) else "FINAL"

    def text(key: str) -> str:
        value = message.get(key)
        return value if isinstance(value, str) else ""

    # Every field is checked: a worker that sends a malformed result is broken or hostile.
    expected = {"stdout": str, "stderr": str, "error": (str, type(None)),
                "error_kind": (str, type(None)), "stdout_total_chars": int,
                "seconds": (int, float), "coverage": dict, "final": (dict, type(None))}
    for key, kind in expected.items():
        if key in message and not isinstance(message[key], kind):
            raise ProtocolError(f"the worker sent a {key} of the wrong type")
    total = message.get("stdout_total_chars")
    return CellResult(
        stdout=text("stdout"),
        stdout_total_chars=total if type(total) is int else len(text("stdout")),
        stderr=text("stderr"),
        error=text("error") or None,
        error_kind=text("error_kind") or None,
        final_answer=answer,
        final_source=source,
        seconds=float(message.get("seconds", 0.0)),
        coverage=message.get("coverage", {}),
        subcalls=subcalls,
    )
