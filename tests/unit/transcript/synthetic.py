"""Synthetic event streams shaped like the engine's (node ids, order, usage rule), for tests
of the fold and the exports, and for bench/bench_export.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rlm_tui import events as ev
from rlm_tui.printable import escape_json_controls
from rlm_tui.transcript.writer import FORMAT_NAME

HOSTILE = ('</pre></details><script>alert("x")</script><img src=x onerror=alert(1)>'
           "<a href='javascript:alert(2)'>click</a> ~~~ ``` ]]> <!-- --> {{x}} & &amp;")


class Stream:
    """Builds events in order, stamping seq and a steady clock as the bus would."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.events: list[ev.EventBase] = []
        self.clock = start

    def emit(self, cls: type[ev.EventBase], **fields: Any) -> ev.EventBase:
        self.clock += 0.01
        event = cls(seq=len(self.events) + 1, ts=self.clock, **fields)
        self.events.append(event)
        return event


def synthetic_events(iterations: int = 5, *, subcalls_per_cell: int = 2, child_every: int = 0,
                     error_every: int = 0, text: str = "", session_id: str = "s1",
                     answer: str | None = "the answer", forced: bool = False,
                     parallel: bool = False) -> list[ev.EventBase]:
    """A root session of `iterations` turns, one cell each with `subcalls_per_cell` sub-calls;
    every `child_every`-th turn one of them is a child session, every `error_every`-th cell
    raises. `text` is mixed into every model-written string (e.g. HOSTILE). `parallel`: a
    cell's sub-calls all start before any finishes, as `llm_query_batched` runs them."""
    s = Stream()
    _session(s, session_id, None, 0, f"What does the code do? {text}", iterations,
             subcalls_per_cell, child_every, error_every, text, answer, forced, parallel)
    s.emit(ev.StateChanged, session_id=session_id, node_id=session_id,
           state="done" if answer is not None else "halted",
           reason=None if answer is not None else "halted by the user")
    return s.events


def _session(s: Stream, sid: str, parent: str | None, depth: int, query: str, iterations: int,
             per_cell: int, child_every: int, error_every: int, text: str,
             answer: str | None, forced: bool, parallel: bool = False) -> ev.Usage:
    s.emit(ev.SessionStarted, session_id=sid, node_id=sid, parent_id=parent, query=query,
           depth=depth, root_model="root-model", sub_model="sub-model",
           max_iterations=iterations, context={"files": 3, "chars": 1234})
    total = ev.Usage()
    sub_calls = 0
    for n in range(1, iterations + 1):
        node = f"{sid}.i{n}"
        is_forced = forced and n == iterations
        s.emit(ev.IterationStarted, session_id=sid, node_id=node, parent_id=sid, iteration=n,
               max_iterations=iterations, forced=is_forced)
        reply = (f"Turn {n}: looking at the files. {text}\n\n```repl\nprint(len(context))"
                 f"  # {text}\n```\n")
        half = len(reply) // 2
        s.emit(ev.RootDelta, session_id=sid, node_id=node, parent_id=sid, text=reply[:half])
        s.emit(ev.RootDelta, session_id=sid, node_id=node, parent_id=sid, text=reply[half:])
        usage = ev.Usage.of_call(1000 + n, 50 + n, 0.0001 * n)
        total = total + usage
        s.emit(ev.RootDone, session_id=sid, node_id=node, parent_id=sid, text=reply,
               model="root-model", usage=usage, latency_s=0.5)
        if is_forced:
            break
        cell = f"{node}.c1"
        s.emit(ev.CellStarted, session_id=sid, node_id=cell, parent_id=node, index=1,
               code=f"print(len(context))  # {text}")
        for q in range(1, per_cell + 1):
            call = f"{cell}.q{q}"
            child = child_every and n % child_every == 0 and q == 1
            if not parallel or q == 1:
                for started in (range(q, per_cell + 1) if parallel else (q,)):
                    is_child = child_every and n % child_every == 0 and started == 1
                    s.emit(ev.SubcallStarted, session_id=sid, node_id=f"{cell}.q{started}",
                           parent_id=cell, kind="rlm" if is_child else "llm",
                           model="sub-model", prompt=f"Summarise part {started} {text}",
                           prompt_chars=20 + len(text), depth=depth + 1,
                           batch_index=started - 1, batch_size=per_cell)
            if child:
                child_usage = _session(s, f"{call}.s", call, depth + 1, f"sub-question {text}",
                                       1, 1, 0, 0, text, "child answer", False)
                total = total + child_usage
                s.emit(ev.SubcallFinished, session_id=sid, node_id=call, parent_id=cell,
                       model="sub-model", response=f"child answer {text}",
                       child_usage=child_usage, latency_s=1.0)
            else:
                call_usage = ev.Usage.of_call(200, 20, 0.00002)
                total = total + call_usage
                s.emit(ev.SubcallFinished, session_id=sid, node_id=call, parent_id=cell,
                       model="sub-model", response=f"part {q} does things {text}",
                       usage=call_usage, latency_s=0.2)
            sub_calls += 1
        failed = error_every and n % error_every == 0
        final = answer if (n == iterations and answer is not None) else None
        s.emit(ev.CellFinished, session_id=sid, node_id=cell, parent_id=node,
               stdout=f"{n * 100}\n{text}\n", stdout_total_chars=len(text) + 10,
               stderr="", error=f"NameError: name 'x' is not defined {text}" if failed else None,
               error_kind="NameError" if failed else None, seconds=0.05, final_answer=final)
    if answer is not None:
        s.emit(ev.FinalAnswer, session_id=sid, node_id=sid, parent_id=parent, answer=answer,
               forced=forced)
    s.emit(ev.SessionFinished, session_id=sid, node_id=sid, parent_id=parent,
           status="answered" if answer is not None else "halted",
           reason=None if answer is not None else "halted by the user", answer=answer,
           forced=forced, iterations=iterations, sub_calls=sub_calls if depth == 0 else 0,
           usage=total, seconds=12.5)
    return total


def header(query: str = "What does the code do?") -> dict[str, Any]:
    return {"type": "header", "format": FORMAT_NAME, "schema": ev.SCHEMA_VERSION,
            "created": 1_800_000_000.0, "query": query,
            "settings": {"model": "root-model", "max_iterations": 30, "max_depth": 2},
            "context": {"files": 3, "chars": 1234}, "pid": 1}


def transcript_bytes(events: list[ev.EventBase], head: dict[str, Any] | None = None) -> bytes:
    """The bytes TranscriptWriter would write for these events."""
    lines = [json.dumps(head or header(), ensure_ascii=False)]
    lines += [event.model_dump_json() for event in events]
    return (escape_json_controls("\n".join(lines)) + "\n").encode("utf-8")


def write_transcript(path: Path, events: list[ev.EventBase],
                     head: dict[str, Any] | None = None) -> Path:
    path.write_bytes(transcript_bytes(events, head))
    return path
