"""`rlm-tui mcp`: RLM answers for any MCP client, a stdio server on the official `mcp` SDK.

Two tools: `rlm_ask` (a question over paths, answered by an RLM session of its own, opened
through `rlm_tui.api.Session` like every other session) and `rlm_context` (what the model
would be told about those paths, and what is skipped and why). Every call is checked by the
server's policy (policy.py): paths inside the allowed roots, a configured model, budgets no
higher than the server's. Progress goes out as the run goes; a client's cancellation halts
the run as `x` does in the app, and its transcript says so.

stdout is the protocol's alone: the SDK serves the wire from a private copy of fd 1 and
points fd 1 at stderr, so a stray print, a warning, litellm or a sandbox worker (which
inherits fd 1) writes to stderr, never into the protocol.
"""

# No `from __future__ import annotations`: the SDK reads the tools' signatures (their
# descriptions name the server's models), evaluated where the tools are defined.
import asyncio
import contextlib
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from rlm_tui import __version__
from rlm_tui.config import Settings
from rlm_tui.errors import RlmTuiError
from rlm_tui.mcp.policy import ServerPolicy
from rlm_tui.mcp.progress import report_progress

# After a cancellation, how long the halted run may take to end and record itself (a halt
# cancels model calls and code at once; this is a bound for a wedged worker, not a wait).
HALT_GRACE_S = 30.0

INSTRUCTIONS = (
    "rlm-tui answers questions about repositories and files too large for your context "
    "window: a Recursive Language Model reads them from a sandboxed Python REPL, calling "
    "sub-models on the pieces it chooses. Use rlm_context first to see what a path holds "
    "(and what is skipped), then rlm_ask with a precise question. Each answer says its cost."
)

ASK_DESCRIPTION = (
    "Answer a question about files or directories with a Recursive Language Model: the "
    "files are loaded as the variable `context` (several paths: context_0, context_1, ...) "
    "of a sandboxed REPL, never pasted into a prompt, so they may be far larger than a model "
    "window. Returns the answer as text, and as structured content the value (validated "
    "against `schema` when given), status (answered, halted, failed), cost in USD, tokens, "
    "iterations, sub-calls and the transcript's path. Secrets are masked before the model "
    "sees anything. Progress notifications tell the iteration, sub-calls and cost so far; "
    "cancelling the call halts the run."
)

CONTEXT_DESCRIPTION = (
    "Show what rlm_ask's model would be told about these paths (sizes, file counts, a tree, "
    "languages) and every file left out with the reason (binary, too large, a secret file, "
    "a symlink out of the root, ignored...). Loads nothing into a model; costs nothing."
)

Paths = Annotated[list[str], Field(description="files or directories, inside the server's "
                                               "allowed roots; relative ones from where the "
                                               "server was started", min_length=1)]


def build_server(settings: Settings, allow: Iterable[str] = ()) -> MCPServer:
    """The MCP server, its tools checked by a policy made of `settings` (the server's own,
    from its flags and config) and the allowed roots `allow` (default: the current
    directory). InputError for a root that is not a directory."""
    policy = ServerPolicy.make(settings, allow)
    server = MCPServer("rlm-tui", version=__version__, instructions=INSTRUCTIONS,
                       log_level="WARNING")
    budgets = ", ".join(f"{name} {getattr(settings, name):g}" for name in
                        ("max_iterations", "max_depth", "max_cost", "max_tokens", "max_time")
                        if getattr(settings, name) is not None)
    models = ", ".join(policy.models) or "none configured"

    async def rlm_ask(
        question: Annotated[str, Field(description="the question, as precise as you can")],
        paths: Paths,
        ctx: Context,
        schema: Annotated[dict[str, Any] | None, Field(
            description="a JSON Schema the answer must meet; the validated value is "
                        "returned as `value`")] = None,
        model: Annotated[str | None, Field(
            description=f"the root model, one of: {models} (default: {settings.model})")]
        = None,
        max_iterations: Annotated[int | None, Field(ge=1, description="root turns, at "
                                                    "most the server's")] = None,
        max_depth: Annotated[int | None, Field(ge=1)] = None,
        max_cost: Annotated[float | None, Field(gt=0, description="USD")] = None,
        max_tokens: Annotated[int | None, Field(gt=0)] = None,
        max_time: Annotated[float | None, Field(gt=0, description="seconds")] = None,
    ) -> CallToolResult:
        try:
            resolved = policy.resolve_paths(paths)
            overrides = policy.call_settings(model=model, budgets={
                "max_iterations": max_iterations, "max_depth": max_depth,
                "max_cost": max_cost, "max_tokens": max_tokens, "max_time": max_time})
            return await ask(settings, [str(p) for p in resolved], question, schema,
                             overrides, ctx)
        except RlmTuiError as exc:
            return refusal(exc)

    async def rlm_context(paths: Paths) -> CallToolResult:
        try:
            resolved = policy.resolve_paths(paths)
            return await asyncio.to_thread(context_result, settings, resolved)
        except RlmTuiError as exc:
            return refusal(exc)

    server.add_tool(rlm_ask, name="rlm_ask", title="Ask an RLM about files",
                    description=f"{ASK_DESCRIPTION} Server budgets: {budgets}.",
                    annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
                    structured_output=False)
    server.add_tool(rlm_context, name="rlm_context", title="What a context holds",
                    description=CONTEXT_DESCRIPTION,
                    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True,
                                                open_world_hint=False),
                    structured_output=False)
    return server


def refusal(exc: RlmTuiError) -> CallToolResult:
    """An error a caller can cause (a path, a model, a budget, bad input): the tool's error
    result, its one line as the CLI says it."""
    return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)


