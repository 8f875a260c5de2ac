"""Fixed, deterministic event streams for the app's tests, snapshots and benchmarks: the
same events a run emits, with fixed ids and timestamps, fed straight into the app."""

from __future__ import annotations

from collections.abc import Iterator

from rlm_tui import events as ev

RUN = "run0001"
T0 = 1_700_000_000.0  # a fixed clock: elapsed times on screen never depend on the machine


class EventScript:
    """Builds one run's events in order; `ts` advances by `step` seconds per event."""

    def __init__(self, *, run: str = RUN, start: float = T0, step: float = 0.5,
                 max_iterations: int = 6) -> None:
        self.run = run
        self.ts = start
        self.step = step
        self.seq = 0
        self.max_iterations = max_iterations
        self.events: list[ev.EventBase] = []

    def emit(self, event_type: type[ev.EventBase], node_id: str, parent_id: str | None = None,
             *, session_id: str | None = None, **fields) -> ev.EventBase:
        self.seq += 1
        event = event_type(seq=self.seq, ts=self.ts, session_id=session_id or self.run,
                           node_id=node_id, parent_id=parent_id, **fields)
        self.ts += self.step
        self.events.append(event)
        return event

    def take(self) -> list[ev.EventBase]:
        taken, self.events = self.events, []
        return taken

    # -- pieces of a run ---------------------------------------------------------------------

    def start(self, query: str = "How does the sandbox stop a runaway cell?") -> None:
        self.emit(ev.SessionStarted, self.run, query=query, root_model="openai/root-model",
                  sub_model="openai/sub-model", max_iterations=self.max_iterations)
        self.state("running")

    def state(self, state: str, reason: str | None = None) -> None:
        self.emit(ev.StateChanged, self.run, state=state, reason=reason)

    def iteration(self, i: int, reply: str, *, tokens: tuple[int, int] = (1200, 80),
                  cost: float | None = 0.0012, chunks: int = 4, done: bool = True,
                  turn: int = 1, notes: tuple[str, ...] = ()) -> str:
        node = f"{self.run}.i{i}" if turn == 1 else f"{self.run}.t{turn}.i{i}"
        self.emit(ev.IterationStarted, node, self.run, iteration=i,
                  max_iterations=self.max_iterations, turn=turn)
        for note in notes:  # the person's, delivered before this iteration's call
            self.emit(ev.MessageAdded, node, self.run, role="user", kind="note",
                      content=note)
        for piece in split(reply, chunks):
            self.emit(ev.RootDelta, node, self.run, text=piece)
        if done:
            self.emit(ev.RootDone, node, self.run, text=reply, model="openai/root-model",
                      usage=ev.Usage.of_call(tokens[0], tokens[1], cost), latency_s=1.5)
        return node

    def cell(self, iteration: str, index: int, code: str, *, stdout: str = "",
             subcalls: int = 0, error: str | None = None, total_chars: int | None = None,
             final_answer: str | None = None, finished: bool = True) -> str:
        node = f"{iteration}.c{index}"
        self.emit(ev.CellStarted, node, iteration, index=index, code=code)
        for q in range(1, subcalls + 1):
            self.subcall(node, q, batch=(q - 1, subcalls))
        if finished:
            self.emit(ev.CellFinished, node, iteration, stdout=stdout,
                      stdout_total_chars=total_chars or len(stdout), error=error,
                      error_kind="NameError" if error else None, seconds=0.8,
                      final_answer=final_answer)
        return node

    def subcall(self, cell: str, q: int, *, batch: tuple[int, int] = (0, 1),
                tokens: tuple[int, int] = (300, 40), cost: float | None = 0.0003,
                finished: bool = True, error: str | None = None) -> str:
        node = f"{cell}.q{q}"
        self.emit(ev.SubcallStarted, node, cell, kind="llm", model="openai/sub-model",
                  prompt=f"Question: what stops a runaway cell?\n\nExcerpt {q}",
                  prompt_chars=52, depth=1, batch_index=batch[0], batch_size=batch[1])
        if finished:
            usage = ev.Usage() if error else ev.Usage.of_call(tokens[0], tokens[1], cost)
            self.emit(ev.SubcallFinished, node, cell, model="openai/sub-model",
                      response="" if error else f"the cell timeout (excerpt {q})", usage=usage,
                      latency_s=0.6, error=error)
        return node

    def coverage(self, files: dict[str, tuple[int, int, int]], total_bytes: int) -> None:
        """`files`: path -> (bytes, bytes read, bytes sent)."""
        per_file = {path: {"lines": 10, "bytes": size, "read": [], "sent": [],
                           "read_fraction": read / size, "sent_fraction": sent / size,
                           "bytes_read": read, "bytes_sent": sent}
                    for path, (size, read, sent) in files.items()}
        totals = {"bytes": total_bytes,
                  "bytes_read": sum(f[1] for f in files.values()),
                  "bytes_sent": sum(f[2] for f in files.values())}
        self.emit(ev.CoverageUpdated, self.run, None, coverage={"unit": "lines",
                                                                "totals": totals,
                                                                "files": per_file})

    def finish(self, answer: str | None, *, status: str = "answered", forced: bool = False,
               reason: str | None = None, turn: int = 1) -> None:
        if answer is not None:
            self.emit(ev.FinalAnswer, self.run, answer=answer, forced=forced, turn=turn)
        self.emit(ev.SessionFinished, self.run, status=status, answer=answer, forced=forced,
                  reason=reason, turn=turn)
        state = {"answered": "done", "halted": "halted", "failed": "failed"}[status]
        self.state(state, reason)


    # -- steering (issue 18) --------------------------------------------------------------

    def turn(self, turn: int, query: str) -> None:
        """A follow-up question: the session's turn `turn` begins."""
        self.emit(ev.TurnStarted, f"{self.run}.t{turn}", self.run, turn=turn, query=query,
                  max_iterations=self.max_iterations)
        self.state("running")

    def note(self, text: str) -> None:
        """The person queues a note (delivered with `iteration(..., notes=...)`)."""
        self.emit(ev.NoteAdded, self.run, text=text)

    def hold(self, cell: str, reason: str = "it calls FINAL (--approve final)") -> None:
        iteration = cell.rsplit(".", 1)[0]
        self.emit(ev.CellHeld, cell, iteration, reason=reason)
        self.state("held")

    def decide(self, cell: str, decision: str, code: str) -> None:
        iteration = cell.rsplit(".", 1)[0]
        self.emit(ev.CellDecided, cell, iteration, decision=decision, code=code)
        self.state("running")


