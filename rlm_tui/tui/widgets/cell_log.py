"""Pane 3: every code cell the run executed, highlighted, with what it printed, its error
and its duration."""

from __future__ import annotations


from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.content import Content
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from rlm_tui import events as ev
from rlm_tui.printable import printable
from rlm_tui.units import count_of, format_duration
from rlm_tui.tui.relay import SessionBatch

# A cell may print 10 MB (the sandbox keeps 1,000,000 characters); a pane shows the head.
OUTPUT_LINES = 80
OUTPUT_CHARS = 4_000
PLACEHOLDER = "Each code cell the model runs appears here, with its output."
# Cells kept in the pane, the newest: more would make every repaint lay them all out (a
# 1,000-iteration session); the Calls pane keeps every cell.
MAX_CELLS = 50


def describe_cell(node_id: str) -> str:
    """'iteration 2 · cell 1', 'turn 2 · iteration 1 · cell 1' for a follow-up question's, or
    for a child session's cell the path to it: 'iteration 2 · cell 1 › q1 › iteration 1 ·
    cell 1'."""
    parts: list[str] = []
    turn = ""
    for piece in node_id.split(".")[1:]:
        kind, number = piece[:1], piece[1:]
        if kind == "t" and number.isdigit():
            turn = f"turn {number} · "
        elif kind == "i" and number.isdigit():
            parts.append(f"{turn}iteration {number}")
            turn = ""
        elif kind == "c" and number.isdigit() and parts:
            parts[-1] += f" · cell {number}"
        elif kind == "q" and number.isdigit():
            parts.append(f"q{number}")
    return " › ".join(parts) or node_id


def _head(text: str) -> tuple[str, bool]:
    """The first lines of `text` within the display caps, and whether it was cut."""
    head = text[:OUTPUT_CHARS]
    lines = head.split("\n")
    if len(lines) > OUTPUT_LINES:
        return "\n".join(lines[:OUTPUT_LINES]), True
    return head, len(head) < len(text)


def render_output(event: ev.CellFinished, rejected: list[str] | None = None) -> Content:
    """A finished cell's stdout, stderr and error, and notes on anything cut or unusual;
    `rejected`: the errors its FINAL's answer was sent back with (it did not match the
    schema)."""
    parts: list[str | tuple[str, str]] = []
    if event.stdout:
        shown, cut_here = _head(event.stdout)
        parts.append(printable(shown.rstrip("\n")) + "\n")
        if cut_here:
            parts.append((f"… showing {len(shown):,} of {len(event.stdout):,} characters "
                          "kept\n", "dim italic"))
    if event.stdout_total_chars > len(event.stdout):
        parts.append((f"output cut: printed {event.stdout_total_chars:,} characters, "
                      f"{len(event.stdout):,} kept\n", "bold $warning"))
    if event.stderr:
        shown, cut_here = _head(event.stderr)
        parts.append((printable(shown.rstrip("\n")) + "\n", "$warning"))
        if cut_here:
            parts.append((f"… stderr cut at {len(shown):,} characters\n", "dim italic"))
    if event.error:
        kind = f"{event.error_kind}: " if event.error_kind else ""
        parts.append((printable(f"{kind}{event.error}") + "\n", "bold $error"))
    if event.worker_restarted:
        parts.append(("the REPL worker was restarted: variables were lost\n", "$warning"))
    if event.rebuild_differs:
        parts.append((printable(f"⚠ rebuilt by the fork, its output differs from the recorded "
                                f"run's: {event.rebuild_differs}") + "\n", "$warning"))
    if event.final_answer is not None and rejected is not None:
        parts.append(("✗ FINAL rejected: the answer does not match the schema, and the model "
                      "was sent the errors\n", "bold $error"))
        parts += [(printable(f"  - {error}") + "\n", "$error") for error in rejected]
    elif event.final_answer is not None:
        parts.append(("→ FINAL: the run ends with this cell's answer\n", "bold $success"))
    if not parts:
        return Content.styled("(no output)", "dim italic")
    return Content.assemble(*parts).rstrip()


