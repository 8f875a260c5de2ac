"""Each scorer judges answers as its docstring promises."""

from __future__ import annotations

import pytest

from rlm_tui.eval.scorers import check_expected, parse_number, score_answer, token_f1


@pytest.mark.parametrize(("answer", "expected", "correct"), [
    ("  blue\n", ("blue",), True),
    ("Blue", ("blue",), False),  # case matters
    ("blue sky", ("blue",), False),
    ("red", ("blue", "red"), True),  # any accepted answer
])
def test_exact_compares_after_trimming(answer, expected, correct):
    assert score_answer("exact", answer, expected).correct is correct


@pytest.mark.parametrize(("answer", "expected", "correct"), [
    ("The colour is blue.", ("blue",), True),
    ("The colour is Blue.", ("blue",), False),
    ("nothing", ("blue", "noth"), True),
])
def test_contains_finds_an_accepted_answer_in_the_answer(answer, expected, correct):
    assert score_answer("contains", answer, expected).correct is correct


@pytest.mark.parametrize(("answer", "expected", "correct"), [
    ("42", ("42",), True),
    ("42.0", ("42",), True),
    ("There are 1,234 lines.", ("1234",), True),
    ("In 3 files there are 17 matches", ("17",), True),  # the last number
    ("In 3 files there are 17 matches", ("3",), False),
    ("-0.5", ("-.5",), True),
    ("1e3", ("1000",), True),
    ("none found", ("0",), False),
])
def test_number_reads_the_answers_number(answer, expected, correct):
    assert score_answer("number", answer, expected).correct is correct


def test_f1_scores_token_overlap_and_is_correct_at_its_threshold():
    assert token_f1("The quick brown fox", "quick brown fox jumps") == pytest.approx(6 / 7)
    judged = score_answer("f1", "the quick brown fox", ("quick brown fox jumps",))
    assert judged.correct and judged.score == pytest.approx(0.8571, abs=1e-4)
    strict = score_answer("f1", "the quick brown fox", ("quick brown fox jumps",),
                          threshold=0.9)
    assert not strict.correct
    assert score_answer("f1", "cat", ("dog", "cat")).score == 1.0  # the best counts


@pytest.mark.parametrize(("answer", "expected", "correct"), [
    ("Paris, France", (r"^Paris\b",), True),
    ("It is Paris", (r"^Paris\b",), False),
    ("ID-0042", (r"ID-\d{4}",), True),
])
def test_regex_searches_the_answer(answer, expected, correct):
    assert score_answer("regex", answer, expected).correct is correct


@pytest.mark.parametrize("scorer", ["exact", "contains", "number", "f1", "regex"])
def test_no_answer_scores_zero(scorer):
    judged = score_answer(scorer, None, ("1",))
    assert judged.score == 0.0 and not judged.correct


def test_expected_answers_that_a_scorer_cannot_use_are_named():
    assert "not a number" in check_expected("number", ("forty",))
    assert "not a regular expression" in check_expected("regex", ("(",))
    assert check_expected("exact", ("(",)) is None
    assert parse_number("about 7.") == 7.0
