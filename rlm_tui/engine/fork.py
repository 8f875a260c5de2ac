"""A fork: a new session that continues a recorded one from the state after iteration K.

The REPL is rebuilt by running the recorded cells of iterations 1..K again, in order, with
every sub-call answered from its recorded response and every host tool call from its recorded
result: no model call, no cost, no tool run again. A cell whose
output differs on the rebuild (time, randomness) is flagged (cell_finished.rebuild_differs)
and the fork goes on. The rebuilt iterations are reported like live ones, marked `rebuilt`,
with the recorded replies, so the fork's transcript replays and forks in turn. The root model
then sees the conversation up to K (and a person's note), and the session goes on live.
"""

from __future__ import annotations

from rlm_tui import events as ev
from rlm_tui.engine import prompts
from rlm_tui.engine.fork_plan import (
    ForkPlan,
    RecordedCall,
    RecordedCell,
    RecordedIteration,
    RecordedMessage,
    RecordedTool,
    RecordedTurn,
)
from rlm_tui.engine.run_context import Outcome
from rlm_tui.engine.session import EVENT_TEXT_CHARS, Session, SubcallHandler, ToolHandler
from rlm_tui.sandbox import CellResult, SubcallRequest, ToolCallError, ToolRequest
from rlm_tui.sandbox.tool_calls import ToolTimedOut

__all__ = ["ForkPlan", "continue_fork", "rebuild"]


async def continue_fork(session: Session, plan: ForkPlan, *, new_question: bool) -> Outcome:
    """Rebuild `session` (opened as a fork of `plan`) and go on: the rest of turn T from
    iteration K+1, or (`new_question`) end turn T there for a follow-up question."""

    async def rebuilt_then_live() -> Outcome:
        await rebuild(session, plan)
        if new_question:
            return Outcome("halted", iterations=plan.iteration,
                           reason=f"forked after iteration {plan.iteration} to ask a new "
                           "question")
        return await session.continue_turn(plan.iteration + 1)

    return await session.run_turn(rebuilt_then_live)


async def rebuild(session: Session, plan: ForkPlan) -> None:
    """Report and re-run the plan's turns and iterations in `session`: its REPL and its
    conversation end as the recorded ones were after iteration K."""
    await session.start_sandbox()
    last = plan.turns[-1]
    for turn in plan.turns:
        session.turn = turn.turn
        if turn.turn > 1:
            max_iterations = turn.iterations[0].max_iterations if turn.iterations else 0
            session.emit(ev.TurnStarted, f"{session.id}.t{turn.turn}", session.id,
                         turn=turn.turn, query=turn.query, max_iterations=max_iterations,
                         rebuilt=True, answer_schema=turn.schema)
        _opening(session, plan, turn.opening, turn.query)
        for iteration in turn.iterations:
            await _rebuild_iteration(session, plan, iteration,
                                     last=turn is last and iteration is turn.iterations[-1])
        if turn is not last:
            _turn_end(session, turn)


def _opening(session: Session, plan: ForkPlan, recorded: list[RecordedMessage],
             query: str) -> None:
    if plan.messages_recorded:
        for role, kind, content in recorded:
            session.conversation.add(session.id, role, kind, content)  # type: ignore[arg-type]
        return
    facts = session.facts  # an older transcript: the messages as the engine writes them
    session.conversation.add(session.id, "system", "system", prompts.system_prompt(facts))
    session.conversation.add(session.id, "user", "query", prompts.first_message(query, facts))


def _turn_end(session: Session, turn: RecordedTurn) -> None:
    """An earlier turn's end, as recorded (no run ends here)."""
    if turn.answer is not None:
        session.emit(ev.FinalAnswer, session.id, session.parent_id, answer=turn.answer,
                     forced=turn.forced, source=turn.source, turn=session.turn)
    session.emit(ev.SessionFinished, session.id, session.parent_id, status=turn.status,
                 reason=turn.reason, answer=turn.answer, forced=turn.forced,
                 iterations=turn.iterations_done, turn=session.turn, rebuilt=True)


async def _rebuild_iteration(session: Session, plan: ForkPlan, it: RecordedIteration, *,
                             last: bool) -> None:
    node = session.iteration_node(it.iteration)
    session.iterations = it.iteration
    session.emit(ev.IterationStarted, node, session.id, iteration=it.iteration,
                 max_iterations=it.max_iterations, turn=it.turn, rebuilt=True,
                 forced=it.forced)
    for role, kind, content in it.before:
        session.conversation.add(node, role, kind, content)  # type: ignore[arg-type]
    for summary, replaced in it.compactions:  # as the record has it: no summary call
        await session.compactor.replay(summary, replaced)
        session.emit(ev.Compacted, node, session.id, count=session.compactor.count,
                     replaced=replaced, summary=summary, rebuilt=True)
    reply = it.reply or ""
    session.emit(ev.RootDone, node, session.id, text=reply, model=it.model,
                 usage=ev.Usage(), latency_s=0.0, finish_reason=it.finish_reason)
    session.conversation.reply(reply, node)
    outputs = [await _rebuild_cell(session, node, cell) for cell in it.cells]
    for answer, errors, source in it.rejections:  # sent back then: the record says so
        session.emit(ev.AnswerRejected, node, session.id, answer=answer, errors=errors,
                     source=source, turn=it.turn, rebuilt=True)
    if plan.messages_recorded and it.after:
        for role, kind, content in it.after:
            session.conversation.add(node, role, kind, content)  # type: ignore[arg-type]
    elif it.after or last or not plan.messages_recorded:
        # What the model was (or, for the iteration that ended its turn, would have been)
        # told: iteration K must end with its output for the conversation to go on.
        if outputs:
            text = prompts.output_message(outputs, it.iteration, it.max_iterations)
            session.conversation.add(node, "user", "output", text)
        else:
            text = prompts.no_code_message(it.iteration, it.max_iterations)
            session.conversation.add(node, "user", "no_code", text)