class CellView(Vertical):
    """One cell: a header with its place and status, its code, its output. A held cell
    (--approve) says so until the person decides; an edited one shows the code that ran, with
    the model's own above it."""

    DEFAULT_CSS = """
    CellView {
        height: auto;
        margin-bottom: 1;
        .cell-header { background: $boost; color: $text-muted; padding: 0 1; }
        .cell-header.-done { color: $success; }
        .cell-header.-error { color: $error; }
        .cell-header.-stopped { color: $warning; }
        .cell-header.-held { color: $background; background: $warning; text-style: bold; }
        .cell-code { padding: 0 1; background: $surface; }
        .cell-original { padding: 0 1; color: $text-muted; display: none; }
        .cell-original.-shown { display: block; }
        .cell-output { padding: 0 1; }
    }
    """

    def __init__(self, started: ev.CellStarted) -> None:
        super().__init__()
        self.node_id = started.node_id
        self.code = started.code  # the model's
        self.title = describe_cell(started.node_id)
        self.finished: ev.CellFinished | None = None
        self.stopped: str | None = None  # why it ended without finishing
        self.held: str | None = None  # why it was held for approval
        self.decision: ev.CellDecision | None = None
        self.ran_code: str | None = None  # the person's edit, when it was edited
        self.rejected: list[str] | None = None  # its answer's errors, when sent back

    def compose(self) -> ComposeResult:
        yield Static("", classes="cell-header", markup=False)
        yield Static(classes="cell-original")
        yield Static(self._syntax(self.code), classes="cell-code")
        yield Static(classes="cell-output")

    def on_mount(self) -> None:
        self._show(mounting=True)

    def _syntax(self, code: str) -> Syntax:
        dark = self.app.current_theme.dark
        return Syntax(printable(code.rstrip("\n")), "python",
                      theme="one-dark" if dark else "friendly", background_color="default",
                      word_wrap=True)

    def refresh_code(self) -> None:
        self._show()

    def hold(self, reason: str) -> None:
        """It waits for the person: run (a), edit (c) or skip (s)."""
        self.held = reason
        self._show()

    def decide(self, decision: ev.CellDecision, code: str) -> None:
        self.decision = decision
        if decision == "edited":
            self.ran_code = code
        self._show()

    def finish(self, event: ev.CellFinished) -> None:
        self.finished = event
        self._show()

    def reject(self, errors: list[str]) -> None:
        """Its FINAL's answer did not match the schema: it went back to the model."""
        self.rejected = list(errors)
        self._show()

    def stop(self, reason: str) -> None:
        """Its session ended while it ran (a halt): no output will come."""
        if self.finished is not None or self.stopped is not None:
            return
        self.stopped = reason
        self._show()

    @property
    def awaiting(self) -> bool:
        """Held, with no decision yet."""
        return self.held is not None and self.decision is None and self.finished is None \
            and self.stopped is None

    def _show(self, *, mounting: bool = False) -> None:
        if not (mounting or self.is_mounted):
            return  # shown as it mounts
        header, kind, output = self._state()
        head = self.query_one(".cell-header", Static)
        head.update(header)
        for name in ("-done", "-error", "-stopped", "-held"):
            head.set_class(kind == name, name)
        original = self.query_one(".cell-original", Static)
        code = self.query_one(".cell-code", Static)
        if self.ran_code is not None:
            original.update(Content.assemble(("the model wrote (not run):\n", "italic"),
                                             printable(self.code.rstrip("\n"))))
            original.add_class("-shown")
            code.update(self._syntax(self.ran_code))
        else:
            code.update(self._syntax(self.code))
        self.query_one(".cell-output", Static).update(output)

    def _decided(self) -> str:
        return {"approved": " · approved", "edited": " · edited by you",
                "skipped": " · skipped"}.get(self.decision or "", "")

    def _state(self) -> tuple[str, str | None, Content]:
        """The header, its class, and what shows under the code."""
        title, decided = self.title, self._decided()
        event = self.finished
        if event is not None and (event.skipped or self.decision == "skipped"):
            return (f"⤼ {title} · skipped", "-stopped",
                    Content.styled("skipped by you: it did not run, and the model was told",
                                   "$warning"))
        if event is not None:
            failed = event.error is not None
            mark = "✗" if failed else "✓"
            rejected = " · answer rejected" if self.rejected is not None else ""
            return (f"{mark} {title} · {format_duration(event.seconds)}{decided}{rejected}",
                    "-error" if failed or rejected else "-done",
                    render_output(event, self.rejected))
        if self.stopped is not None:
            return (f"■ {title} · stopped{decided}", "-stopped",
                    Content.styled(printable(f"stopped unfinished: {self.stopped}"),
                                   "$warning"))
        if self.awaiting:
            return (f"‖ {title} · held: {self.held}", "-held",
                    Content.assemble(("awaits your approval: ", "bold $warning"),
                                     ("a", "bold"), " run as written · ", ("c", "bold"),
                                     " edit, then run · ", ("s", "bold"), " skip"))
        return (f"▶ {title}{decided} · running…", None,
                Content.styled("running…", "dim italic"))