def split(text: str, chunks: int) -> Iterator[str]:
    size = max(1, -(-len(text) // max(1, chunks)))
    for start in range(0, len(text), size):
        yield text[start:start + size]


REPLY_1 = """Let me look at the context first.

```repl
print(len(context), list(context)[:5])
```"""

REPLY_2 = """The sandbox lives in `sandbox/`. I will grep for the timeout and ask a sub-model.

```repl
hits = context.grep("cell_timeout")
notes = llm_query_batched([h["text"] for h in hits[:3]])
print(notes)
```"""

REPLY_3 = """Putting it together.

```repl
FINAL("A per-cell timeout: the host kills the worker after `cell_timeout` seconds.")
```"""

ANSWER = ("A per-cell **timeout**: the host interrupts the worker after `cell_timeout` "
          "seconds, and restarts it if it does not stop.")


def mid_run(script: EventScript) -> None:
    """Two iterations done, the third streaming, sub-calls in flight."""
    script.start()
    i1 = script.iteration(1, REPLY_1)
    script.cell(i1, 1, "print(len(context), list(context)[:5])",
                stdout="5 ['README.md', 'app.py', 'sandbox/host.py', 'sandbox/limits.py', "
                       "'util.py']\n")
    i2 = script.iteration(2, REPLY_2, tokens=(1500, 120))
    c2 = script.cell(i2, 1, 'hits = context.grep("cell_timeout")\nnotes = '
                            'llm_query_batched([h["text"] for h in hits[:3]])\nprint(notes)',
                     finished=False)
    script.subcall(c2, 1, batch=(0, 3))
    script.subcall(c2, 2, batch=(1, 3))
    script.subcall(c2, 3, batch=(2, 3), finished=False)
    script.coverage({"sandbox/host.py": (400, 200, 100), "sandbox/limits.py": (300, 300, 0)},
                    total_bytes=1200)
