"""How an answer is judged against a task's accepted answers.

Each scorer gives a score in [0, 1] and whether the answer is correct; with several accepted
answers the best one counts. A missing answer (the run stopped without one) scores 0.

- exact: equal after trimming whitespace at both ends (case matters).
- contains: an accepted answer appears in the answer (case matters).
- number: the answer's number (the whole answer, else the last number in it; "1,234" and
  "1234.0" read as 1234) equals an accepted number, within a relative 1e-6.
- f1: the best token F1 (SQuAD's: lower case, punctuation and articles dropped); correct at
  or above the task's threshold (default 0.5).
- regex: an accepted pattern matches somewhere in the answer (Python `re.search`).
- json: the expected JSON object compared field by field with the answer's (the answer is
  JSON: a FINAL of a dict, or the value a schema validated): the score is the share of the
  expected object's top-level fields whose value in the answer is equal (deep equality;
  True is not 1, 1 is 1.0; fields the answer has beyond them do not count); correct when
  every one is. An answer that is not a JSON object scores 0.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from dataclasses import dataclass

from rlm_tui.engine.answer_schema import unfenced

SCORERS = ("exact", "contains", "number", "f1", "regex", "json")
DEFAULT_F1_THRESHOLD = 0.5

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
                     r"|[-+]?\.\d+(?:[eE][-+]?\d+)?")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


@dataclass(frozen=True)
class Score:
    score: float
    correct: bool


def check_expected(scorer: str, expected: tuple[str, ...]) -> str | None:
    """Why these accepted answers cannot be used with `scorer`, or None."""
    for item in expected:
        if scorer == "number" and parse_number(item) is None:
            return f"'expected' {item!r} is not a number (scorer 'number')"
        if scorer == "json" and not isinstance(_json_object(item), dict):
            return (f"'expected' {item[:60]!r} is not a JSON object (scorer 'json': an "
                    "object, or a list of accepted objects)")
        if scorer == "regex":
            try:
                re.compile(item)
            except re.error as exc:
                return f"'expected' {item!r} is not a regular expression ({exc})"
    return None


def score_answer(scorer: str, answer: str | None, expected: tuple[str, ...], *,
                 threshold: float = DEFAULT_F1_THRESHOLD) -> Score:
    """Judge `answer` with `scorer` against the accepted answers."""
    if answer is None:
        return Score(0.0, False)
    if scorer == "f1":
        best = max(token_f1(answer, item) for item in expected)
        return Score(round(best, 4), best >= threshold)
    if scorer == "json":
        best = max(json_fields(answer, item) for item in expected)
        return Score(round(best, 4), best == 1.0)
    judge = {"exact": _exact, "contains": _contains, "number": _number, "regex": _regex}[scorer]
    right = any(judge(answer, item) for item in expected)
    return Score(1.0 if right else 0.0, right)


def parse_number(text: str) -> float | None:
    """The number a text states: the whole text if it is one, else its last number."""
    text = text.strip().rstrip(".")
    whole = _NUMBER.fullmatch(text)
    found = [whole.group(0)] if whole else _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def _exact(answer: str, expected: str) -> bool:
    return answer.strip() == expected.strip()


def _contains(answer: str, expected: str) -> bool:
    return expected.strip() in answer


def _number(answer: str, expected: str) -> bool:
    got, want = parse_number(answer), parse_number(expected)
    return got is not None and want is not None and math.isclose(got, want, rel_tol=1e-6,
                                                                 abs_tol=1e-9)


def _regex(answer: str, expected: str) -> bool:
    return re.search(expected, answer) is not None


def json_fields(answer: str, expected: str) -> float:
    """The share of the expected JSON object's fields the answer's JSON object has equal."""
    want, got = _json_object(expected), _json_object(answer)
    if not isinstance(want, dict) or not isinstance(got, dict):
        return 0.0
    if not want:
        return float(not got)
    equal = sum(1 for key, value in want.items() if key in got and _same(got[key], value))
    return equal / len(want)


def _json_object(text: str) -> object:
    try:
        return json.loads(unfenced(text))
    except (ValueError, RecursionError):
        return None


def _same(got: object, want: object) -> bool:
    """JSON equality: bools are not numbers, objects and arrays compare item by item."""
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, dict):
        return (isinstance(got, dict) and got.keys() == want.keys()
                and all(_same(got[k], want[k]) for k in want))
    if isinstance(want, list):
        return (isinstance(got, list) and len(got) == len(want)
                and all(_same(g, w) for g, w in zip(got, want)))
    if isinstance(got, (int, float)) and isinstance(want, (int, float)):
        return got == want
    return type(got) is type(want) and got == want


def _tokens(text: str) -> list[str]:
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return text.split()


def token_f1(answer: str, expected: str) -> float:
    """SQuAD's token F1 between an answer and one accepted answer."""
    got, want = _tokens(answer), _tokens(expected)
    if not got or not want:
        return float(got == want)
    common = sum((Counter(got) & Counter(want)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)
