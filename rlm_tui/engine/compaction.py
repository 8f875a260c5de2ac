"""Compaction of a session's conversation: a long run that would outgrow its model's window.

Before each root request the conversation's size is estimated (the server's last reported
prompt tokens, plus what was added since by the rule of units.CHARS_PER_TOKEN). Past
`compact_at` of the window (settings.root_window for the root, else the price map's
max_input_tokens; unknown: no compaction, said once) the root model is asked once for a
summary of the older iterations (a metered call the budgets count), and those messages give
way to it, as rlms compacts: the system prompt and the first question stay, and so does the
newest exchange (the last reply and what followed it). Every message so far goes into the
REPL as the variable `history`; the REPL's own variables are untouched. A server that refuses
a prompt for its length triggers one compaction and a retry instead of ending the run.

Each compaction is a `compacted` event, so the transcript knows where it happened and what
it replaced, and a fork past it replays it from the record (`replay`), with no model call.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from rlm_tui import events as ev
from rlm_tui.engine import prompts
from rlm_tui.lm import ModelCallError
from rlm_tui.lm.completion import estimated_tokens
from rlm_tui.lm.demo import is_demo
from rlm_tui.lm.price_map import model_window

KEPT_OPENING = 2  # the system prompt and the first question
_ITERATION = re.compile(r"\.i(\d+)$")
# The window as a refusal states it (OpenAI and servers that copy its message).
_STATED_WINDOW = re.compile(r"maximum context length is ([\d,]+) tokens", re.IGNORECASE)


class Compactor:
    """One session's compactions: when to compact, the summary call, the replacement."""

    def __init__(self, session: Any) -> None:
        self.session = session  # engine.session.Session
        self.count = 0
        self._reported: tuple[int, int] | None = None  # (prompt tokens, messages) last sent
        self._said_unknown = False
        self._stated: int | None = None  # the window a refusal stated, when none was known
        self._question: str | None = None  # a follow-up question a summary replaced

    @property
    def share(self) -> float:
        return float(self.session.owner.settings.compact_at)

    def window(self) -> int | None:
        session = self.session
        if session.depth == 0 and session.owner.settings.root_window:
            return int(session.owner.settings.root_window)
        return model_window(session.owner.spec(session.depth).model) or self._stated

    def estimate(self, messages: list[dict[str, str]]) -> int:
        """The conversation's tokens: the server's last count and an estimate of the rest."""
        if self._reported is not None and self._reported[1] <= len(messages):
            tokens, sent = self._reported
            return tokens + estimated_tokens(messages[sent:], 0)[0]
        return estimated_tokens(messages, 0)[0]

    def observe(self, usage: ev.Usage, sent: int) -> None:
        """A root call came back: its prompt's count, as the server reported it."""
        if usage.reported and usage.prompt_tokens:
            self._reported = (usage.prompt_tokens, sent)

    async def before_call(self, node: str) -> None:
        """Compact first when the next request would pass compact_at of the window."""
        if self.share <= 0:
            return
        window = self.window()
        if window is None:
            if not self._said_unknown and not is_demo(self.session.owner.spec(0).model):
                self._said_unknown = True
                session = self.session
                session.emit(ev.Compacted, node, session.id, reason="no_window",
                             model=session.owner.spec(session.depth).model)
            return
        if self.estimate(self.session.conversation.messages) > self.share * window:
            await self.compact(node, "threshold", window)

    async def after_refusal(self, node: str, exc: ModelCallError) -> bool:
        """A request refused for its length: compact (once) so that the caller retries."""
        if exc.kind != "context_window" or self.share <= 0:
            return False
        stated = _STATED_WINDOW.search(str(exc))
        if stated is not None and self.window() is None:  # compact ahead of it from now on
            self._stated = int(stated.group(1).replace(",", ""))
        return await self.compact(node, "context_window", self.window(), refused=True)

    async def compact(self, node: str, reason: str, window: int | None, *,
                      refused: bool = False) -> bool:
        """Replace the older iterations by the root model's summary; False when there is
        nothing older to replace."""
        session = self.session
        conversation = session.conversation
        messages = conversation.messages
        end = _newest_exchange(messages)
        if end <= KEPT_OPENING or not any(conversation.nodes[KEPT_OPENING:end]):
            return False  # nothing older, or only the last summary: nothing to gain
        before = self.estimate(messages)
        request = _summary_request(messages, window, self.share, before if refused else None)
        summary, usage, model, latency = await self._summary_call(node, request)
        self.count += 1
        replaced, kept = end - KEPT_OPENING, len(messages) - end
        iterations = _iterations(conversation.nodes[KEPT_OPENING:end])
        self._apply(summary, replaced, end)
        try:
            await set_history(session, conversation.history)
        finally:  # recorded even when a halt lands here (the summary's tokens passed a budget)
            after = self.estimate(conversation.messages)
            session.emit(ev.Compacted, node, session.id, reason=reason, count=self.count,
                         replaced=replaced, kept=kept,
                         first_iteration=iterations[0] if iterations else None,
                         last_iteration=iterations[-1] if iterations else None,
                         tokens_before=before, tokens_after=after, window=window,
                         summary=summary, model=model, usage=usage, latency_s=latency)
        return True

    async def _summary_call(self, node: str,
                            request: list[dict[str, str]]) -> tuple[str, ev.Usage, str, float]:
        session = self.session
        spec = session.owner.spec(session.depth)
        meter, spec = session._metered(spec, request)
        started = time.perf_counter()
        try:
            done = await session.owner.client.complete(spec, request, on_delta=meter.add)
        except asyncio.CancelledError:
            usage = session._stopped_usage(meter, spec, request)
            session.emit(ev.Compacted, node, session.id, reason="threshold", summary="",
                         model=spec.model, usage=usage, count=self.count)
            raise
        except ModelCallError:
            meter.done()
            raise
        meter.done()
        session._account(done.usage, sub_call=False)
        return done.text.strip(), done.usage, done.model, time.perf_counter() - started

    async def replay(self, summary: str, replaced: int) -> None:
        """A fork's copy of a recorded compaction: the same replacement, no model call."""
        self.count += 1
        self._apply(summary, replaced, KEPT_OPENING + replaced)
        await set_history(self.session, self.session.conversation.history)

    def _apply(self, summary: str, replaced: int, end: int) -> None:
        """Messages [2, end) give way to the summary and a note of what happened; a
        follow-up question among them (a later turn's) is said again in the note."""
        conversation = self.session.conversation
        asked = [i for i, node in enumerate(conversation.nodes)
                 if i >= KEPT_OPENING and node == self.session.id]
        if asked and asked[-1] >= end:  # in the newest exchange, which stays
            self._question = None
        elif asked:
            self._question = conversation.messages[asked[-1]]["content"]
        note = prompts.compacted_message(self.count, replaced)
        if self._question is not None:
            note += f"\n\nThe question in hand, as it was asked:\n\n{self._question}"
        conversation.compact(KEPT_OPENING, end, [{"role": "assistant", "content": summary},
                                                 {"role": "user", "content": note}])
        self._reported = None


