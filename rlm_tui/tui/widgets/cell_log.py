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
    """'iteration 2 · cell 1', or for a child session's cell the path to it:
    'iteration 2 · cell 1 › q1 › iteration 1 · cell 1'."""
    parts: list[str] = []
    for piece in node_id.split(".")[1:]:
        kind, number = piece[:1], piece[1:]
        if kind == "i" and number.isdigit():
            parts.append(f"iteration {number}")
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


def render_output(event: ev.CellFinished) -> Content:
    """A finished cell's stdout, stderr and error, and notes on anything cut or unusual."""
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
    if event.final_answer is not None:
        parts.append(("→ FINAL: the run ends with this cell's answer\n", "bold $success"))
    if not parts:
        return Content.styled("(no output)", "dim italic")
    return Content.assemble(*parts).rstrip()


class CellView(Vertical):
    """One cell: a header with its place and status, its code, its output."""

    DEFAULT_CSS = """
    CellView {
        height: auto;
        margin-bottom: 1;
        .cell-header { background: $boost; color: $text-muted; padding: 0 1; }
        .cell-header.-done { color: $success; }
        .cell-header.-error { color: $error; }
        .cell-header.-stopped { color: $warning; }
        .cell-code { padding: 0 1; background: $surface; }
        .cell-output { padding: 0 1; }
    }
    """

    def __init__(self, started: ev.CellStarted) -> None:
        super().__init__()
        self.node_id = started.node_id
        self.code = started.code
        self.title = describe_cell(started.node_id)
        self.finished: ev.CellFinished | None = None
        self.stopped: str | None = None  # why it ended without finishing

    def compose(self) -> ComposeResult:
        header = Static(f"▶ {self.title} · running…", classes="cell-header", markup=False)
        output = Static(Content.styled("running…", "dim italic"), classes="cell-output")
        if self.finished is not None:  # it finished before it was shown (one batch)
            self._show_finished(self.finished, header, output)
        elif self.stopped is not None:
            self._show_stopped(header, output)
        yield header
        yield Static(self._syntax(), classes="cell-code")
        yield output

    def _syntax(self) -> Syntax:
        dark = self.app.current_theme.dark
        return Syntax(printable(self.code.rstrip("\n")), "python",
                      theme="one-dark" if dark else "friendly", background_color="default",
                      word_wrap=True)

    def refresh_code(self) -> None:
        self.query_one(".cell-code", Static).update(self._syntax())

    def finish(self, event: ev.CellFinished) -> None:
        self.finished = event
        if self.is_mounted:
            self._show_finished(event, self.query_one(".cell-header", Static),
                                self.query_one(".cell-output", Static))

    def stop(self, reason: str) -> None:
        """Its session ended while it ran (a halt): no output will come."""
        if self.finished is not None or self.stopped is not None:
            return
        self.stopped = reason
        if self.is_mounted:
            self._show_stopped(self.query_one(".cell-header", Static),
                               self.query_one(".cell-output", Static))

    def _show_stopped(self, header: Static, output: Static) -> None:
        header.update(f"■ {self.title} · stopped")
        header.add_class("-stopped")
        output.update(Content.styled(printable(f"stopped unfinished: {self.stopped}"), "$warning"))

    def _show_finished(self, event: ev.CellFinished, header: Static, output: Static) -> None:
        failed = event.error is not None
        mark = "✗" if failed else "✓"
        header.update(f"{mark} {self.title} · {format_duration(event.seconds)}")
        header.set_class(failed, "-error")
        header.set_class(not failed, "-done")
        output.update(render_output(event))


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
        finished: list[ev.CellFinished] = []
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
            elif isinstance(event, ev.CellFinished):
                finished.append(event)
        for event in finished:
            cell = self._cells.get(event.node_id)
            if cell is not None:
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
