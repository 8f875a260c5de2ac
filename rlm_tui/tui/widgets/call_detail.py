"""The chosen call's prompt and response (or a cell's code and output), in full up to a cap."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.widgets import Static, TextArea

from rlm_tui.printable import printable
from rlm_tui.units import format_cost, format_duration, format_token_counts, format_tokens
from rlm_tui.transcript.compaction import describe_compaction
from rlm_tui.transcript.model import CellNode, IterationNode, Node, SubCallNode, ToolCallNode
from rlm_tui.tui.relay import SessionBatch

# Prompts run to 200,000 characters; this much is shown (the transcript has them whole).
DETAIL_CHARS = 50_000
PLACEHOLDER = "Move the cursor in Calls to see a call's prompt and response here."


def _capped(text: str) -> str:
    if len(text) <= DETAIL_CHARS:
        return text
    return text[:DETAIL_CHARS] + f"\n… {len(text) - DETAIL_CHARS:,} more characters"


def describe_call(call: Node) -> Content:
    """Two lines: what the node is, then its numbers."""
    colour = {"running": "$accent", "done": "$success", "error": "$error",
              "stopped": "$warning"}.get(call.status, "$text-muted")
    first: list[str | tuple[str, str]] = [(getattr(call, "title", ""), "bold"), "  ",
                                          (call.status, f"bold {colour}")]
    model = getattr(call, "model", "")
    if model:
        first += ["  ", (printable(model), "$text-muted")]
    numbers: list[str] = []
    own = getattr(call, "usage", None)
    own_calls = own.calls if own is not None else 0
    if call.is_call and own is not None and own.calls:
        numbers.append(f"{format_token_counts(own)} · {format_cost(own)}")
    if call.status in ("done", "error"):
        seconds = (call.seconds if isinstance(call, (CellNode, ToolCallNode))
                   else getattr(call, "latency_s", 0))
        numbers.append(format_duration(seconds))
    retries = getattr(call, "retry_count", 0)
    if retries:
        numbers.append(f"retried {retries}×")
    if isinstance(call, ToolCallNode):
        numbers.append("a host tool, run in this process" if not call.recorded
                       else "answered from the record (a fork's rebuild)")
    rollup = call.rollup
    if rollup.calls > own_calls:
        numbers.append(f"with everything beneath: {rollup.calls} calls, "
                       f"{format_tokens(rollup.total_tokens, estimated=not rollup.reported)} "
                       "tokens, "
                       f"{format_cost(rollup)}")
    lines = [Content.assemble(*first), Content(" · ".join(numbers) or " ")]
    if call.cut:
        lines.append(Content.styled("the reply was cut off at its cap of output tokens "
                                    f"(finish reason {call.finish_reason!r})", "$warning"))
    error = getattr(call, "error", None)
    if error:
        lines.append(Content.styled(printable(error), "$error"))
    if call.stopped_by:
        lines.append(Content.styled(f"stopped unfinished: {call.stopped_by}", "$warning"))
    return Content("\n").join(lines)


class CallDetail(Vertical):
    """Header, then the prompt (or code) above the response (or output)."""

    DEFAULT_CSS = """
    CallDetail {
        #call-header { height: auto; padding: 0 1; }
        .call-label { color: $text-muted; padding: 0 1; margin-top: 1; }
        TextArea { height: 1fr; border: none; padding: 0 1; background: $surface; }
        TextArea:focus { border: none; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.call: Node | None = None

    def compose(self) -> ComposeResult:
        yield Static(PLACEHOLDER, id="call-header")
        yield Static("Prompt", id="prompt-label", classes="call-label")
        yield TextArea(id="call-prompt", read_only=True, soft_wrap=True)
        yield Static("Response", id="response-label", classes="call-label")
        yield TextArea(id="call-response", read_only=True, soft_wrap=True)

    def show_call(self, call: Node) -> None:
        self.call = call
        try:
            self._render_call()
        except NoMatches:  # the app is closing: its widgets are going away
            pass

    def _render_call(self) -> None:
        call = self.call
        if call is None:
            return
        self.query_one("#call-header", Static).update(describe_call(call))
        if isinstance(call, CellNode):
            labels, texts = ("Code", "Output"), (call.code, call.stdout)
        elif isinstance(call, IterationNode):
            labels = ("Prompt", "Reply")
            prompt = ("(the root's whole conversation: system prompt, question and every "
                      "cell's output so far)")
            for compaction in call.compactions:  # what replaced what, before this call
                prompt += f"\n\n{describe_compaction(compaction)}\n\n{compaction.summary}"
            texts = (prompt, call.text)
        elif isinstance(call, SubCallNode):
            size = f" · {call.prompt_chars:,} characters" if call.prompt_chars else ""
            labels, texts = (f"Prompt{size}", "Response"), (call.prompt, call.response)
        elif isinstance(call, ToolCallNode):
            size = f" · {call.result_chars:,} characters" if call.result_chars else ""
            labels = ("Call", f"Result{size}")
            texts = (call.call_text, call.shown_result if not call.error else "")
        else:
            labels, texts = ("Prompt", "Response"), ("", "")
        self.query_one("#prompt-label", Static).update(labels[0])
        self.query_one("#response-label", Static).update(labels[1])
        self._load("#call-prompt", texts[0])
        response = {"running": "(waiting for the response…)",
                    "stopped": texts[1] or "(none: it was stopped unfinished)"}.get(
                        call.status, texts[1])
        self._load("#call-response", response)

    def _load(self, selector: str, text: str) -> None:
        area = self.query_one(selector, TextArea)
        text = printable(_capped(text))
        if area.text != text:
            area.load_text(text)

    async def reset(self) -> None:
        self.call = None
        self.query_one("#call-header", Static).update(PLACEHOLDER)
        self._load("#call-prompt", "")
        self._load("#call-response", "")

    async def show_events(self, batch: SessionBatch) -> None:
        if self.call is not None and self.call in batch.changed:
            self._render_call()
