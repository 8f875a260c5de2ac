"""Built-in suites: tasks with known answers, generated from a seed, to check a model or a
setup before paying for real data (`rlm-tui eval --suite NAME [--size CHARS] [--n N]`).

- sniah: a needle in a haystack. N characters of filler hold one line "The magic number for
  NAME is NNNNNNN."; the question asks for it (scorer number).
- oolong: labelled lines (date, user, label, text); the question asks how many lines carry
  one label, an aggregate over every line (scorer number).
- pairs: the same lines; the question asks how many pairs of users both have a line with a
  given label, which needs every user's labels (scorer number).

The same name, size, count and seed give the same tasks, so a resumed eval finds its own.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from rlm_tui.errors import UsageError
from rlm_tui.eval.tasks import Task

SUITES = ("sniah", "oolong", "pairs")
DEFAULT_SIZE = 100_000
DEFAULT_COUNT = 8

_WORDS = (
    "river stone market lantern harvest window signal garden copper meadow orbit ledger "
    "thunder canvas pillow quartz saddle timber velvet walnut anchor bridge candle desert "
    "engine feather glacier harbor island jungle kettle ladder mirror needle ocean pepper "
    "rocket silver tunnel violet wagon yellow zephyr autumn basket cactus dragon falcon"
).split()
_NAMES = ("Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kendall",
          "Logan", "Morgan", "Parker", "Quinn", "Reese", "Sawyer", "Taylor")
LABELS = ("question", "statement", "request", "complaint", "praise")


def generate_suite(name: str, *, size: int = DEFAULT_SIZE, count: int = DEFAULT_COUNT,
                   seed: int = 0) -> list[Task]:
    """`count` tasks of suite `name` over about `size` characters each."""
    makers: dict[str, Callable[[random.Random, int, int], Task]] = {
        "sniah": _needle_task, "oolong": _label_count_task, "pairs": _label_pairs_task}
    if name not in makers:
        raise UsageError(f"unknown suite {name!r} (one of {', '.join(SUITES)})")
    if size < 1_000:
        raise UsageError(f"--size {size}: a suite's context is at least 1000 characters")
    if count < 1:
        raise UsageError(f"--n {count}: at least one task")
    rng = random.Random(f"{name}:{size}:{seed}")
    return [makers[name](rng, size, index) for index in range(1, count + 1)]


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(6, 14))
    return " ".join(words).capitalize() + "."


def _filler(rng: random.Random, size: int) -> list[str]:
    lines: list[str] = []
    total = 0
    while total < size:
        line = " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
        lines.append(line)
        total += len(line) + 1
    return lines


def _needle_task(rng: random.Random, size: int, index: int) -> Task:
    name = f"{rng.choice(_NAMES)}-{rng.randint(100, 999)}"
    number = rng.randint(1_000_000, 9_999_999)
    lines = _filler(rng, size)
    lines.insert(rng.randint(0, len(lines)), f"The magic number for {name} is {number}.")
    return Task(id=f"sniah-{index:03d}", scorer="number", expected=(str(number),),
                query=f"What is the magic number for {name}? Answer with the number alone.",
                context_text="\n".join(lines) + "\n")


def _labelled_lines(rng: random.Random, size: int) -> list[tuple[int, str, str]]:
    """(user, label, line) rows of about `size` characters in all."""
    users = [rng.randint(10_000, 99_999) for _ in range(max(4, size // 2_000))]
    rows: list[tuple[int, str, str]] = []
    total = 0
    while total < size:
        user, label = rng.choice(users), rng.choice(LABELS)
        day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        line = f"{day} | user {user} | label: {label} | {_sentence(rng)}"
        rows.append((user, label, line))
        total += len(line) + 1
    return rows


def _label_count_task(rng: random.Random, size: int, index: int) -> Task:
    rows = _labelled_lines(rng, size)
    label = rng.choice(LABELS)
    count = sum(1 for _, row_label, _ in rows if row_label == label)
    return Task(id=f"oolong-{index:03d}", scorer="number", expected=(str(count),),
                query=(f"Each line is 'date | user | label: LABEL | text'. How many lines have "
                       f"the label '{label}'? Answer with the number alone."),
                context_text="\n".join(line for _, _, line in rows) + "\n")


def _label_pairs_task(rng: random.Random, size: int, index: int) -> Task:
    rows = _labelled_lines(rng, size)
    label = rng.choice(LABELS)
    users = {user for user, row_label, _ in rows if row_label == label}
    pairs = len(users) * (len(users) - 1) // 2
    return Task(id=f"pairs-{index:03d}", scorer="number", expected=(str(pairs),),
                query=(f"Each line is 'date | user | label: LABEL | text'. How many unordered "
                       f"pairs of two different users are there where both users have at "
                       f"least one line labelled '{label}'? Answer with the number alone."),
                context_text="\n".join(line for _, _, line in rows) + "\n")
