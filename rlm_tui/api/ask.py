"""`rlm_tui.ask`: one question, one session, for a script (`ask_async` for a program that
has an event loop already)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from rlm_tui.api.options import ContextArg
from rlm_tui.api.result import Result
from rlm_tui.api.session import EventHandler, Session

T = TypeVar("T")


async def ask_async(question: str, context: ContextArg = ".", *, schema: Any = None,
                    tools: Mapping[str, Callable[..., Any]] | None = None,
                    transcript: str | os.PathLike[str] | bool | None = None,
                    config: str | os.PathLike[str] | None = None,
                    on_event: EventHandler | None = None, **settings: Any) -> Result:
    """Answer `question` about `context` in a session of its own, closed when it ends. The
    arguments are Session's (settings named as the command line's flags)."""
    async with Session(context, schema=schema, tools=tools, transcript=transcript,
                       config=config, on_event=on_event, **settings) as session:
        return await session.ask(question)


def ask(question: str, context: ContextArg = ".", *, schema: Any = None,
        tools: Mapping[str, Callable[..., Any]] | None = None,
        transcript: str | os.PathLike[str] | bool | None = None,
        config: str | os.PathLike[str] | None = None,
        on_event: EventHandler | None = None, **settings: Any) -> Result:
    """`ask_async`, waited for: for a script. Inside a running event loop (a notebook), the
    session runs on a loop of its own in another thread, and this call waits for it."""
    return run_sync(ask_async(question, context, schema=schema, tools=tools,
                              transcript=transcript, config=config, on_event=on_event,
                              **settings))


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def in_thread() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller's thread as it is
            box["error"] = exc

    thread = threading.Thread(target=in_thread, name="rlm-tui-ask")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
