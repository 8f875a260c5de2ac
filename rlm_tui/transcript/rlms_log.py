"""Reading the trajectory logs of the reference library `rlms` (alexzhang13/rlm) as rlm-tui
events; writing them is `rlms_log_writer.py`.

What an rlms log holds, as its `RLMLogger` writes it (checked against rlms 0.1.1 and 0.1.3):
one JSON object per line; first `{"type": "metadata", "timestamp", "root_model", "max_depth",
"max_iterations", "backend", "backend_kwargs", "environment_type", "environment_kwargs",
"other_backends"}`, then one line per iteration `{"type": "iteration", "iteration" (1-based),
"timestamp" (local ISO time, written when the iteration ended), "prompt" (the message list
sent that turn), "response", "code_blocks": [{"code", "result": {"stdout", "stderr",
"locals", "execution_time", "rlm_calls", "final_answer"}}], "final_answer", "iteration_time"}`.
A call in `rlm_calls` is `{"root_model", "prompt", "response", "usage_summary":
{"model_usage_summaries": {model: {"total_calls", "total_input_tokens",
"total_output_tokens", "total_cost"?}}, "total_cost"?}, "execution_time", "metadata"?
(a child RLM's trajectory: {"run_metadata", "iterations"}), "error"?}`. Root-model calls carry
no usage. An exception in a code block is appended to its stderr as "\\n<Type>: <message>".

Reading converts a log into rlm-tui's event stream (`events_from_rlms_log`), so replay and
every export read it as they read a transcript.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from rlm_tui import events as ev
from rlm_tui.transcript.writer import FORMAT_NAME

ROOT_SESSION_ID = "rlms"

_CONTEXT_META = re.compile(r"Your context is a (\w+) (?:of|with) (\d+) total characters")
_ORIGINAL_QUERY = re.compile(r'original (?:query|prompt): "(.+?)"(?:\.|\s|$)', re.DOTALL)
_ANSWER_THE_FOLLOWING = re.compile(r"^Answer the following: (.*?)(?:\n\nYour context is|\Z)",
                                   re.DOTALL)
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)):"
                             r"(?: .*)?$")


def events_from_rlms_log(records: list[dict[str, Any]], *, complete: bool = True
                         ) -> tuple[dict[str, Any], list[ev.EventBase]]:
    """A transcript header and the event stream an rlms log describes.

    `complete` is False when the file was cut short: then the session has no end event, as a
    transcript of a killed run would not. Node ids follow the engine's scheme under the
    session id "rlms" (rlms.i1, rlms.i1.c1, rlms.i1.c1.q1, rlms.i1.c1.q1.s, ...).
    """
    meta = records[0] if records and records[0].get("type") == "metadata" else {}
    iterations = [r for r in records if r.get("type") != "metadata"]
    query = _question(iterations)
    context = _context_summary(iterations)
    run_meta = {k: v for k, v in meta.items() if k not in ("type", "timestamp")}
    created = _epoch(meta.get("timestamp")) or _first_start(iterations)
    header = {
        "type": "header", "format": FORMAT_NAME, "schema": ev.SCHEMA_VERSION,
        "created": created, "query": query,
        "settings": {"model": meta.get("root_model"), "max_iterations":
                     meta.get("max_iterations"), "max_depth": meta.get("max_depth"),
                     "rlms_metadata": run_meta},
        "context": context,
        "source_format": "rlms",
        "notes": ["converted from an rlms trajectory log; rlms records no token counts for "
                  "root-model calls, so the totals count sub-calls only"],
    }
    builder = _EventBuilder()
    _emit_session(builder, run_meta, iterations, query=query, session_id=ROOT_SESSION_ID,
                  parent_id=None, depth=0, context=context, complete=complete,
                  start=created or 0.0, reported=None)
    return header, builder.events


class _EventBuilder:
    def __init__(self) -> None:
        self.events: list[ev.EventBase] = []
        self.last_ts = 0.0

    def emit(self, cls: type[ev.EventBase], ts: float | None = None, **fields: Any) -> None:
        # timestamps never run backwards, whatever the log's clocks said
        self.last_ts = max(self.last_ts, ts or 0.0)
        self.events.append(cls(seq=len(self.events) + 1, ts=self.last_ts, **fields))


def _emit_session(b: _EventBuilder, run_meta: dict[str, Any], iterations: list[dict[str, Any]],
                  *, query: str, session_id: str, parent_id: str | None, depth: int,
                  context: dict[str, Any], complete: bool, start: float,
                  reported: ev.Usage | None) -> ev.Usage:
    """Emit one session's events; returns the usage of everything in it (its roll-up).

    `reported` is a child's usage as its parent's call recorded it: its root calls and its
    own sub-calls. What its sub-calls do not explain is booked on its last root call.
    """
    root_model = str(run_meta.get("root_model") or "unknown")
    max_iterations = _int(run_meta.get("max_iterations")) or len(iterations)
    sub_model = _first_call_model(iterations) or root_model
    sid = session_id
    b.emit(ev.SessionStarted, start, session_id=sid, node_id=sid, parent_id=parent_id,
           query=query, depth=depth, root_model=root_model, sub_model=sub_model,
           max_iterations=max_iterations, context=context)
    if depth == 0:  # the run's state, as the engine reports it
        b.emit(ev.StateChanged, start, session_id=sid, node_id=sid, state="running")
    remainder = _root_remainder(iterations, reported)
    total = ev.Usage()
    answer: str | None = None
    forced = False
    source = "FINAL"
    sub_calls = 0
    seconds = 0.0
    done_iterations = 0
    for position, it in enumerate(iterations, 1):
        number = _int(it.get("iteration")) or position
        blocks = [blk for blk in (it.get("code_blocks") or []) if isinstance(blk, dict)]
        it_time = _float(it.get("iteration_time"))
        exec_total = sum(_float(_result(blk).get("execution_time")) or 0.0 for blk in blocks)
        it_seconds = it_time if it_time is not None else exec_total
        end_ts = _epoch(it.get("timestamp"))
        it_start = (end_ts - it_seconds) if end_ts else b.last_ts
        is_forced = number > max_iterations
        node = f"{sid}.i{number}"
        b.emit(ev.IterationStarted, it_start, session_id=sid, node_id=node, parent_id=sid,
               iteration=number, max_iterations=max_iterations, forced=is_forced)
        if remainder is None:  # a root call whose usage rlms did not record
            usage = ev.Usage.of_call(0, 0, None)
        else:  # a child's root calls, known only as a sum: booked on its last turn
            usage = remainder if position == len(iterations) else ev.Usage()
        total = total + usage
        b.emit(ev.RootDone, it_start, session_id=sid, node_id=node, parent_id=sid,
               text=str(it.get("response") or ""), model=root_model, usage=usage,
               latency_s=max(0.0, it_seconds - exec_total))
        cell_ts = it_start + max(0.0, it_seconds - exec_total)
        for index, block in enumerate(blocks, 1):
            cell_ts, cell_usage, calls = _emit_cell(b, block, session_id=sid, iteration=node,
                                                    index=index, depth=depth, ts=cell_ts)
            total = total + cell_usage
            sub_calls += calls
        seconds += it_seconds
        if not is_forced:
            done_iterations = number
        final = it.get("final_answer")
        if final is not None:
            answer, source = _final(final, blocks)
            forced = is_forced
            if forced:
                source = "forced"
            break
    end = b.last_ts
    if answer is not None:
        b.emit(ev.FinalAnswer, end, session_id=sid, node_id=sid, parent_id=parent_id,
               answer=answer, forced=forced, source=source)
    if answer is not None or complete:
        status = "answered" if answer is not None else "halted"
        reason = None if answer is not None else (
            "the rlms log ends without a final answer (the run stopped early: an error, a "
            "budget or an interrupt)")
        b.emit(ev.SessionFinished, end, session_id=sid, node_id=sid, parent_id=parent_id,
               status=status, reason=reason, answer=answer, forced=forced,
               iterations=done_iterations, sub_calls=sub_calls, usage=total, seconds=seconds)
        if depth == 0:
            b.emit(ev.StateChanged, end, session_id=sid, node_id=sid,
                   state="done" if answer is not None else "halted", reason=reason)
    return total


def _emit_cell(b: _EventBuilder, block: dict[str, Any], *, session_id: str, iteration: str,
               index: int, depth: int, ts: float) -> tuple[float, ev.Usage, int]:
    cell = f"{iteration}.c{index}"
    result = _result(block)
    b.emit(ev.CellStarted, ts, session_id=session_id, node_id=cell, parent_id=iteration,
           index=index, code=str(block.get("code") or ""))
    total = ev.Usage()
    calls = 0
    for number, call in enumerate(result.get("rlm_calls") or [], 1):
        if not isinstance(call, dict):
            continue
        node = f"{cell}.q{number}"
        prompt = call.get("prompt")
        prompt_text = prompt if isinstance(prompt, str) else json.dumps(prompt,
                                                                         ensure_ascii=False)
        model = str(call.get("root_model") or "unknown")
        child = call.get("metadata")
        is_child = isinstance(child, dict) and isinstance(child.get("iterations"), list)
        latency = _float(call.get("execution_time")) or 0.0
        b.emit(ev.SubcallStarted, ts, session_id=session_id, node_id=node, parent_id=cell,
               kind="rlm" if is_child else "llm", model=model, prompt=prompt_text,
               prompt_chars=len(prompt_text), depth=depth + 1)
        usage = _call_usage(call)
        error = call.get("error")
        if is_child:
            child_meta = child.get("run_metadata") or {}
            child_iterations = [r for r in child["iterations"] if isinstance(r, dict)]
            rollup = _emit_session(
                b, child_meta if isinstance(child_meta, dict) else {}, child_iterations,
                query=prompt_text, session_id=f"{node}.s", parent_id=node, depth=depth + 1,
                context=_context_summary(child_iterations), complete=True, start=ts,
                reported=usage)
            total = total + rollup
            b.emit(ev.SubcallFinished, ts + latency, session_id=session_id, node_id=node,
                   parent_id=cell, model=model, response=str(call.get("response") or ""),
                   child_usage=rollup, latency_s=latency,
                   error=str(error) if error else None)
        else:
            total = total + usage
            b.emit(ev.SubcallFinished, ts + latency, session_id=session_id, node_id=node,
                   parent_id=cell, model=model, response=str(call.get("response") or ""),
                   usage=usage, latency_s=latency, error=str(error) if error else None)
        calls += 1
    stdout = str(result.get("stdout") or "")
    stderr = str(result.get("stderr") or "")
    error_line, error_kind = _error_from_stderr(stderr)
    seconds = _float(result.get("execution_time")) or 0.0
    final = result.get("final_answer")
    b.emit(ev.CellFinished, ts + seconds, session_id=session_id, node_id=cell,
           parent_id=iteration, stdout=stdout, stdout_total_chars=len(stdout), stderr=stderr,
           error=error_line, error_kind=error_kind, seconds=seconds,
           final_answer=None if final is None else str(final))
    return ts + seconds, total, calls


def _result(block: dict[str, Any]) -> dict[str, Any]:
    result = block.get("result")
    return result if isinstance(result, dict) else {}


def _call_usage(call: dict[str, Any]) -> ev.Usage:
    """A call's usage from its usage_summary (or the token fields rlm-tui's exports add)."""
    summary = call.get("usage_summary")
    per_model = summary.get("model_usage_summaries") if isinstance(summary, dict) else None
    if isinstance(per_model, dict) and per_model:
        prompt = completion = calls = 0
        cost: float | None = None
        for item in per_model.values():
            if not isinstance(item, dict):
                continue
            prompt += _int(item.get("total_input_tokens")) or 0
            completion += _int(item.get("total_output_tokens")) or 0
            calls += _int(item.get("total_calls")) or 0
            item_cost = _float(item.get("total_cost"))
            if item_cost is not None:
                cost = (cost or 0.0) + item_cost
        calls = max(calls, 1)
        return ev.Usage(prompt_tokens=prompt, completion_tokens=completion,
                        cost_usd=cost or 0.0, calls=calls,
                        unpriced_calls=calls if cost is None else 0)
    prompt_tokens = _int(call.get("prompt_tokens"))
    completion_tokens = _int(call.get("completion_tokens"))
    return ev.Usage.of_call(prompt_tokens or 0, completion_tokens or 0, None)


def _root_remainder(iterations: list[dict[str, Any]], reported: ev.Usage | None
                    ) -> ev.Usage | None:
    """A child's root-call usage: what its parent recorded minus its own sub-calls'."""
    if reported is None:
        return None
    sub = ev.Usage()
    for it in iterations:
        for block in it.get("code_blocks") or []:
            if not isinstance(block, dict):
                continue
            for call in _result(block).get("rlm_calls") or []:
                if isinstance(call, dict) and not isinstance(call.get("metadata"), dict):
                    sub = sub + _call_usage(call)
    cost = None if reported.unpriced_calls else max(0.0, (reported.cost_usd or 0.0)
                                                        - (sub.cost_usd or 0.0))
    return ev.Usage(prompt_tokens=max(0, reported.prompt_tokens - sub.prompt_tokens),
                    completion_tokens=max(0, reported.completion_tokens
                                          - sub.completion_tokens),
                    cost_usd=cost or 0.0, calls=max(1, reported.calls - sub.calls),
                    unpriced_calls=0 if cost is not None else max(1, reported.calls
                                                                  - sub.calls))


def _final(final: Any, blocks: list[dict[str, Any]]) -> tuple[str, str]:
    """The answer text and how it was given: FINAL, FINAL_VAR, answer["ready"], ..."""
    if isinstance(final, (list, tuple)) and len(final) == 2:  # older logs: [kind, value]
        return str(final[1]), str(final[0])
    for block in blocks:
        if _result(block).get("final_answer") is not None:
            code = str(block.get("code") or "")
            if "FINAL_VAR" in code:
                return str(final), "FINAL_VAR"
            if "answer[" in code:
                return str(final), 'answer["ready"]'
            return str(final), "code"
    return str(final), "FINAL"


def _error_from_stderr(stderr: str) -> tuple[str | None, str | None]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    if not lines:
        return None, None
    match = _EXCEPTION_LINE.match(lines[-1])
    if match is None:
        return None, None
    return lines[-1], match.group(1).rsplit(".", 1)[-1]


def _question(iterations: list[dict[str, Any]]) -> str:
    """The run's question, found where rlms puts it in the first prompt."""
    messages = _messages(iterations[0].get("prompt")) if iterations else []
    users = [m["content"] for m in messages if m.get("role") == "user"]
    for text in users:
        match = _ANSWER_THE_FOLLOWING.match(text)  # rlms 0.1.3
        if match:
            return match.group(1).strip()
    for text in users:
        match = _ORIGINAL_QUERY.search(text)  # rlms 0.1.1, and the visualizer's pattern
        if match:
            return match.group(1).strip()
    for text in users:  # the visualizer's fallback: a first substantial user message
        if 50 < len(text) < 500 and "answer the prompt" not in text:
            return text.strip()
    if iterations and isinstance(iterations[0].get("prompt"), str):
        return str(iterations[0]["prompt"])[:500]
    return ""


def _context_summary(iterations: list[dict[str, Any]]) -> dict[str, Any]:
    messages = _messages(iterations[0].get("prompt")) if iterations else []
    for message in messages:
        match = _CONTEXT_META.search(message.get("content", ""))
        if match:
            return {"kind": match.group(1), "chars": int(match.group(2))}
    return {}


def _messages(prompt: Any) -> list[dict[str, str]]:
    if not isinstance(prompt, list):
        return []
    return [{"role": str(m.get("role")), "content": str(m.get("content") or "")}
            for m in prompt if isinstance(m, dict)]


def _first_call_model(iterations: list[dict[str, Any]]) -> str | None:
    for it in iterations:
        for block in it.get("code_blocks") or []:
            if isinstance(block, dict):
                for call in _result(block).get("rlm_calls") or []:
                    if isinstance(call, dict) and call.get("root_model"):
                        return str(call["root_model"])
    return None


def _first_start(iterations: list[dict[str, Any]]) -> float | None:
    for it in iterations:
        ts = _epoch(it.get("timestamp"))
        if ts:
            return ts - (_float(it.get("iteration_time")) or 0.0)
    return None


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
