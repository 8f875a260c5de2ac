"""Exports: what each format shows, and that hostile model text stays text."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from rlm_tui.transcript import export_transcript, parse_transcript
from rlm_tui.transcript.markdown import fenced, inline
from tests.unit.transcript.synthetic import HOSTILE, synthetic_events, transcript_bytes


def transcript(**kwargs):
    return parse_transcript(transcript_bytes(synthetic_events(**kwargs)))


def test_markdown_has_question_iterations_code_output_calls_totals_and_answer():
    text = export_transcript(transcript(iterations=3, child_every=2, error_every=3), "markdown")
    assert text.startswith("# rlm-tui session\n")
    for heading in ("## Question", "## Final answer", "## Iteration 1 ", "## Iteration 3 ",
                    "## Sub-call tree"):
        assert heading in text
    assert "### Iteration 1 › Cell 1 · done" in text
    assert "~~~python\nprint(len(context))" in text
    assert "Output:\n\n~~~text\n100\n" in text
    assert "**Error (NameError):**" in text
    assert "child session · answered" in text
    assert "| Tokens | 5,207 in / 327 out |" in text and "| Sub-calls | 7 |" in text
    assert "~~~text\nthe answer\n~~~" in text
    assert "$0.0001" in text  # costs shown in the tree and per call


def test_markdown_keeps_hostile_text_inside_its_fences():
    text = export_transcript(transcript(iterations=2, text=HOSTILE + "\n~~~~\n# not a heading"),
                             "markdown")
    # a fence longer than any tilde run inside, so nothing the model wrote closes it
    assert "~~~~~text" in text
    outside = lines_outside_fences(text)
    assert not any("not a heading" in line or "<script" in line for line in outside)
    assert fenced("a ~~~~~~ b")[0] == "~~~~~~~text"
    assert inline("<script>|x|") == "\\<script\\>\\|x\\|"
    assert inline("1. item\nnext") == "1\\. item next"


def lines_outside_fences(text: str) -> list[str]:
    """The lines a CommonMark reader treats as Markdown, not as a fenced block's text."""
    outside, fence = [], None
    for line in text.splitlines():
        run = len(line) - len(line.lstrip("~"))
        if fence is None and run >= 3:
            fence = run
        elif fence is not None and run >= fence and not line.strip("~"):
            fence = None
        elif fence is None:
            outside.append(line)
    return outside


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs


def test_html_is_one_self_contained_page_with_a_collapsible_tree():
    page = export_transcript(transcript(iterations=3, child_every=2), "html")
    collector = TagCollector()
    collector.feed(page)
    assert page.startswith("<!DOCTYPE html>")
    assert collector.tags.count("details") >= 3 + 3 + 6  # iterations, cells, sub-calls
    assert collector.tags.count("summary") == collector.tags.count("details")
    assert "<style>" in page and "Content-Security-Policy" in page
    for name, value in collector.attributes:  # nothing loaded; links only within the page
        assert name != "src" and (name != "href" or value.startswith("#")), (name, value)
    assert "Child session" in page and "the answer" in page


def test_html_escapes_hostile_model_text_everywhere():
    events = synthetic_events(2, child_every=1, error_every=1, text=HOSTILE)
    page = export_transcript(parse_transcript(transcript_bytes(events)), "html")
    collector = TagCollector()
    collector.feed(page)
    allowed = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "pre",
               "section", "table", "tr", "th", "td", "details", "summary", "span", "b", "div",
               "dl", "dt", "dd", "svg", "rect", "line", "text", "a", "i"}
    assert set(collector.tags) <= allowed
    assert not any(name.startswith("on") for name, _ in collector.attributes)
    assert "<script" not in page.lower() and "<img" not in page
    assert all(value.startswith("#") for name, value in collector.attributes if name == "href")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert page.count("<pre") == page.count("</pre>")


def test_json_is_one_document_of_the_fold():
    t = transcript(iterations=2, child_every=2)
    document = json.loads(export_transcript(t, "json"))
    assert document["format"] == "rlm-tui-session" and document["source_format"] == "rlm-tui"
    assert document == json.loads(json.dumps(document))
    assert document["answer"] == "the answer" and document["status"] == "answered"
    assert document["totals"] == t.fold().totals.to_dict()
    assert document["session"]["iterations"][1]["cells"][0]["subcalls"][0]["child"]["answer"] \
        == "child answer"
    assert document["read"] == {"events": len(t.events), "lines": len(t.events) + 1,
                                "stop": None, "skipped": {}}


@pytest.mark.parametrize("fmt", ["markdown", "html", "json"])
def test_a_cut_transcript_exports_with_a_note_of_where_it_stops(fmt):
    data = transcript_bytes(synthetic_events(3))
    cut = parse_transcript(data[: len(data) * 2 // 3])
    text = export_transcript(cut, fmt)
    assert "the transcript stops at line" in text
    assert cut.stop is not None and f"line {cut.stop.line}" in text


def test_a_halted_run_says_why_it_has_no_answer():
    text = export_transcript(transcript(iterations=2, answer=None), "markdown")
    assert "No answer: halted by the user" in text
    page = export_transcript(transcript(iterations=2, answer=None), "html")
    assert "No answer: halted by the user" in page


def forced_after_a_turn_without_code() -> list:
    from rlm_tui import events as ev
    from tests.unit.transcript.synthetic import Stream

    s = Stream()
    s.emit(ev.SessionStarted, session_id="r", node_id="r", query="q", root_model="m",
           sub_model="m", max_iterations=1)
    for i, forced, text in ((1, False, "I think it is 42."), (2, True, "It is 42.")):
        s.emit(ev.IterationStarted, session_id="r", node_id=f"r.i{i}", parent_id="r",
               iteration=i, max_iterations=1, forced=forced)
        s.emit(ev.RootDone, session_id="r", node_id=f"r.i{i}", parent_id="r", text=text,
               model="m", usage=ev.Usage.of_call(10, 5, 0.0), latency_s=0.1)
    s.emit(ev.FinalAnswer, session_id="r", node_id="r", answer="It is 42.", forced=True)
    s.emit(ev.SessionFinished, session_id="r", node_id="r", status="answered",
           answer="It is 42.", forced=True, iterations=1)
    return s.events


def test_markdown_counts_the_forced_turn_apart_and_says_a_turn_ran_no_code():
    from rlm_tui.transcript.reader import Transcript

    text = export_transcript(Transcript(header={}, events=forced_after_a_turn_without_code()),
                             "markdown")
    assert "| Iterations | 1 of 1, then one asking for a final answer |" in text  # was "2 of 1"
    assert text.count("No ```repl block ran") == 1  # the first turn's; the forced one ended it
