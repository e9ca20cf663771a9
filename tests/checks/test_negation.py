"""``not``: the negation of any check; an inner error stays an error; bad inner checks fail at load."""

from __future__ import annotations

import pickle
from pathlib import Path

from judgekit import RUBRIC
from tests.checks.test_checks import assert_error, assert_fails, assert_passes, build, build_error, run


def test_not_passes_when_the_inner_check_fails_and_says_so() -> None:
    score = run({"not": {"contains": "as an AI"}}, "Sure, 30 days.")
    assert_passes(score, 'contains "as an AI" failed, as required')
    assert score.check == 'not contains "as an AI"'


def test_not_fails_when_the_inner_check_passes() -> None:
    assert_fails(run({"not": {"contains": "as an AI"}}, "Speaking as an AI..."), "passed, but must not")


def test_not_keeps_the_inner_parameters() -> None:
    entry = {"not": {"regex": "^sorry", "case_sensitive": False}}
    assert_fails(run(entry, "Sorry, no."))
    assert_passes(run(entry, "Yes."))


def test_an_inner_error_stays_an_error_never_a_pass() -> None:
    score = run({"not": {"similarity": None}}, "text")  # no reference: the inner check cannot look
    assert_error(score, "could not be evaluated: no text to compare with")


def test_a_label_beside_not_names_the_negation() -> None:
    score = run({"not": {"contains": "x"}, "label": "never says x"}, "y")
    assert score.check == "never says x"


def test_not_of_not_is_the_check_itself() -> None:
    entry = {"not": {"not": {"contains": "30"}}}
    assert_passes(run(entry, "30 days"))
    assert_fails(run(entry, "a month"))


def test_not_with_a_transform_inside_and_outside() -> None:
    inner = {"not": {"contains": "ai", "transform": "output | lower"}}
    assert_fails(run(inner, "As an AI"))
    outer = {"not": {"contains": "ai"}, "transform": "output | lower"}
    assert_fails(run(outer, "As an AI"))


def test_not_pickles_with_its_built_inner_check() -> None:
    check = build({"not": {"contains": "x"}})
    again = pickle.loads(pickle.dumps(check))
    assert again == check
    assert again.describe() == 'not contains "x"'


def test_a_misspelled_inner_check_is_named_at_load() -> None:
    message = build_error({"not": {"contians": "x"}})
    assert "check 'not': inner check: unknown check 'contians'" in message
    assert "did you mean 'contains'?" in message


def test_bad_inner_parameters_are_named_at_load() -> None:
    message = build_error({"not": {"contains": "x", "mode": "some"}})
    assert "check 'not': inner check: check 'contains': parameter 'mode'" in message


def test_not_needs_a_check_mapping() -> None:
    message = build_error({"not": "as an AI"})
    assert "check 'not': parameter 'check': 'not' takes the check to negate" in message


def test_a_judged_check_cannot_be_negated(tmp_path: Path) -> None:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "helpful.yaml").write_text(RUBRIC, encoding="utf-8")
    message = build_error({"not": {"rubric": "helpful"}}, tmp_path)
    assert "'rubric' is graded by the judge and cannot be negated" in message


def test_two_checks_inside_one_not_are_refused() -> None:
    assert "one check entry names several checks" in build_error({"not": {"contains": "a", "regex": "b"}})