async def ask(settings: Settings, paths: list[str], question: str, schema: Any,
              overrides: dict[str, Any], ctx: Context) -> CallToolResult:
    """One call's session: opened through the API, its progress reported, halted when the
    client cancels the call, closed when it ends."""
    from rlm_tui.api import Session  # the engine: imported by serve()'s warm-up already

    context: Any = paths[0] if len(paths) == 1 else paths
    session = Session(context, settings=settings, **overrides)
    stream = session.events()
    reporter = asyncio.create_task(report_progress(stream, session, ctx.report_progress))
    # The session runs as a task of its own: a cancellation of the call reaches this
    # coroutine, which halts the run and waits for it to end, instead of tearing it down.
    asked = asyncio.create_task(session.ask_result(question, schema=schema))
    try:
        await asyncio.wait({asked})
    except BaseException:  # the client cancelled the call (or the server is stopping)
        with anyio.CancelScope(shield=True):
            if session.run is None:  # still opening: nothing has run, nothing to record
                asked.cancel()
            session.halt("cancelled by the MCP client")
            await asyncio.wait({asked}, timeout=HALT_GRACE_S)
            if asked.done() and not asked.cancelled():
                asked.exception()  # seen: the call's answer is its cancellation
            await _close(session, reporter)
        raise
    with anyio.CancelScope(shield=True):
        await _close(session, reporter)
    # Bad input found on open (a missing path, a missing key) raises its RlmTuiError here.
    return ask_result(asked.result(), warnings=session.warnings)


async def _close(session: Any, reporter: asyncio.Task[None]) -> None:
    await session.close()  # ends the event stream, so the reporter ends too
    try:
        await asyncio.wait_for(reporter, 5)
    except Exception:  # a client gone mid-notification: nothing left to tell
        pass


def ask_result(result: Any, *, warnings: Sequence[str] = ()) -> CallToolResult:
    """The answer as text (and a line of its figures), the Result as structured content
    (with the session's warnings: a cost budget an unpriced model cannot keep)."""
    data = {**result.to_dict(), "warnings": list(warnings)}
    if result.status == "answered":
        text = result.answer or ""
    else:
        text = f"No answer: the run {result.status} ({result.reason or 'no reason given'})"
    return CallToolResult(content=[TextContent(type="text", text=text),
                                   TextContent(type="text", text=figures_line(data))],
                          structured_content=data, is_error=result.status == "failed")


def figures_line(data: dict[str, Any]) -> str:
    """'answered in 2 iterations · 3 sub-calls · 1,234 tokens · $0.0012 · transcript PATH'"""
    cost = data["cost_usd"]
    shown = "cost unknown" if cost is None else f"${cost:,.4f}" + \
        ("" if data["cost_complete"] else " (some calls unpriced)")
    tokens = data["tokens"]
    parts = [f"{data['status']} in {data['iterations']} iteration"
             f"{'' if data['iterations'] == 1 else 's'}",
             f"{data['sub_calls']} sub-call{'' if data['sub_calls'] == 1 else 's'}",
             f"{'~' if tokens['estimated'] else ''}{tokens['total']:,} tokens", shown]
    if data.get("transcript"):
        parts.append(f"transcript {data['transcript']}")
    return " · ".join(parts + [f"warning: {w}" for w in data.get("warnings", [])])


def context_result(settings: Settings, paths: list[Any]) -> CallToolResult:
    """`rlm-tui context --json`'s report for each path (named as the REPL names it)."""
    from rlm_tui.context.loader import LoadOptions
    from rlm_tui.context.metadata import render_context_summary
    from rlm_tui.context.report import context_report

    options = LoadOptions.from_settings(settings)
    contexts, texts = [], []
    for index, path in enumerate(paths):
        name = "context" if len(paths) == 1 else f"context_{index}"
        report = context_report(path, options)
        contexts.append({"name": name, "path": str(path), **report.to_dict()})
        reasons: dict[str, int] = {}
        for item in report.skipped:
            reasons[str(item.reason)] = reasons.get(str(item.reason), 0) + 1
        skipped = ", ".join(f"{reason} {n:,}" for reason, n in reasons.items())
        texts.append(f"{name}: {path}\n{render_context_summary(report.meta)}"
                     + (f"\nSkipped files: {skipped}" if skipped else ""))
    data = {"contexts": contexts}
    return CallToolResult(content=[TextContent(type="text", text="\n\n".join(texts))],
                          structured_content=data)


def warm_up(settings: Settings) -> None:
    """Import what a call's session needs, and get the models' transports ready."""
    try:
        import rlm_tui.api  # noqa: F401
        from rlm_tui.engine.workspace import model_specs
        from rlm_tui.lm import prepare_models

        prepare_models(model_specs(settings)).join()
    except Exception:  # noqa: BLE001 - only an optimisation: a call reports its own errors
        pass


def serve(settings: Settings, allow: Iterable[str] = ()) -> int:
    """Run the server on stdin/stdout until the client closes it."""
    # Until the SDK claims fd 1 (it then points fd 1 at stderr), a stray print would land in
    # the protocol: whatever building the server says goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        server = build_server(settings, allow)
    # The server lives long: the first call should not pay for imports (the engine ~0.4 s,
    # the models' transports: aiohttp, or litellm ~3 s), so they load while it starts
    # serving. Not a daemon: a thread frozen mid-import at exit would hold that import's lock.
    threading.Thread(target=warm_up, args=(settings,), name="rlm-tui-mcp-warm-up").start()
    anyio.run(server.run_stdio_async)
    return 0

