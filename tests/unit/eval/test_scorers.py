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


@pytest.mark.parametrize(("answer", "expected", "score"), [
    ('{"ok": true, "n": 3}', '{"ok": true, "n": 3}', 1.0),
    ('{"ok": true, "n": 3.0, "extra": 1}', '{"ok": true, "n": 3}', 1.0),  # 3 is 3.0
    ('{"ok": true, "n": 4}', '{"ok": true, "n": 3}', 0.5),  # one field of two
    ('{"ok": 1, "n": 3}', '{"ok": true, "n": 3}', 0.5),  # 1 is not true
    ('{"n": 3}', '{"ok": true, "n": 3, "tags": ["a"]}', 1 / 3),  # a missing field
    ('{"tags": ["a", "b"]}', '{"tags": ["a"]}', 0.0),  # a field compares whole
    ('{"deep": {"a": 1}}', '{"deep": {"a": 1}}', 1.0),
    ('```json\n{"ok": false}\n```', '{"ok": false}', 1.0),
    ("[1, 2]", '{"ok": true}', 0.0),  # not an object
    ("ok: yes", '{"ok": true}', 0.0),  # not JSON
])
def test_json_scores_the_share_of_expected_fields_equal(answer, expected, score):
    judged = score_answer("json", answer, (expected,))
    assert judged.score == pytest.approx(score, abs=1e-4)
    assert judged.correct is (score == 1.0)


def test_json_takes_the_best_accepted_object_and_names_a_bad_one():
    judged = score_answer("json", '{"a": 1, "b": 2}', ('{"a": 9, "b": 9}', '{"a": 1, "b": 9}'))
    assert judged.score == 0.5
    assert score_answer("json", None, ('{"a": 1}',)).score == 0.0
    assert "not a JSON object" in check_expected("json", ("[1]",))
