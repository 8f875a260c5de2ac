"""Text from outside reaches the terminal drawn, not obeyed: a control sequence in a file's
name or text, a model's reply, a cell's output or a call's prompt shows as ␛..., and never
leaves as the ESC (or C1) byte that would retitle the window or write the clipboard."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rlm_tui import events as ev
from rlm_tui.printable import escape_json_controls, for_terminal, printable, printable_name
from rlm_tui.tui.widgets.file_preview import FilePreview
from rlm_tui.tui.widgets.subcall_tree import SubCallTree
from tests.tui.conftest import loaded, make_app, wait_for
from tests.tui.event_script import EventScript

TITLE = "\x1b]0;pwned\x07"  # sets the window title
CLIPBOARD = "\x1b]52;c;cHduZWQ=\x07"  # writes the clipboard
CSI = "\x9b31m"  # a C1 control sequence introducer


def drawn(app) -> str:
    """Everything on the screen as the terminal would get it (as text)."""
    return app.export_screenshot()


def label(tree, node) -> str:
    return tree.render_label(node, tree.rich_style, tree.rich_style).plain


def assert_shown_not_obeyed(screen: str) -> None:
    assert "\x1b" not in screen and "\x9b" not in screen
    assert "␛" in screen


def test_controls_are_drawn_as_pictures_and_the_rest_is_kept():
    assert printable(f"a{TITLE}b") == "a␛]0;pwned␇b"
    assert printable(f"x{CSI}") == "x\\x9b31m"
    assert printable("tab\there\nnew line, é, 日本, \r") == "tab\there\nnew line, é, 日本, \r"
    assert printable("\x7f\x00") == "␡␀"
    assert printable_name("two\nlines\t.txt") == "two␊lines␉.txt"  # a name is one line


def test_a_command_shows_controls_on_a_terminal_and_keeps_them_for_a_pipe():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert for_terminal(f"a{TITLE}", Terminal()) == "a␛]0;pwned␇"
    assert for_terminal(f"a{TITLE}", io.StringIO()) == f"a{TITLE}"


def test_json_has_del_and_c1_escaped_too_and_means_the_same():
    value = {"name": "a\\\x7fb\x9b31m\x80\x9f\xa0é日本\x1b", "\x85key": ["\x7f"]}
    text = escape_json_controls(json.dumps(value, ensure_ascii=False, indent=2))
    assert not any(0x7F <= ord(ch) < 0xA0 for ch in text)
    assert "\\u009b31m" in text and "\xa0é日本" in text
    assert json.loads(text) == value
    plain = json.dumps({"a": "ascii only"})
    assert escape_json_controls(plain) is plain


async def test_nothing_from_outside_sends_a_control_sequence_to_the_terminal(sample):
    name = f"evil{TITLE}[bold red]name[-].txt"
    Path(sample, name).write_text(f"print('{CLIPBOARD}')\n")
    Path(sample, "two\nlines.txt").write_text("x\n")
    app = make_app(sample)
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot)
        tree = app.query_one("#context-tree")
        node = next(n for n in tree.root.children if n.data.path == name)
        assert "[bold red]name[-].txt" in label(tree, node)
        two = next(n for n in tree.root.children if n.data.path == "two\nlines.txt")
        assert label(tree, two).startswith("two␊lines.txt  ")  # not "two" alone
        tree.focus()
        tree.move_cursor(node)
        preview = app.query_one(FilePreview)
        await wait_for(pilot, lambda: preview.border_title is not None
                       and "evil" in preview.border_title, what="the preview")
        script = EventScript()
        script.start()
        iteration = script.iteration(1, f"Reading the files.{TITLE}\n\n```repl\nx = 1\n```\n")
        cell = script.cell(iteration, 1, f"print('{CLIPBOARD}')", stdout=f"{CLIPBOARD}{CSI}\n",
                           error=f"boom{TITLE}")
        model = f"openai/sub{TITLE}"  # a replayed transcript says which model it was
        script.emit(ev.SubcallStarted, f"{cell}.q1", cell, kind="llm", model=model,
                    prompt=f"Summarise{TITLE}", prompt_chars=20, depth=1, batch_index=0,
                    batch_size=1)
        script.emit(ev.SubcallFinished, f"{cell}.q1", cell, model=model, error=f"bad{TITLE}",
                    response=f"done{CLIPBOARD}", usage=ev.Usage.of_call(10, 2, 0.0),
                    latency_s=0.1)
        script.finish(f"The answer{TITLE}")
        app.feed(script.take())
        await app.flush_events()
        await pilot.pause(0.3)
        assert_shown_not_obeyed(drawn(app))  # tree, preview, reasoning, cells, answer
        calls = app.query_one(SubCallTree)
        calls.focus()
        calls.move_cursor(calls._by_id[f"{cell}.q1"])
        await pilot.pause(0.3)
        assert_shown_not_obeyed(drawn(app))  # the call's model, prompt, response and error
