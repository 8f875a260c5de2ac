"""A long reply streamed from the local server: the Reasoning pane shows all of it once the
deltas are coalesced, and every view shows a running estimate while it streams."""

from __future__ import annotations

from rlm_tui.tui.widgets.reasoning import RootReasoning
from rlm_tui.tui.widgets.status_bar import RunStatusBar
from rlm_tui.tui.widgets.subcall_tree import SubCallTree
from tests.integration.openai_server import Reply
from tests.integration.test_engine import Scripted
from tests.tui.conftest import ended, make_app, wait_for

PARAGRAPH = ("The sandbox stops a runaway cell with a timeout; the host reads what it printed "
             "and the worker starts again.")
TEXT = "\n\n".join(f"Step {i}: {PARAGRAPH}" for i in range(60)) + "\n\nFINAL(done)\n"


def live_app(server, sample, **settings):
    return make_app(sample, model="openai/root-model", sub_model="openai/sub-model",
                    api_base=server.base_url, max_retries=0, **settings)


async def test_the_reasoning_pane_shows_the_whole_streamed_reply_and_a_running_estimate(
        openai_server, sample):
    # 1,400 chunks at full speed, then the server reports no usage (as llama.cpp does).
    openai_server.responder = Scripted(
        [Reply(text=TEXT, chunks=len(TEXT) // 5, chunk_delay=0.002, send_usage=False)])
    app = live_app(openai_server, sample, query="q")
    async with app.run_test(size=(160, 40)) as pilot:
        reasoning = app.query_one(RootReasoning)
        await wait_for(pilot, lambda: reasoning.sections and len(reasoning.sections[0].text)
                       > 1500, what="the reply streaming")
        section = reasoning.sections[0]
        bar = str(app.query_one(RunStatusBar).render())
        assert "~" in bar and "tokens" in bar
        assert "streaming… ~" in str(section.title)
        assert "~" in str(app.query_one(SubCallTree).border_title)
        await ended(pilot)
        section = reasoning.sections[0]
        assert section.text == TEXT
        shown = "\n".join(section.reply.text_lines)
        words = [w for w in TEXT.split() if w.isalpha()]
        assert all(f"Step {i}:" in shown for i in range(60))
        assert all(w in shown for w in words[-8:])
        assert "~" in str(section.title) and "streaming" not in str(section.title)
