"""Coverage: what code read through the view, and what sub-call prompts carried."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlm_tui.context.coverage import Coverage
from rlm_tui.context.view import ContextView, open_view, take_coverage

from .conftest import write


def numbered(name: str, count: int) -> str:
    """Distinct lines long enough to anchor: '<name> line 0001 says something useful'."""
    return "".join(f"{name} line {i:04d} says something useful here\n" for i in range(1, count + 1))


@pytest.fixture
def pack(tmp_path: Path, load):
    write(
        tmp_path,
        {
            "alpha.py": numbered("alpha", 100),
            "beta.py": numbered("beta", 50),
            "short.txt": "a\nb\nc\n",
        },
    )
    return load(tmp_path)


@pytest.fixture
def view(pack) -> ContextView:
    opened = open_view(str(pack.directory))
    assert isinstance(opened, ContextView)
    return opened


def test_the_view_records_each_way_of_reading(view: ContextView):
    assert take_coverage(view) == {"read": {}}
    view["short.txt"]
    view.read("alpha.py", 10, 12)
    view.read("alpha.py", 13, 20)
    view.read("alpha.py", -5)
    view.grep("line 0040", paths="beta.py")
    assert take_coverage(view) == {
        "read": {
            "alpha.py": [[10, 20], [96, 100]],
            "beta.py": [[40, 40]],
            "short.txt": [[1, 3]],
        }
    }
    assert take_coverage(view) == {"read": {}}  # a delta: what was taken is forgotten


@pytest.mark.parametrize(
    "read",
    [
        lambda v: v.text,
        lambda v: v.values(),
        lambda v: v.items(),
        lambda v: [v.get(p) for p in v.files],
    ],
)
def test_whole_context_reads_cover_every_file(view: ContextView, read):
    read(view)
    assert take_coverage(view) == {
        "read": {"alpha.py": [[1, 100]], "beta.py": [[1, 50]], "short.txt": [[1, 3]]}
    }


def test_listing_and_sizes_read_nothing(view: ContextView):
    view.files, view.keys(), view.sizes(), view.info("alpha.py"), list(view), len(view)
    view.glob("*.py"), "alpha.py" in view, repr(view)
    assert take_coverage(view) == {"read": {}}


def test_worker_deltas_add_up_into_fractions_by_lines(pack, view: ContextView):
    coverage = Coverage(pack)
    view.read("alpha.py", 1, 25)
    coverage.add_worker_delta(take_coverage(view))
    view.read("alpha.py", 20, 50)
    view["short.txt"]
    coverage.add_worker_delta(take_coverage(view))
    data = coverage.to_dict()
    json.dumps(data)  # serialisable as is
    assert data["unit"] == "lines"
    alpha = data["files"]["alpha.py"]
    assert alpha["read"] == [[1, 50]] and alpha["read_fraction"] == 0.5
    assert alpha["sent"] == [] and alpha["sent_fraction"] == 0.0
    assert alpha["bytes_read"] == len(numbered("alpha", 50).encode())
    assert data["files"]["short.txt"]["read_fraction"] == 1.0
    totals = data["totals"]
    assert (totals["files"], totals["lines"], totals["lines_read"]) == (3, 153, 53)
    assert totals["files_read"] == 2 and totals["bytes_read"] == alpha["bytes_read"] + 6
    assert totals["read_fraction"] == round(53 / 153, 6)
    assert coverage.to_dict(include_files=False)["files"] == {}


def test_malformed_worker_deltas_are_ignored(pack):
    coverage = Coverage(pack)
    for delta in (
        None,
        {"read": "nope"},
        {"read": {"missing.py": [[1, 2]]}},
        {"read": {"alpha.py": [[1], ["a", 2], [True, 3], [5, 2]]}},
        {"read": {"alpha.py": [[-10, 10**9]]}},
    ):
        coverage.add_worker_delta(delta)  # type: ignore[arg-type]
    assert coverage.read_ranges("alpha.py") == [[1, 100]]  # clamped; the rest dropped


def test_a_prompt_carrying_a_slice_marks_those_lines_sent(pack):
    coverage = Coverage(pack)
    text = pack.read_text("alpha.py")
    lines = text.splitlines(keepends=True)
    piece = "".join(lines[29:60])  # lines 30..60
    prompt = f"Summarise this code:\n\n{piece[11:]}\nAnswer in one line."  # cut inside line 30
    assert coverage.record_prompt(prompt) == 31
    assert coverage.sent_ranges("alpha.py") == [[30, 60]]
    assert coverage.sent_ranges("beta.py") == []
    sent = coverage.to_dict()["files"]["alpha.py"]
    assert sent["sent_fraction"] == 0.31 and sent["read"] == []


def test_reindented_crlf_text_in_a_batch_of_prompts_is_found(pack):
    coverage = Coverage(pack)
    beta = pack.read_text("beta.py").splitlines()
    prompt = "\r\n".join("    " + line for line in beta[4:9])
    assert coverage.record_prompt(prompt) == 5
    coverage.record_prompt("\n".join(beta[44:50]))
    assert coverage.sent_ranges("beta.py") == [[5, 9], [45, 50]]


def test_prompts_without_context_text_mark_nothing(pack):
    coverage = Coverage(pack)
    assert coverage.record_prompt("What does this repository do? Answer briefly please.") == 0
    assert coverage.record_prompt("") == 0
    # Lines too short to anchor are not placed on their own.
    assert coverage.record_prompt("a\nb\nc\n") == 0
    assert coverage.to_dict()["totals"]["lines_sent"] == 0


def test_a_repeated_line_is_placed_where_the_longest_run_is(tmp_path: Path, load):
    shared = "def shared_helper_function(argument):\n"
    write(
        tmp_path,
        {
            "a.py": shared + "    return argument * 2  # the a version\n",
            "b.py": shared + "    return argument + 1  # the b version here\n",
        },
    )
    pack = load(tmp_path)
    coverage = Coverage(pack)
    coverage.record_prompt(pack.read_text("b.py"))
    assert coverage.sent_ranges("b.py") == [[1, 2]]
    assert coverage.sent_ranges("a.py") == []


def test_a_single_text_context_uses_the_same_index(tmp_path: Path, load):
    (tmp_path / "book.txt").write_text(numbered("book", 200))
    pack = load(tmp_path / "book.txt")
    coverage = Coverage(pack)
    coverage.build_index()
    chapter = "".join(pack.read_text("book.txt").splitlines(keepends=True)[99:120])
    coverage.record_prompt(f"Summarise:\n{chapter}")
    assert coverage.sent_ranges("book.txt") == [[100, 120]]
    assert coverage.to_dict()["totals"]["sent_fraction"] == round(21 / 200, 6)
