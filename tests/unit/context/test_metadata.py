"""What the root model is told: counts, sizes, a bounded tree, languages, skips; no contents."""

from __future__ import annotations

import json
from pathlib import Path

from rlm_tui.context.metadata import describe_context, render_context_summary

from .conftest import write


def test_metadata_counts_sizes_languages_largest_and_skips(tmp_path: Path, load):
    write(
        tmp_path,
        {
            "src/app.py": "print('hello')\n" * 10,
            "src/util.py": "x = 1\n",
            "docs/guide.md": "# Guide\n" * 3,
            "logo.png": b"\x89PNG\x00\x00",
            ".env": "SECRET=1\n",
            ".gitignore": "*.log\n",
            "debug.log": "ignored\n",
        },
    )
    pack = load(tmp_path)
    meta = describe_context(pack)
    json.dumps(meta)
    assert meta["kind"] == "files" and meta["type"] == "ContextView" and meta["mode"] == "walk"
    assert meta["files"] == 4
    assert meta["chars"] == 150 + 6 + 24 + 6
    assert meta["estimated_tokens"] == meta["chars"] // 4
    assert meta["largest_files"][0] == {"path": "src/app.py", "chars": 150, "lines": 10}
    assert meta["languages"][0] == {"language": "Python", "files": 2, "chars": 156}
    assert meta["skipped"] == {
        "binary": {"count": 1, "examples": ["logo.png"]},
        "secret file": {"count": 1, "examples": [".env"]},
    }
    assert meta["ignored"] == {"gitignore": 1}
    text = render_context_summary(meta)
    assert "print('hello')" not in text and "SECRET" not in text  # never contents
    assert "4 files" in text and "~46 tokens at 4 chars/token" in text
    assert "1 binary (e.g. logo.png)" in text


def test_the_tree_stays_within_its_line_budget_on_a_large_tree(tmp_path: Path, load):
    names = [f"pkg{p}/mod{m}/file{f}.py" for p in range(8) for m in range(12) for f in range(15)]
    files: dict[str, str | bytes] = dict.fromkeys(names, "x = 1\n")
    files["big/huge.py"] = "y = 2\n" * 5000
    write(tmp_path, files)
    meta = describe_context(load(tmp_path), tree_lines=40)
    tree = meta["tree"]
    assert len(tree) <= 40
    assert tree[0].startswith("./  (1,441 files")
    assert any(line.strip().startswith("big/") for line in tree)  # the largest dir is shown
    assert any("not expanded" in line or "more entries" in line for line in tree)


def test_a_single_text_is_described_as_a_str(tmp_path: Path, load):
    (tmp_path / "notes.txt").write_text("one\ntwo\n")
    meta = describe_context(load(tmp_path / "notes.txt"))
    assert (meta["kind"], meta["type"], meta["name"], meta["chars"], meta["lines"]) == (
        "text",
        "str",
        "notes.txt",
        8,
        2,
    )
    assert render_context_summary(meta).startswith("Context: one text (notes.txt), a str of 8")
