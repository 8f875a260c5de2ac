"""The Context pane over several sources: each a top-level node saying what it is, with its
own coverage, and the read share of each under the totals. A Pilot test and a snapshot
(update with --snapshot-update, and look at the SVG before committing it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.conftest import loaded, make_app
from tests.tui.event_script import EventScript
from tests.tui.snapshot_scenes import SIZE, showing


@pytest.fixture
def two_sources(sample: str) -> list[str]:
    """The `sample` dir and a log file beside it (the working directory is their parent)."""
    Path("server.log").write_text("GET /v1/users 200\nGET /v1/teams 500\n" * 20)
    return [sample, "server.log"]


def label(tree, node) -> str:
    return tree.render_label(node, tree.rich_style, tree.rich_style).plain


def coverage_of_both(app) -> EventScript:
    script = EventScript()
    script.start()
    pack = app.workspace.pack
    host = pack.entry("context_0/sandbox/host.py").size
    log = pack.entry("context_1/server.log").size
    script.coverage({"context_0/sandbox/host.py": (host, host, 0),
                     "context_1/server.log": (log, log // 2, log // 2)},
                    total_bytes=pack.total_bytes)
    coverage = script.events[-1].coverage
    first, second = pack.sources
    coverage["sources"] = {
        first.name: {"bytes": sum(e.size for e in pack.entries[first.first:first.first
                                                                + first.count]),
                     "bytes_read": host},
        second.name: {"bytes": log, "bytes_read": log // 2}}
    return script


async def test_each_source_is_a_top_level_node_with_its_own_coverage(two_sources):
    app = make_app(two_sources)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        tree = app.query_one("#context-tree")
        tops = {node.data.path: node for node in tree.root.children}
        assert list(tops) == ["context_0", "context_1"]
        assert label(tree, tops["context_0"]).startswith("▶ context_0/  directory · 5 files")
        assert label(tree, tops["context_1"]).startswith("▼ context_1/  file · 1 file")
        # A source of one file shows it at once.
        assert [child.data.path for child in tops["context_1"].children] == [
            "context_1/server.log"]
        assert "2 sources" in str(app.query_one("ContextBrowser").border_title)
        script = coverage_of_both(app)
        app.feed(script.take())
        await app.flush_events()
        await pilot.pause()
        assert "%" in label(tree, tops["context_0"]) and "%" in label(tree, tops["context_1"])
        assert "⇢" in label(tree, tops["context_1"])
        totals = str(app.query_one("#context-totals").render())
        assert "6 files" in totals and "context_1 50%" in totals


async def _coverage(pilot) -> None:
    script = coverage_of_both(pilot.app)
    pilot.app.feed(script.take())
    await pilot.app.flush_events()


def test_two_sources_in_the_context_pane(snap_compare, two_sources):
    assert snap_compare(make_app(two_sources), terminal_size=SIZE,
                        run_before=showing(None, _coverage))
