"""The host side of a tool call: the worker's message decoded and checked (never trusted),
the engine's handler given the cell's time left, and the reply the worker gets.

The handler (engine/tools.py runs the user's function) answers with the result as JSON text,
at most MAX_TOOL_JSON_CHARS characters, or raises ToolCallError with a one-line message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rlm_tui.sandbox.namespace import MAX_TOOL_JSON_CHARS


@dataclass(frozen=True)
class ToolRequest:
    """One call of a host tool made by model code: its name and its arguments, decoded and
    checked JSON data (`args` a list, `kwargs` a dict of str)."""

    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    arguments: str  # the same, as JSON text {"args": [...], "kwargs": {...}}


class ToolCallError(Exception):
    """A tool call that failed: its one-line message reaches the cell as a RuntimeError."""


class ToolTimedOut(ToolCallError):
    """The cell's time ran out in the tool: the cell ends as timed out (a fork's rebuild of
    a call that did)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: {TIMED_OUT}")


TIMED_OUT = "stopped by the cell's time limit"


# Answers a tool call with its result as JSON text (at most MAX_TOOL_JSON_CHARS), or raises
# ToolCallError; its time counts as the cell's.
ToolHandler = Callable[[ToolRequest], Awaitable[str]]


async def answer_tool_call(message: dict[str, Any], names: tuple[str, ...],
                           handler: ToolHandler | None, left: float) -> dict[str, Any]:
    """The reply to one tool call, `left` the seconds the cell has: {"json": result} or
    {"error": "..."}, plus "stop": "timeout" when the cell's time ran out in the tool."""
    name, arguments = message.get("name"), message.get("arguments")
    if not isinstance(name, str) or not isinstance(arguments, str):
        return {"error": "malformed tool call"}
    if name not in names or handler is None:
        return {"error": f"no tool named {name[:100]!r} in this session"}
    if len(arguments) > MAX_TOOL_JSON_CHARS:
        return {"error": f"{name}: its arguments are over {MAX_TOOL_JSON_CHARS:,} "
                         "characters of JSON"}
    try:  # the worker's JSON is decoded here and checked, never trusted
        data = json.loads(arguments)
    except (ValueError, RecursionError):
        return {"error": f"{name}: its arguments are not valid JSON"}
    args = data.get("args") if isinstance(data, dict) else None
    kwargs = data.get("kwargs") if isinstance(data, dict) else None
    if (not isinstance(args, list) or not isinstance(kwargs, dict)
            or not all(isinstance(k, str) and k.isidentifier() for k in kwargs)):
        return {"error": f"{name}: malformed arguments"}
    canonical = utf8_safe(json.dumps({"args": args, "kwargs": kwargs}, ensure_ascii=False,
                                     separators=(",", ":")))
    request = ToolRequest(name, args, kwargs, canonical)
    if left <= 0:
        return {"error": f"{name}: the cell has no time left", "stop": "timeout"}
    try:
        async with asyncio.timeout(left):  # no task of its own, unlike wait_for
            result = await handler(request)
    except (TimeoutError, ToolTimedOut):
        return {"error": f"{name}: {TIMED_OUT}", "stop": "timeout"}
    except ToolCallError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # a handler's bug: the cell sees it, the run goes on
        return {"error": f"{name}: {type(exc).__name__}: {_first_line(exc)}"}
    if not isinstance(result, str) or len(result) > MAX_TOOL_JSON_CHARS:
        return {"error": f"{name}: its result could not be sent"}
    return {"json": result}


def utf8_safe(text: str) -> str:
    """JSON text that encodes as UTF-8: a lone surrogate (decoded from a "\\ud800" escape, or
    a host string read with surrogateescape) is written as its escape instead, since the
    transcript and the pipe are UTF-8."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(json.loads(text), separators=(",", ":"))  # ensure_ascii
    return text


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:2_000] if lines else ""
