"""The status bar shows the cached share where it has room, and never at the cost of the rest."""

from textual.app import App, ComposeResult

from rlm_tui import events as ev
from rlm_tui.tui.widgets.status_bar import RunStatusBar


class BarApp(App):
    def compose(self) -> ComposeResult:
        yield RunStatusBar()


async def _rendered(width: int, usage: ev.Usage) -> str:
    app = BarApp()
    async with app.run_test(size=(width, 5)) as pilot:
        bar = app.query_one(RunStatusBar)
        bar.state, bar.max_iterations, bar.iteration, bar.sub_calls = "running", 30, 12, 4
        bar.usage = usage
        await pilot.pause()
        return str(bar.render())


async def test_the_bar_shows_the_cached_share_when_it_fits():
    usage = ev.Usage.of_call(12_000, 300, 0.0123, cached_tokens=10_200)
    wide = await _rendered(120, usage)
    narrow = await _rendered(80, ev.Usage.of_call(123_400, 300, 0.0123, cached_tokens=100_000))
    assert "(85% cached)" in wide
    assert "sub-calls" in narrow and len(narrow) <= 80
