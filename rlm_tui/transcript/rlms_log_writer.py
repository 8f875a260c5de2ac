"""Writing a folded session as a trajectory log of the reference library `rlms`
(alexzhang13/rlm), which rlms' web visualizer opens; the format is described in
`rlms_log.py`, which reads it.

What writing approximates, because a transcript does not record it:
- `prompt`: rlm-tui's system prompt and exact turn messages are not in the transcript. Each
  iteration's prompt is rebuilt as: a system message saying so, a first user message with
  the question (as `original query: "..."`, which the visualizer shows) and the context
  summary, then per earlier turn the model's reply and a user message with that turn's cell
  output. Past 64 messages the middle is left out, with a message saying how many.
- `locals`: variables are not recorded: always {}.
- `iteration_time`: the root call's latency plus its cells' running time.
- `prompt_tokens` / `completion_tokens` (which the visualizer reads but rlms does not write)
  are added on every call; for a child session they are its roll-up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from rlm_tui import events as ev
from rlm_tui.printable import escape_json_controls
from rlm_tui.transcript.model import (
    CellNode,
    IterationNode,
    SessionModel,
    SessionNode,
    SubCallNode,
)

# The first two messages and the last this many are kept in each exported prompt.
HISTORY_WINDOW = 64


def render_rlms_log(model: SessionModel) -> str:
    """The session as an rlms log: a metadata line, then one line per root iteration."""
    return "".join(escape_json_controls(line) + "\n" for line in rlms_log_lines(model))


def rlms_log_lines(model: SessionModel) -> Iterator[str]:
    root = model.root
    created = model.header.get("created") or (root.started_ts if root else 0.0)
    meta = dict(_run_metadata(model, root))
    yield json.dumps({"type": "metadata", "timestamp": _iso(created), **meta},
                     ensure_ascii=False)
    if root is None:
        return
    messages = _MessageLog(root, model)
    # rlms numbers iterations through the run: follow-up questions (turns) go on counting.
    for number, iteration in enumerate(root.iterations, 1):
        messages.before(iteration, root)
        prompt = messages.prompt_json()
        body = _iteration_body(iteration, root, model)
        head = (f'{{"type": "iteration", "iteration": {number}, '
                f'"timestamp": {json.dumps(body.pop("_timestamp"))}, "prompt": {prompt}, ')
        yield head + json.dumps(body, ensure_ascii=False)[1:]
        messages.add_turn(iteration)


def _run_metadata(model: SessionModel, session: SessionNode | None) -> dict[str, Any]:
    settings = model.settings
    kept = settings.get("rlms_metadata")
    if isinstance(kept, dict) and kept:  # a converted rlms log keeps its own
        return kept
    root_model = session.root_model if session else settings.get("model") or "unknown"
    sub_model = session.sub_model if session else settings.get("sub_model")
    return {
        "root_model": root_model,
        "max_depth": settings.get("max_depth") or 1,
        "max_iterations": session.max_iterations if session else
        settings.get("max_iterations") or 0,
        "backend": "rlm-tui",
        "backend_kwargs": {"model_name": root_model, "sub_model": sub_model},
        "environment_type": "rlm-tui",
        "environment_kwargs": {k: settings[k] for k in ("cell_timeout", "memory_mb")
                               if k in settings},
        "other_backends": None,
    }


def _iteration_body(iteration: IterationNode, session: SessionNode,
                    model: SessionModel) -> dict[str, Any]:
    seconds = iteration.latency_s + sum(cell.seconds for cell in iteration.cells)
    final = None
    last_of_turn = [it for it in session.iterations if it.turn == iteration.turn][-1]
    if iteration is last_of_turn:
        turn = next((t for t in session.turns if t.turn == iteration.turn), None)
        final = turn.answer if turn is not None else session.answer
    return {
        "_timestamp": _iso(iteration.started_ts + seconds),
        "response": iteration.text,
        "code_blocks": [_code_block(cell, model) for cell in iteration.cells],
        "final_answer": final,
        "iteration_time": seconds,
    }


def _code_block(cell: CellNode, model: SessionModel) -> dict[str, Any]:
    stderr = cell.stderr
    if cell.error and cell.error not in stderr:
        stderr = f"{stderr}\n{cell.error}" if stderr else f"\n{cell.error}"
    return {"code": cell.code, "result": {
        "stdout": cell.stdout, "stderr": stderr, "locals": {},
        "execution_time": cell.seconds,
        "rlm_calls": [_call(call, model) for call in cell.subcalls],
        "final_answer": cell.final_answer,
    }}


def _call(call: SubCallNode, model: SessionModel) -> dict[str, Any]:
    usage = call.rollup
    out: dict[str, Any] = {
        "root_model": call.model,
        "prompt": call.prompt,
        "response": call.response,
        "usage_summary": _usage_summary(call.model, usage),
        "execution_time": call.latency_s,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
    }
    if call.child is not None:
        out["metadata"] = _trajectory(call.child, model)
    if call.error:
        out["error"] = call.error
    return out


def _trajectory(session: SessionNode, model: SessionModel) -> dict[str, Any]:
    """A child session as rlms attaches one to its call: run metadata and iterations."""
    messages = _MessageLog(session, model)
    iterations = []
    for iteration in session.iterations:
        messages.before(iteration, session)
        body = _iteration_body(iteration, session, model)
        iterations.append({"type": "iteration", "iteration": iteration.iteration,
                           "timestamp": body.pop("_timestamp"),
                           "prompt": json.loads(messages.prompt_json()), **body})
        messages.add_turn(iteration)
    meta = _run_metadata(model, session)
    meta["root_model"] = session.root_model
    meta["max_iterations"] = session.max_iterations
    if isinstance(meta.get("backend_kwargs"), dict):
        meta["backend_kwargs"] = {**meta["backend_kwargs"], "model_name": session.root_model}
    return {"run_metadata": meta, "iterations": iterations}


def _usage_summary(model_name: str, usage: ev.Usage) -> dict[str, Any]:
    priced = usage.unpriced_calls == 0
    per_model: dict[str, Any] = {"total_calls": usage.calls,
                                 "total_input_tokens": usage.prompt_tokens,
                                 "total_output_tokens": usage.completion_tokens}
    if priced and usage.cost_usd:
        per_model["total_cost"] = usage.cost_usd
    out: dict[str, Any] = {"model_usage_summaries": {model_name: per_model}}
    if "total_cost" in per_model:
        out["total_cost"] = per_model["total_cost"]
    return out


class _MessageLog:
    """The message history of a session, rebuilt turn by turn (see the module docstring);
    each message is serialised once so a long session stays linear to write."""

    def __init__(self, session: SessionNode, model: SessionModel) -> None:
        system = ("[rlm-tui export: rlm-tui does not keep its system prompt in transcripts; "
                  f"this one is a stand-in.] Root model: {session.root_model}; sub-model: "
                  f"{session.sub_model}; up to {session.max_iterations} turns.")
        context = session.context or model.context
        summary = ", ".join(f"{k}: {v}" for k, v in context.items()
                            if isinstance(v, (str, int, float)))
        quoted = (f'original query: "{session.query}"' if '"' not in session.query
                  else f"original query: {session.query}")
        first = (f"{quoted}\n\nThe context (metadata only; the text is in `context`): "
                 f"{summary or 'not described'}")
        self._head = [_message("system", system), _message("user", first)]
        self._turns: list[str] = []

    def prompt_json(self) -> str:
        turns = self._turns
        if len(turns) > HISTORY_WINDOW:
            left_out = len(turns) - HISTORY_WINDOW
            note = _message("user", f"[rlm-tui export: {left_out} earlier messages left out "
                            "of this prompt; they are in the earlier iterations' prompts]")
            turns = [note] + turns[-HISTORY_WINDOW:]
        return "[" + ", ".join(self._head + turns) + "]"

    def before(self, iteration: IterationNode, session: SessionNode) -> None:
        """A follow-up question that starts a turn, and a person's notes, before the call."""
        first_of_turn = next(it for it in session.iterations if it.turn == iteration.turn)
        if iteration.turn > 1 and iteration is first_of_turn:
            query = next((t.query for t in session.turns if t.turn == iteration.turn), "")
            self._turns.append(_message("user", f"Follow-up question: {query}"))
        for note in iteration.notes:
            self._turns.append(_message("user", f"Note from the person watching: {note}"))

    def add_turn(self, iteration: IterationNode) -> None:
        self._turns.append(_message("assistant", iteration.text))
        if iteration.cells:
            self._turns.append(_message("user", _cells_output(iteration.cells)))
        elif not iteration.forced:
            self._turns.append(_message("user", "No ```repl block ran. Write code to make "
                                        "progress, or finish with FINAL(...)."))


def _cells_output(cells: list[CellNode]) -> str:
    parts = []
    for cell in cells:
        text = cell.stdout
        if cell.stderr:
            text += ("\n" if text else "") + cell.stderr
        if cell.error and cell.error not in cell.stderr:
            text += ("\n" if text else "") + cell.error
        label = f"[cell {cell.index}]" if len(cells) > 1 else "[output]"
        parts.append(f"{label}\n{text or '(no output)'}")
    return "REPL output:\n" + "\n\n".join(parts)


def _message(role: str, content: str) -> str:
    return json.dumps({"role": role, "content": content}, ensure_ascii=False)


def _iso(ts: float | None) -> str:
    try:
        return datetime.fromtimestamp(ts or 0.0).isoformat()
    except (OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(0).isoformat()
