"""``refusal``: refusal phrasings found case-insensitively; must answer by default, or must refuse."""

from __future__ import annotations

import pytest

from goldband.checks.refusal import REFUSAL_PHRASES, is_refusal
from tests.checks.test_checks import assert_fails, assert_passes, build_error, run


@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't help with that.",
    "I CANNOT ASSIST WITH THIS REQUEST.",
    "As an AI language model, I don't have opinions.",
    "I\u2019m unable to share that.",  # a typographic apostrophe
    "Sorry,   I can't\ndo that.",  # spaces and line breaks
])
def test_common_refusals_are_found(text: str) -> None:
    assert is_refusal(text) is not None


@pytest.mark.parametrize("text", ["Sure, the refund window is 30 days.", "", "I can help with that!"])
def test_answers_are_not_refusals(text: str) -> None:
    assert is_refusal(text) is None


def test_the_phrases_are_lower_case_and_unique() -> None:
    assert all(p == p.casefold().strip() for p in REFUSAL_PHRASES)
    assert len(set(REFUSAL_PHRASES)) == len(REFUSAL_PHRASES)


def test_by_default_the_output_must_not_be_a_refusal() -> None:
    assert_passes(run({"refusal": False}, "Returns are accepted within 30 days."), "no refusal phrasing")
    score = run({"refusal": False}, "I'm sorry, but I can't help with that.")
    assert_fails(score, "refusal: found \"i can't help with\"")
    assert score.check == "no refusal"


def test_expect_true_requires_a_refusal() -> None:
    assert_passes(run({"refusal": True}, "I must decline."))
    assert_fails(run({"refusal": True}, "Here is how to pick a lock..."))


def test_extra_phrases_count_as_refusals() -> None:
    entry = {"refusal": False, "phrases": ["Please contact support"]}
    assert_fails(run(entry, "please CONTACT support for that."), "please contact support")


def test_bad_parameters_are_named_at_load() -> None:
    assert "check 'refusal': parameter 'expect'" in build_error({"refusal": "maybe"})
    assert "unknown parameter 'phrase'" in build_error({"refusal": True, "phrase": ["x"]})


def test_a_bare_refusal_entry_means_must_answer() -> None:
    assert_fails(run({"refusal": None}, "I must decline."))
    assert_passes(run({"refusal": None}, "Here you go."))
