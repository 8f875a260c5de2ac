"""What a newcomer meets first: F1 leads with what the app does (asking, steering, the panes,
export), then the focused pane's keys; the palette lists the same commands in the same order
at every launch, the useful ones first and Quit last; the footers name the app's own keys."""

from __future__ import annotations

from textual.widgets import Footer

from rlm_tui.transcript import read_transcript
from rlm_tui.tui.replay_app import ReplayApp
from rlm_tui.tui.widgets.keys_help import KeysHelp, KeysTable, app_rows
from tests.tui.conftest import loaded, make_app, wait_for
from tests.tui.snapshot_scenes import palette_titles
from tests.tui.test_replay import demo_transcript, opened  # noqa: F401 - a fixture

SIZE = (120, 40)


def help_text(app) -> list[str]:
    """The help's lines: section titles and texts, and one line per key row."""
    lines = []
    for widget in app.screen.query_one(KeysHelp).query("Static"):
        if isinstance(widget, KeysTable):
            lines += [f"{row.key} | {row.description} | {row.tooltip}" for row in widget.rows]
        else:
            lines.append(str(widget.render()))
    return lines


async def test_f1_right_after_launch_leads_with_what_the_app_does(sample):
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.focused is app.session.query_bar.input  # where a newcomer starts
        await pilot.press("f1")
        await pilot.pause()
        lines = help_text(app)
        titles = [line for line in lines if " | " not in line and len(line) < 30]
        assert titles[:6] == ["Ask", "Steer a run", "Check its code first", "The panes",
                              "Keep it", "This app"]
        assert titles[-1] == "Keys in the query box"  # the focused widget's, last
        first_keys = [line.split(" | ")[:2] for line in lines if " | " in line][:12]
        for key, description in (["r", "Ask"], ["space", "Pause/resume"], ["n", "Step"],
                                 ["x", "Halt"], ["i", "Note"]):
            assert [key, description] in first_keys
        keys = [line.split(" | ") for line in lines if " | " in line]
        assert ["e", "Export"] == next(k[:2] for k in keys if k[1] == "Export")
        assert any(k[1].startswith("Switch root model") for k in keys)
        assert any(k[1].startswith("Hold cells: none · every cell") for k in keys)


async def test_no_help_row_repeats_its_description(sample):
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        actions = {a for s in app.HELP_SECTIONS for a in s.actions}
        for action in actions:
            for row in app_rows(app, action):
                first = row.description.split()[0].strip("…:").lower()
                assert not row.tooltip.lower().startswith(first), row


async def test_the_help_follows_the_focus(sample):
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("f1")
        app.query_one("#calls").focus()
        await wait_for(pilot, lambda: "Keys in Calls" in help_text(app), what="Calls' keys")
        assert "Keys in the query box" not in help_text(app)


async def test_the_palette_is_in_the_same_order_at_every_launch(sample):
    seen = []
    for _ in range(3):
        app = make_app(sample)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot)
            app.query_one("#calls").focus()
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: "Quit" in palette_titles(app), what="the palette")
            seen.append(palette_titles(app))
    assert seen[0] == seen[1] == seen[2]
    titles = seen[0]
    assert titles[:5] == ["Ask", "Hold cells: every cell",
                          "Hold cells: cells that end the run (FINAL)", "Switch root model…",
                          "Switch sub-model…"]
    assert titles.index("Theme") < titles.index("Help") < titles.index("Screenshot")
    assert titles[-1] == "Quit" and len(titles) == len(set(titles))


async def test_the_replays_footer_shows_its_own_play_key_over_the_calls_pane(demo_transcript):
    app = ReplayApp(read_transcript(demo_transcript))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        assert app.focused is app.query_one("#calls")
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        shown = [str(k.render()) for k in footer.query("FooterKey")]
        assert any("space" in k and "Play/pause" in k for k in shown), shown
        assert not any("Pause/resume" in k for k in shown)
        await pilot.press("space")
        await wait_for(pilot, lambda: app.playing or app.cursor.at_end, what="playing")
