"""`rlm-tui eval --ray [ADDRESS]`: each task as a Ray task, in a Ray worker process of its
own with its own sandbox worker, on a local Ray or on the cluster at ADDRESS ("auto",
"ray://host:10001"). Needs the optional extra `pip install 'rlm-tui[ray]'`, and rlm-tui
installed on every node.

The driver alone writes: a task's record and transcript travel back with its result, and the
scheduler (runner.py) records them as they arrive. A task whose worker dies (killed, out of
memory, its node lost) is retried once by Ray, then recorded as an error. A context travels
through Ray's object store as its loaded pack (filtered and masked on the driver, put once
and shared by every task over it) when the pack is at most --ray-ship-max bytes; a larger one
travels as its path, for a file system the nodes share, and is loaded where the task runs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlm_tui.config import Settings
from rlm_tui.engine.workspace import Workspace
from rlm_tui.errors import RlmTuiError, UsageError
from rlm_tui.eval.task_run import INTERRUPTED, error_record, open_workspace, pack_files_of, run_task
from rlm_tui.eval.tasks import Task
from rlm_tui.lm import ModelClient
from rlm_tui.scratch import make_scratch_dir

# A task mostly waits on its model: a quarter of a CPU lets four run per core. The worker's
# sandbox runs the model's code in short bursts.
CPUS_PER_TASK = 0.25
RETRIES_ON_WORKER_DEATH = 1
LOCAL = "local"
CONNECT_TIMEOUT_S = 5.0


def require_ray() -> None:
    """UsageError, in one line, when Ray is not installed."""
    try:
        import ray  # noqa: F401 - deferred: about 1 s to import, and an optional extra
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'rlm-tui[ray]'") from None


def join_ray(address: str) -> Callable[..., RayExecutor]:
    """Join Ray (start a local one for LOCAL, unless this process already joined one); what
    makes the executor. UsageError when the cluster cannot be joined."""
    import ray

    if ray.is_initialized():  # a Ray this process already joined (tests, notebooks)
        return functools.partial(RayExecutor, owns_ray=False)
    _check_reachable(address)
    if address == LOCAL:  # a Ray of this machine's own posts no usage report to Ray's servers
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # (unless the person asks)
    try:
        ray.init(address=None if address == LOCAL else address, include_dashboard=False,
                 logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--ray {address}: cannot join the Ray cluster: {first}") from None
    return functools.partial(RayExecutor, owns_ray=True)


def run_remote_task(task: Task, settings: Settings, pack_files: dict[str, bytes] | None,
                    baseline: bool, window: int | None) -> dict[str, Any]:
    """The body of a Ray task: run `task` here; its record and its transcript's bytes."""
    scratch = Path(make_scratch_dir("eval"))
    transcript = scratch / f"{task.id}.jsonl"

    async def main() -> dict[str, Any]:
        client = ModelClient(prices={m: p.per_million() for m, p in settings.prices.items()})
        try:
            return await run_task(task, settings, client, transcript_path=transcript,
                                  baseline=baseline, window=window, pack_files=pack_files)
        finally:
            await client.aclose()

    try:
        record = asyncio.run(main())
        data = transcript.read_bytes() if transcript.exists() else None
        record["host"] = os.uname().nodename
        return {"record": record, "transcript": data}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class RayExecutor:
    """Tasks as Ray tasks; the contexts they need, shipped once each."""

    def __init__(self, settings: Settings, transcripts: Path, *, owns_ray: bool,
                 baseline: bool, window: int | None, ship_max: int) -> None:
        import ray

        self._ray = ray
        self._owns_ray = owns_ray
        self._remote = ray.remote(max_retries=RETRIES_ON_WORKER_DEATH, retry_exceptions=False,
                                  num_cpus=CPUS_PER_TASK)(run_remote_task)
        self.settings = settings
        self.transcripts = transcripts
        self.baseline = baseline
        self.window = window
        self.ship_max = ship_max
        self._shipped: dict[str, asyncio.Task[Any]] = {}
        self._in_flight: set[Any] = set()
        self._halted: str | None = None

    async def run(self, task: Task, settings: Settings) -> dict[str, Any]:
        if self._halted:
            return {"id": task.id, "status": INTERRUPTED}
        try:
            pack = await self._context(task, settings)
        except RlmTuiError as exc:
            return error_record(task, "error", f"context: {exc}")
        ref = self._remote.remote(task, settings, pack, self.baseline, self.window)
        self._in_flight.add(ref)
        errors = self._ray.exceptions
        try:
            result = await ref
        except errors.TaskCancelledError:
            return {"id": task.id, "status": INTERRUPTED}
        except errors.RayTaskError as exc:  # a bug in the task, not a lost worker
            cause = exc.cause if exc.cause is not None else exc
            return error_record(task, "error", f"{type(cause).__name__}: {cause}")
        except errors.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return error_record(task, "error", f"its Ray worker died, and again when "
                                f"retried: {type(exc).__name__}" + (f": {first}" if first
                                                                     else ""))
        finally:
            self._in_flight.discard(ref)
        record = result["record"]
        record["context_via"] = "path" if pack is None else "object store"
        if result.get("transcript") is not None:
            path = self.transcripts / f"{task.id}.jsonl"
            await asyncio.to_thread(_write_file, path, result["transcript"])
            record["transcript"] = str(path)
        return record

    async def _context(self, task: Task, settings: Settings) -> Any:
        """The task's context for the worker: an object-store reference to its pack's files,
        or None (by path). A path's pack is loaded and put once for every task over it."""
        if task.context is not None:
            key = str(task.context)  # several sources: one pack too, shipped the same way
            if (isinstance(task.context, Path) and task.context.is_file()
                    and task.context.stat().st_size > self.ship_max):
                return None
        else:
            key = f"text:{task.id}"
        if key not in self._shipped:
            self._shipped[key] = asyncio.ensure_future(self._ship(task, settings))
        return await self._shipped[key]

    async def _ship(self, task: Task, settings: Settings) -> Any:
        files = await asyncio.to_thread(_load_pack_files, task, settings, self.ship_max)
        return None if files is None else self._ray.put(files)

    def halt_all(self, reason: str) -> None:
        self._halted = reason
        for ref in list(self._in_flight):
            self._ray.cancel(ref)

    async def close(self) -> None:
        for shipped in self._shipped.values():
            shipped.cancel()
        if self._owns_ray:
            await asyncio.to_thread(self._ray.shutdown)


def _check_reachable(address: str) -> None:
    """UsageError when a HOST:PORT address answers no connection within CONNECT_TIMEOUT_S
    (ray.init would wait for it for minutes)."""
    if address in (LOCAL, "auto"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--ray {address}: not an address (auto, HOST:PORT or "
                         "ray://HOST:10001)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise UsageError(f"--ray {address}: cannot join the Ray cluster: "
                         f"{exc.strerror or exc}") from None


def _load_pack_files(task: Task, settings: Settings, ship_max: int) -> dict[str, bytes] | None:
    """The loaded pack's files, or None when the pack is larger than `ship_max`."""
    workspace: Workspace = open_workspace(task, settings, None)
    try:
        if task.context is not None and workspace.pack.total_bytes > ship_max:
            return None
        return pack_files_of(workspace)
    finally:
        workspace.close()


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
