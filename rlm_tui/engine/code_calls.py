"""What a session does for the code its REPL runs: the sub-calls it makes (`llm_query`,
`llm_query_batched`, `rlm_query`, a child session at depth), and the host tools it calls.
A mixin of engine/session.py's Session (its events, meter and accounts)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rlm_tui import events as ev
from rlm_tui.engine.run_context import RunContext
from rlm_tui.lm import ModelCallError, RetryInfo
from rlm_tui.sandbox import SubcallRequest, ToolCallError, ToolRequest
from rlm_tui.sandbox.tool_calls import ToolTimedOut

# A sub-call's prompt and response are kept in events up to this many characters.
EVENT_TEXT_CHARS = 200_000


class CodeCalls:
    """Sub-calls and tool calls from model code, as nodes of the session tree."""

    owner: Any
    context: RunContext
    depth: int
    usage: ev.Usage

    def tool_node(self, cell: str) -> str:
        return f"{cell}.tool{self._next(cell + '.tool')}"

    async def _tool_call(self, request: ToolRequest, cell: str) -> str:
        """Run one of the run's tools for model code, in the host; a node of the tree."""
        node = self.tool_node(cell)
        name = request.name
        self.emit(ev.ToolStarted, node, cell, name=name, arguments=request.arguments,
                  arguments_chars=len(request.arguments))
        started = time.monotonic()
        tools = self.owner.tools
        try:
            if tools is None or name not in tools:
                raise ToolCallError(f"no tool named {name!r} in this session")
            text = await tools.call(request)
        except ToolCallError as exc:
            self.emit(ev.ToolFinished, node, cell, name=name, error=str(exc),
                      seconds=time.monotonic() - started)
            raise
        except asyncio.CancelledError:
            if not self.owner.control.halted:  # the cell's time ran out (a halt: "stopped")
                # A sync tool's thread cannot be killed: it is abandoned, left to finish.
                self.emit(ev.ToolFinished, node, cell, name=name,
                          error=str(ToolTimedOut(name)), seconds=time.monotonic() - started)
            raise
        self.emit(ev.ToolFinished, node, cell, name=name, result=text,
                  result_chars=len(text), seconds=time.monotonic() - started)
        return text

    async def _subcall(self, request: SubcallRequest, cell: str) -> str:
        node = f"{cell}.q{self._next(cell)}"
        settings = self.owner.settings
        if request.kind == "rlm" and self.depth + 1 < settings.max_depth:
            return await self._child_session(request, node, cell)
        prompt = request.prompt
        if request.kind == "rlm" and request.context is not None:
            prompt += "\n\nContext:\n" + RunContext.from_value(request.context).value.__str__()
        spec = self.owner.spec(self.depth + 1, request.model)
        async with self.owner.limiter:
            self.emit(ev.SubcallStarted, node, cell, kind=request.kind, model=spec.model,
                      prompt=prompt[:EVENT_TEXT_CHARS], prompt_chars=len(prompt),
                      depth=self.depth + 1, batch_index=request.batch_index,
                      batch_size=request.batch_size)

            messages = [{"role": "user", "content": prompt}]
            meter, spec = self._metered(spec, messages)

            def on_retry(info: RetryInfo) -> None:
                self.emit(ev.SubcallRetry, node, cell, attempt=info.attempt,
                          reason=info.reason, wait_s=info.wait_s)
                if info.discarded_output:
                    meter.restart()

            try:
                done = await self.owner.client.complete(spec, messages, on_delta=meter.add,
                                                        on_retry=on_retry)
            except ModelCallError as exc:
                meter.done()
                self.emit(ev.SubcallFinished, node, cell, model=spec.model, error=str(exc),
                          attempts=exc.attempts or 1)
                self.owner.ledger.sub_calls += 1
                raise
            except asyncio.CancelledError:
                usage = self._stopped_usage(meter, spec, messages)
                self.owner.ledger.sub_calls += 1
                self.emit(ev.SubcallFinished, node, cell, model=spec.model, usage=usage,
                          latency_s=meter.seconds, stopped=self._stop_reason())
                raise
            meter.done()
        usage = done.usage
        self._account(usage, sub_call=True)
        self.emit(ev.SubcallFinished, node, cell, model=done.model,
                  response=done.text[:EVENT_TEXT_CHARS], usage=usage,
                  latency_s=done.latency_s, attempts=done.attempts,
                  finish_reason=done.finish_reason)
        if self.context.coverage is not None:
            self.owner.sent_prompts.append(prompt)  # matched at the cell's end, off this path
        return done.text

    async def _child_session(self, request: SubcallRequest, node: str, cell: str) -> str:
        context = (self.context if request.context is None
                   else RunContext.from_value(request.context))
        spec = self.owner.spec(self.depth + 1)
        self.emit(ev.SubcallStarted, node, cell, kind="rlm", model=spec.model,
                  prompt=request.prompt[:EVENT_TEXT_CHARS], prompt_chars=len(request.prompt),
                  depth=self.depth + 1, batch_index=request.batch_index,
                  batch_size=request.batch_size)
        started = time.monotonic()
        child = type(self)(self.owner, request.prompt, context, depth=self.depth + 1,
                        session_id=f"{node}.s", parent_id=node)
        outcome = await child.run()
        self.usage = self.usage + child.usage
        self.owner.ledger.sub_calls += 1
        error = None if outcome.status == "answered" else (outcome.reason or outcome.status)
        self.emit(ev.SubcallFinished, node, cell, model=spec.model,
                  response=(outcome.answer or "")[:EVENT_TEXT_CHARS], child_usage=child.usage,
                  latency_s=time.monotonic() - started, error=error)
        if error is not None:
            raise RuntimeError(f"the child RLM stopped without an answer: {error}")
        return outcome.answer or ""