async def _rebuild_cell(session: Session, node: str, cell: RecordedCell) -> str:
    """Re-run one recorded cell (its sub-calls answered from the record); the output as the
    model is told it."""
    cell_id = f"{node}.c{cell.index}"
    session.emit(ev.CellStarted, cell_id, node, index=cell.index, code=cell.code)
    if cell.decision in ("edited", "skipped"):
        session.emit(ev.CellDecided, cell_id, node, decision=cell.decision, code=cell.ran)
    if cell.skipped:
        session.emit(ev.CellFinished, cell_id, node, skipped=True)
        return prompts.skipped_output()
    flags: list[str] = []
    result = await session.run_cell(cell.ran, cell_id, node,
                                    on_subcall=_recorded_answers(session, cell_id, cell, flags),
                                    on_tool=_recorded_tools(session, cell_id, cell, flags),
                                    compare=lambda r: _differs(cell, r, flags))
    shown = result.for_model(session.owner.settings.model_output_chars)
    return prompts.edited_output(cell.ran, shown) if cell.decision == "edited" else shown


def _recorded_answers(session: Session, cell_id: str, cell: RecordedCell,
                      flags: list[str]) -> SubcallHandler:
    """Answer the cell's sub-calls from their recorded responses: the same prompt first (a
    batch may come in any order), else the next one recorded."""
    pending = list(cell.calls)

    def pick(prompt: str) -> RecordedCall | None:
        shown = prompt[:EVENT_TEXT_CHARS]
        for match in (lambda c: c.prompt == shown, lambda c: c.prompt.startswith(shown)):
            for index, call in enumerate(pending):
                if match(call):
                    return pending.pop(index)
        if pending:
            flags.append("a sub-call's prompt differs from the recorded one")
            return pending.pop(0)
        flags.append("it made a sub-call the recorded run did not")
        return None

    async def answer(request: SubcallRequest) -> str:
        call = pick(request.prompt)
        node = f"{cell_id}.q{session._next(cell_id)}"
        model = call.model if call is not None else ""
        session.emit(ev.SubcallStarted, node, cell_id, kind=request.kind, model=model,
                     prompt=request.prompt[:EVENT_TEXT_CHARS], prompt_chars=len(request.prompt),
                     depth=session.depth + 1, batch_index=request.batch_index,
                     batch_size=request.batch_size)
        error = "no recorded response" if call is None else call.error
        session.emit(ev.SubcallFinished, node, cell_id, model=model,
                     response=call.response if call is not None else "", usage=ev.Usage(),
                     error=error)
        if session.context.coverage is not None:
            session.owner.sent_prompts.append(request.prompt)
        if error is not None:
            raise RuntimeError(error)  # the code sees "Error: ...", as it did
        assert call is not None
        return call.response

    return answer


def _recorded_tools(session: Session, cell_id: str, cell: RecordedCell,
                    flags: list[str]) -> ToolHandler:
    """Answer the cell's tool calls from their recorded results, never by running the tool:
    the same name and arguments first, else the next call of that name recorded."""
    pending = list(cell.tools)

    def pick(request: ToolRequest) -> RecordedTool | None:
        for match in (lambda t: t.name == request.name and t.arguments == request.arguments,
                      lambda t: t.name == request.name):
            for index, tool in enumerate(pending):
                if match(tool):
                    if tool.arguments != request.arguments:
                        flags.append(f"a call of the tool {request.name} has other "
                                     "arguments than the recorded one")
                    return pending.pop(index)
        flags.append(f"it called the tool {request.name}, which the recorded run did not")
        return None

    async def answer(request: ToolRequest) -> str:
        tool = pick(request)
        node = session.tool_node(cell_id)
        session.emit(ev.ToolStarted, node, cell_id, name=request.name,
                     arguments=request.arguments, arguments_chars=len(request.arguments))
        error = "no recorded result" if tool is None else tool.error
        result = tool.result if tool is not None and error is None else ""
        session.emit(ev.ToolFinished, node, cell_id, name=request.name, result=result,
                     result_chars=len(result), error=error, recorded=True)
        if error == str(ToolTimedOut(request.name)):
            raise ToolTimedOut(request.name)  # the cell's time ran out in it, as it did
        if error is not None:
            raise ToolCallError(error)  # the code sees the message, as it did
        return result

    return answer


def _differs(cell: RecordedCell, result: CellResult,
             flags: list[str]) -> str | None:
    """How the rebuilt cell's output differs from the recorded one's, or None."""
    found = list(flags)
    if (result.error or None) != (cell.error or None):
        found.append("its error differs" if result.error and cell.error else
                     "it failed this time" if result.error else "it failed when recorded")
    elif result.stdout != cell.stdout:
        found.append(_first_difference(cell.stdout, result.stdout))
    return "; ".join(found) or None


def _first_difference(recorded: str, now: str) -> str:
    old, new = recorded.splitlines(), now.splitlines()
    for number, (a, b) in enumerate(zip(old, new), 1):
        if a != b:
            return (f"its output differs at line {number}: recorded {_short(a)!r}, "
                    f"now {_short(b)!r}")
    return (f"its output has {len(new)} lines, {len(old)} when recorded"
            if len(new) != len(old) else "its output differs")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"