class CellLog(VerticalScroll):
    """Cells in the order they ran, the newest at the bottom (followed while you are there).
    It keeps the newest MAX_CELLS; earlier ones are counted in a line at the top."""

    ALLOW_MAXIMIZE = True
    BORDER_TITLE = "Code and output"
    DEFAULT_CSS = """
    CellLog {
        align-vertical: bottom;  /* short logs sit at the bottom: see RootReasoning */
        .placeholder, .earlier { color: $text-muted; padding: 0 1; }
        .earlier { margin-bottom: 1; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._cells: dict[str, CellView] = {}  # node id -> cell shown, oldest first
        self._count = 0  # every cell of the run, shown or not
        self._earlier_line: Static | None = None

    def compose(self) -> ComposeResult:
        yield Static(PLACEHOLDER, classes="placeholder")

    def on_mount(self) -> None:
        self.anchor()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._recolour())

    def _recolour(self) -> None:
        for cell in self._cells.values():
            cell.refresh_code()

    @property
    def cells(self) -> list[CellView]:
        """The cells in the pane, oldest first (at most MAX_CELLS)."""
        return list(self._cells.values())

    async def reset(self) -> None:
        self._cells = {}
        self._count = 0
        self._earlier_line = None
        await self.remove_children()
        await self.mount(Static(PLACEHOLDER, classes="placeholder"))
        self.border_title = "Code and output"
        self.anchor()

    async def show_events(self, batch: SessionBatch) -> None:
        events = batch.events
        new: list[CellView] = []
        finished: list[ev.CellFinished | ev.CellHeld | ev.CellDecided | ev.AnswerRejected] = []
        starts = {e.node_id for e in events if isinstance(e, ev.CellStarted)} - set(self._cells)
        unbuilt = max(0, len(starts) - MAX_CELLS)  # never shown: a replay's jump
        for event in events:
            if isinstance(event, ev.CellStarted) and event.node_id in starts:
                starts.discard(event.node_id)
                self._count += 1
                if unbuilt:
                    unbuilt -= 1
                    continue
                cell = CellView(event)
                self._cells[event.node_id] = cell
                new.append(cell)
            elif isinstance(event, (ev.CellFinished, ev.CellHeld, ev.CellDecided,
                                    ev.AnswerRejected)):
                finished.append(event)
        for event in finished:
            if isinstance(event, ev.AnswerRejected):
                self._reject(event)
                continue
            cell = self._cells.get(event.node_id)
            if cell is None:
                continue
            if isinstance(event, ev.CellHeld):
                cell.hold(event.reason)
            elif isinstance(event, ev.CellDecided):
                cell.decide(event.decision, event.code)
            else:
                cell.finish(event)
        for node in batch.changed:
            # Cells of a session that ended as they ran (a halt) never finish: the tree
            # says they stopped, and why.
            if node.kind == "cell" and node.status == "stopped":
                stopped = self._cells.get(node.node_id)
                if stopped is not None:
                    stopped.stop(node.stopped_by or "stopped")
        if new:
            await self._show_new(new)

    def _reject(self, event: ev.AnswerRejected) -> None:
        """The answer of the iteration's cell that called FINAL went back to the model."""
        prefix = f"{event.node_id}.c"
        for cell in reversed(self._cells.values()):
            if (cell.node_id.startswith(prefix) and cell.finished is not None
                    and cell.finished.final_answer is not None and cell.rejected is None):
                cell.reject(event.errors)
                return

    async def _show_new(self, new: list[CellView]) -> None:
        if self._count == len(new):
            await self.query_children(".placeholder").remove()
        surplus = len(self._cells) - MAX_CELLS
        if surplus > 0:
            old = [self._cells.pop(node) for node in list(self._cells)[:surplus]]
            await self.remove_children([cell for cell in old if cell.is_mounted])
        earlier = self._count - len(self._cells)
        if earlier:
            text = (f"… {earlier:,} earlier cells are not shown here: each one's code and "
                    "output is in Calls (Call tab)")
            if self._earlier_line is None:
                self._earlier_line = Static(text, classes="earlier", markup=False)
                await self.mount(self._earlier_line, before=0 if self.children else None)
            else:
                self._earlier_line.update(text)
        await self.mount_all(new)
        self.border_title = f"Code and output · {count_of(self._count, 'cell')}"
