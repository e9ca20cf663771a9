"""Near-duplicate candidates: the score is rapidfuzz's token_sort_ratio, the choice a greedy pass in order."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from goldband.golden.similar import DEFAULT_THRESHOLD, drop_near_duplicates, normalise, sorted_words

WORDS = st.sampled_from(["can", "I", "return", "shoes", "after", "40", "days", "refund", "Refund!", "order",
                         "where", "is", "my", "late", "  ", "\n", "?", "é", "30"])
TEXTS = st.lists(WORDS, max_size=8).map(" ".join)


def test_normalise_lowers_strips_punctuation_and_collapses_spaces() -> None:
    assert normalise("  Where IS my\torder?!\n\n(NW-1234)  ") == "where is my order nw 1234"
    assert normalise("") == ""


@settings(max_examples=300, deadline=None)
@given(TEXTS, TEXTS)
def test_the_score_is_token_sort_ratio(a: str, b: str) -> None:
    """The sorted words compared by ratio give exactly rapidfuzz's token_sort_ratio of the processed texts."""
    ours = fuzz.ratio(sorted_words(a), sorted_words(b))
    assert ours == pytest.approx(fuzz.token_sort_ratio(a, b, processor=default_process))


def test_reordered_and_repunctuated_questions_are_duplicates() -> None:
    kept, dropped = drop_near_duplicates(
        ["After 40 days, can I return shoes?", "Can I get a refund for a gift card?",
         "can i return shoes after 40 days"], ["Can I return shoes after 40 days?"], existing_ids=["refund-window"])
    assert kept == [1]
    assert dropped == [(0, "case refund-window", 100.0), (2, "case refund-window", 100.0)]


def test_a_changed_word_is_kept_below_the_threshold() -> None:
    kept, dropped = drop_near_duplicates(["Can I return boots after 40 days?"],
                                         ["Can I return shoes after 40 days?"])
    assert (kept, dropped) == ([0], [])
    kept, dropped = drop_near_duplicates(["Can I return boots after 40 days?"],
                                         ["Can I return shoes after 40 days?"], threshold=80)
    assert kept == [] and dropped[0][:2] == (0, "case #0") and 80 <= dropped[0][2] < DEFAULT_THRESHOLD


def test_candidates_are_compared_with_earlier_kept_ones_only() -> None:
    # b is near a, c is near b but not a: b goes (near a, kept), c stays (b was dropped)
    a, b, c = "aaaa bbbb cccc dddd", "aaaa bbbb cccc dddx", "aaaa bbbb cccx dddx"
    kept, dropped = drop_near_duplicates([a, b, c], [], threshold=90)
    assert fuzz.ratio(sorted_words(a), sorted_words(c)) < 90 <= fuzz.ratio(sorted_words(b), sorted_words(c))
    assert kept == [0, 2]
    assert [d[:2] for d in dropped] == [(1, "candidate 0")]


def test_empty_inputs_and_bad_arguments() -> None:
    assert drop_near_duplicates([], ["x"]) == ([], [])
    assert drop_near_duplicates(["x"], []) == ([0], [])
    with pytest.raises(ValueError, match="threshold"):
        drop_near_duplicates(["x"], [], threshold=101)
    with pytest.raises(ValueError, match="existing_ids"):
        drop_near_duplicates(["x"], ["y"], existing_ids=[])


def test_many_candidates_cross_the_chunk_boundary() -> None:
    """More candidates than one cdist call takes: duplicates far apart are still found."""
    rng = random.Random(7)
    texts = [" ".join(f"word{rng.randrange(5000)}" for _ in range(8)) for _ in range(600)]
    kept, dropped = drop_near_duplicates([*texts, texts[5].upper(), texts[9] + " zz"], [texts[599]])
    assert kept == list(range(599))
    assert dropped[0] == (599, "case #0", 100.0)
    assert dropped[1] == (600, "candidate 5", 100.0)
    assert dropped[2][:2] == (601, "candidate 9") and dropped[2][2] >= DEFAULT_THRESHOLD


def _naive(candidates: list[str], existing: list[str], threshold: float) -> list[int]:
    kept: list[int] = []
    for i, text in enumerate(candidates):
        scores = [fuzz.token_sort_ratio(text, other, processor=default_process)
                  for other in [*existing, *(candidates[j] for j in kept)]]
        if not scores or max(scores) < threshold:
            kept.append(i)
    return kept


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXTS, max_size=12), st.lists(TEXTS, max_size=4), st.sampled_from([60.0, 80.0, 90.0, 100.0]))
def test_agrees_with_a_pairwise_loop(candidates: list[str], existing: list[str], threshold: float) -> None:
    kept, dropped = drop_near_duplicates(candidates, existing, threshold=threshold)
    assert kept == _naive(candidates, existing, threshold)
    assert sorted([*kept, *(d[0] for d in dropped)]) == list(range(len(candidates)))
    for index, what, score in dropped:
        kind, _, ref = what.partition(" ")
        other = existing[int(ref[1:])] if kind == "case" else candidates[int(ref)]
        assert kind == "case" or (int(ref) in kept and int(ref) < index)
        assert score >= threshold
        assert score == round(fuzz.token_sort_ratio(candidates[index], other, processor=default_process), 1)
