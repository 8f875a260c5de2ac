"""Built-in suites generate tasks whose expected answers are right for their contexts."""

from __future__ import annotations

import re
from itertools import combinations

import pytest

from rlm_tui.errors import UsageError
from rlm_tui.eval.suites import generate_suite


def test_sniah_hides_one_needle_and_expects_its_number():
    tasks = generate_suite("sniah", size=20_000, count=5, seed=3)
    assert [t.id for t in tasks] == [f"sniah-{i:03d}" for i in range(1, 6)]
    for task in tasks:
        name = re.search(r"magic number for (\S+)\?", task.query).group(1)
        needles = re.findall(rf"The magic number for {re.escape(name)} is (\d+)\.",
                             task.context_text)
        assert needles == [task.expected[0]] and task.scorer == "number"
        assert 20_000 <= len(task.context_text) < 22_000


def _rows(text: str) -> list[tuple[str, str]]:
    return re.findall(r"\| user (\d+) \| label: (\w+) \|", text)


def test_oolong_expects_the_count_of_lines_with_the_label():
    for task in generate_suite("oolong", size=10_000, count=4, seed=1):
        label = re.search(r"the label '(\w+)'", task.query).group(1)
        rows = _rows(task.context_text)
        assert len(rows) == task.context_text.count("\n")
        assert task.expected == (str(sum(1 for _, lab in rows if lab == label)),)


def test_pairs_expects_the_number_of_user_pairs_sharing_the_label():
    for task in generate_suite("pairs", size=10_000, count=4, seed=2):
        label = re.search(r"labelled '(\w+)'", task.query).group(1)
        users = {user for user, lab in _rows(task.context_text) if lab == label}
        assert task.expected == (str(len(list(combinations(sorted(users), 2)))),)


def test_the_same_seed_gives_the_same_tasks_and_another_seed_others():
    first = generate_suite("oolong", size=5_000, count=3, seed=9)
    assert first == generate_suite("oolong", size=5_000, count=3, seed=9)
    assert first != generate_suite("oolong", size=5_000, count=3, seed=10)


@pytest.mark.parametrize(("name", "size", "count", "message"), [
    ("haystack", 5_000, 1, "unknown suite"),
    ("sniah", 10, 1, "at least 1000 characters"),
    ("sniah", 5_000, 0, "at least one task"),
])
def test_bad_suite_flags_are_usage_errors(name, size, count, message):
    with pytest.raises(UsageError, match=message):
        generate_suite(name, size=size, count=count)