async def set_history(session: Any, history: list[dict[str, str]]) -> None:
    """The REPL variable `history`: every message so far (its other variables stay)."""
    await session.start_sandbox()
    plain = [{"role": m["role"], "content": m["content"]} for m in history]
    result = await session.sandbox.run_cell(f"history = {plain!r}")  # 4 MB: ~0.3 s
    if result.error:  # the model's code shadowed something: say so where it will look
        raise RuntimeError(f"compaction could not set `history` in the REPL: {result.error}")


def _newest_exchange(messages: list[dict[str, str]]) -> int:
    """Where the newest exchange starts: the last reply (0 when there is none)."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "assistant":
            return index
    return 0


def _summary_request(messages: list[dict[str, str]], window: int | None, share: float,
                     refused_at: int | None) -> list[dict[str, str]]:
    """The conversation and the request for a summary; the oldest iterations dropped from
    it if it would not fit (below compact_at of the window, or half what was refused)."""
    ask = {"role": "user", "content": prompts.summary_request()}
    limit = None
    if refused_at is not None:
        limit = int(share * window) if window else refused_at // 2
    opening, rest = messages[:KEPT_OPENING], list(messages[KEPT_OPENING:])
    while limit is not None and len(rest) > 1 and \
            estimated_tokens([*opening, *rest, ask], 0)[0] > limit:
        rest.pop(0)
    return [*opening, *rest, ask]


def _iterations(nodes: list[str]) -> list[int]:
    found = (_ITERATION.search(node) for node in nodes)
    return sorted({int(m.group(1)) for m in found if m})
