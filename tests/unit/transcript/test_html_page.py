"""The HTML export as a page: highlighted code, the answer's Markdown rendered, the run's
timeline as inline SVG, the header in words; one file that loads nothing and runs nothing,
whatever the model wrote."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from rlm_tui.transcript import export_transcript, figures, parse_transcript
from rlm_tui.transcript.timeline import build_timeline
from tests.unit.transcript.synthetic import HOSTILE, synthetic_events, transcript_bytes

ANSWER = """# Findings

The **parser** reads `context` in three steps:

1. split
2. parse

```python
def f(x):
    return x + 1
```

| file | lines |
| --- | --- |
| a.py | 3 |
"""

HOSTILE_ANSWER = (
    "</script><img src=x onerror=alert(1)> <script>alert('a')</script>\n\n"
    "[ok](https://example.org/doc) [bad](javascript:alert(3)) "
    "[data](data:text/html,<script>alert(4)</script>) ![pic](https://example.org/p.png)\n\n"
    "```html\n</pre></script><svg onload=alert(5)>\n```\n"
    '<div style="background:url(https://evil.example/x)">raw html</div>\n'
)


class Page(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.titles: list[str] = []
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.titles.append(data)


def page_of(**kwargs) -> str:
    return export_transcript(parse_transcript(transcript_bytes(synthetic_events(**kwargs))),
                             "html")


def test_code_is_highlighted_and_the_answer_markdown_rendered():
    page = page_of(iterations=2, answer=ANSWER)
    assert '<pre class="hl"><span class="t-nb">print</span>' in page  # a cell's code
    answer = page[page.index('<div class="markdown">'):page.index("</section>",
                                                                 page.index("Final answer"))]
    assert "<h1>Findings</h1>" in answer and "<strong>parser</strong>" in answer
    assert "<ol>" in answer and "<table>" in answer and "<code>context</code>" in answer
    assert '<span class="t-k">def</span>' in answer  # the fenced block, highlighted too
    assert ".hl .t-k {" in page  # the token colours, in the page's one stylesheet


def test_the_timeline_draws_every_iteration_and_call_with_its_figures_on_hover():
    events = synthetic_events(iterations=3, subcalls_per_cell=4, parallel=True)
    transcript = parse_transcript(transcript_bytes(events))
    page = export_transcript(transcript, "html")
    timeline = build_timeline(transcript.fold())
    assert timeline.lanes == 4  # a batch of four runs side by side
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count('class="bar ') == len(timeline.spans) == 3 * (1 + 1 + 4)
    parsed = Page(svg)
    hover = [t for t in parsed.titles if t.startswith("llm q")]
    assert len(hover) == 12 and "batch 1 · 200 in / 20 out · $" in hover[0], hover[0]
    assert [v for k, v in parsed.attributes if k == "href"] == [
        "#iteration-1", "#iteration-2", "#iteration-3"]
    assert all(f'id="iteration-{n}"' in page for n in (1, 2, 3))


def test_the_header_says_the_outcome_and_context_in_words():
    page = page_of(iterations=2)
    assert "Answered in 2 iterations (of 2 allowed)." in page
    assert "<dt>Context</dt><dd>3 files, 1,234 characters.</dd>" in page
    assert "files: 3" not in page  # not a key: value dump


def test_the_page_references_nothing_outside_itself():
    page = page_of(iterations=3, child_every=2, error_every=2)
    assert not re.search(r"https?://", page)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "@import" not in page and "url(" not in page
    parsed = Page(page)
    assert not [v for k, v in parsed.attributes if k == "src"]
    assert all(v.startswith("#") for k, v in parsed.attributes if k == "href")


def test_hostile_answer_and_code_stay_text():
    page = page_of(iterations=2, text=HOSTILE, answer=HOSTILE_ANSWER)
    parsed = Page(page)
    allowed = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "pre",
               "section", "details", "summary", "span", "b", "div", "dl", "dt", "dd", "svg",
               "rect", "line", "text", "a", "i", "code", "strong", "em", "ul", "ol", "li"}
    assert set(parsed.tags) <= allowed, set(parsed.tags) - allowed
    assert "<script" not in page.lower() and "<img" not in page and "<svg onload" not in page
    assert not any(name.startswith("on") or name == "style" and "url(" in (value or "")
                   for name, value in parsed.attributes)
    links = [v for k, v in parsed.attributes if k == "href"]
    outside = [v for v in links if not v.startswith("#")]
    # the answer's own https links stay links (the run's text); nothing else does
    assert outside == ["https://example.org/doc", "https://example.org/p.png"]
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "[image: pic]" in page and "raw html" in page
    assert page.count("<pre") == page.count("</pre>")
    assert page.count("<details") == page.count("</details>")


def test_the_context_in_words_for_one_path_a_text_and_several_sources():
    directory = {"source": "app", "root": "/src/app", "kind": "files", "mode": "git",
                 "files": 18, "chars": 166_680, "bytes": 166_717,
                 "languages": [{"language": "Python", "files": 17, "chars": 160_000},
                               {"language": "TOML", "files": 1, "chars": 6_680}],
                 "skipped": {"binary": {"count": 2, "examples": ["a.png"]}},
                 "secrets_masked": 1,
                 "sources": [{"name": "context_0", "kind": "directory", "path": "/src/app"}]}
    assert figures.context_words(directory) == (
        "18 files, 163 KB of Python and TOML, from /src/app (a git work tree); 2 skipped "
        "(2 binary); 1 secret masked")
    assert figures.source_words(directory) == []
    text = {"source": "-", "kind": "text", "mode": "stdin", "files": 1, "chars": 5,
            "sources": [{"name": "context_0", "kind": "stdin", "path": "-"}]}
    assert figures.context_words(text) == "one text of 5 characters, from standard input"
    several = {"source": "sdk, notes.log, data 'issues'", "kind": "files", "mode": "sources",
               "files": 20, "bytes": 230_000, "languages": [],
               "sources": [
                   {"name": "sdk", "kind": "directory", "mode": "walk", "path": "/src/sdk",
                    "files": 18, "bytes": 166_717},
                   {"name": "notes", "kind": "file", "path": "/src/notes.log", "bytes": 63_196},
                   {"name": "issues", "kind": "data", "path": "data",
                    "shape": "a list of 3 dicts"}]}
    assert figures.context_words(several) == "20 files, 225 KB, in 3 sources"
    assert figures.source_words(several) == [
        "sdk: a directory at /src/sdk, 18 files, 163 KB", "notes: the file /src/notes.log, "
        "61.7 KB", "issues: data given in code, a list of 3 dicts"]


def test_calls_still_in_flight_reach_the_last_event_of_an_unfinished_transcript():
    events = synthetic_events(4, subcalls_per_cell=3, parallel=True)
    cut = transcript_bytes(events[:26])  # iteration 3's sub-calls started, none finished
    model = parse_transcript(cut).fold()
    timeline = build_timeline(model)
    running = [s for s in timeline.spans if s.status == "running"]
    assert running and all(s.end == timeline.duration for s in running)
    assert timeline.duration == model.last_ts - model.root.started_ts
    page = export_transcript(parse_transcript(cut), "html")
    assert "Unfinished: the transcript ends before the run did" in page and "<svg" in page
