"""Baseline comparison (the case is the unit): outcomes, evidence, BH across cases, the overall paired test."""

from __future__ import annotations

import pytest

from goldband.compare import stats as compare_stats
from goldband.compare.cases import CaseStats, compare


def key(case: str, target: str = "gpt", goldenset: str = "support") -> tuple[str, str, str]:
    return (goldenset, case, target)


def test_case_stats_rate_is_over_scored_trials():
    assert CaseStats(10, 6, errors=2).scored == 8
    assert CaseStats(10, 6, errors=2).rate == 0.75
    assert CaseStats(3, 0, errors=3).rate is None


# --------------------------------------------------------------------------- outcomes


def test_each_outcome():
    base = {key("drop"): CaseStats(20, 20), key("rise"): CaseStats(20, 4), key("same"): CaseStats(20, 15),
            key("gone"): CaseStats(10, 10)}
    head = {key("drop"): CaseStats(20, 4), key("rise"): CaseStats(20, 20), key("same"): CaseStats(20, 15),
            key("fresh"): CaseStats(10, 10)}
    result = compare(base, head)
    outcomes = {c.key[1]: c.outcome for c in result.changes}
    assert outcomes == {"drop": "regressed", "rise": "improved", "same": "not significant", "gone": "removed",
                        "fresh": "new"}
    assert [c.key for c in result.changes] == sorted(c.key for c in result.changes)
    assert [c.key[1] for c in result.regressions] == ["drop"]
    assert (result.count("regressed"), result.count("improved"), result.count("not significant")) == (1, 1, 1)


def test_a_regression_carries_its_evidence():
    result = compare({key("a"): CaseStats(20, 20)}, {key("a"): CaseStats(20, 4)})
    (change,) = result.changes
    expected = compare_stats.compare_pass_counts(20, 20, 4, 20)
    assert change.delta == pytest.approx(-0.8)
    assert (change.low, change.high) == pytest.approx(expected.interval)
    assert change.p_value == pytest.approx(expected.p_value)
    assert change.p_adjusted == pytest.approx(expected.p_value)  # one case: BH changes nothing
    assert change.low < change.delta < change.high < 0
    assert change.base == CaseStats(20, 20) and change.head == CaseStats(20, 4)


def test_new_and_removed_have_no_statistics():
    result = compare({key("old"): CaseStats(5, 5)}, {key("new"): CaseStats(5, 5)})
    new, old = result.changes
    assert (new.outcome, new.base, new.head) == ("new", None, CaseStats(5, 5))
    assert (old.outcome, old.base, old.head) == ("removed", CaseStats(5, 5), None)
    assert new.delta is None and new.p_value is None and old.p_adjusted is None
    assert result.overall is None


def test_min_effect_floor_ignores_small_significant_changes():
    base, head = {key("a"): CaseStats(400, 400)}, {key("a"): CaseStats(400, 370)}  # 1.00 -> 0.925
    assert compare(base, head).changes[0].p_adjusted < 0.05
    assert compare(base, head, min_effect=0.1).changes[0].outcome == "not significant"
    assert compare(base, head, min_effect=0.05).changes[0].outcome == "regressed"


def test_alpha_is_the_significance_level():
    base, head = {key("a"): CaseStats(10, 10)}, {key("a"): CaseStats(10, 6)}
    p = compare(base, head).changes[0].p_value
    assert 0.01 < p < 0.1
    assert compare(base, head, alpha=0.01).changes[0].outcome == "not significant"
    assert compare(base, head, alpha=0.1).changes[0].outcome == "regressed"


def test_two_hundred_identical_cases_give_no_regressions():
    cases = {key(f"case-{i:03}"): CaseStats(10, 8) for i in range(200)}
    result = compare(cases, dict(cases))
    assert result.count("not significant") == 200 and not result.regressions
    assert result.overall is not None and result.overall.n_cases == 200 and result.overall.n_changed == 0
    assert result.overall.p_value == 1.0


def test_bh_adjustment_across_cases():
    """A borderline case is significant alone but not among many unchanged ones."""
    borderline = (CaseStats(10, 10), CaseStats(10, 6))
    alone = compare({key("x"): borderline[0]}, {key("x"): borderline[1]})
    assert alone.changes[0].outcome == "regressed"
    base = {key("x"): borderline[0], **{key(f"c{i}"): CaseStats(10, 8) for i in range(30)}}
    head = {key("x"): borderline[1], **{key(f"c{i}"): CaseStats(10, 8) for i in range(30)}}
    crowd = {c.key: c for c in compare(base, head).changes}
    x = crowd[key("x")]
    assert x.outcome == "not significant"
    p_values = [crowd[k].p_value for k in sorted(crowd)]
    adjusted, _ = compare_stats.benjamini_hochberg(p_values)
    assert [crowd[k].p_adjusted for k in sorted(crowd)] == pytest.approx(list(adjusted))
    assert x.p_adjusted > x.p_value


def test_cases_without_scored_trials_are_not_compared():
    base = {key("all-err-head"): CaseStats(5, 5), key("all-err-base"): CaseStats(5, 0, errors=5),
            key("ok"): CaseStats(5, 5)}
    head = {key("all-err-head"): CaseStats(5, 0, errors=5), key("all-err-base"): CaseStats(5, 5),
            key("ok"): CaseStats(5, 5)}
    result = compare(base, head)
    by = {c.key[1]: c for c in result.changes}
    assert by["all-err-head"].outcome == "new" and by["all-err-head"].p_value is None
    assert by["all-err-head"].base == CaseStats(5, 5)  # the base side is kept for the report
    assert by["all-err-base"].outcome == "new" and by["all-err-base"].delta is None
    assert by["ok"].outcome == "not significant"
    assert result.overall is not None and result.overall.n_cases == 1  # only the comparable case


def test_overall_paired_comparison_over_per_case_rates():
    base = {key(f"c{i}"): CaseStats(10, 10) for i in range(8)}
    head = {key(f"c{i}"): CaseStats(10, 8) for i in range(8)}
    result = compare(base, head, base_label="main", head_label="pr-7")
    expected = compare_stats.paired_comparison([1.0] * 8, [0.8] * 8)
    assert result.overall == expected
    assert result.overall.mean_delta == pytest.approx(-0.2) and result.overall.n_changed == 8
    assert (result.base_label, result.head_label, result.alpha, result.min_effect) == ("main", "pr-7", 0.05, 0.1)


def test_score_comparison_needs_two_scores_a_side():
    base = {key("a"): CaseStats(4, 4, scores=(0.9, 0.95, 0.92, 0.91)), key("b"): CaseStats(4, 4, scores=(0.9,))}
    head = {key("a"): CaseStats(4, 4, scores=(0.5, 0.55, 0.52, 0.51)), key("b"): CaseStats(4, 4, scores=(0.5,))}
    by = {c.key[1]: c for c in compare(base, head).changes}
    assert by["a"].score_delta == pytest.approx(-0.4) and by["a"].score_p is not None
    assert by["b"].score_delta is None and by["b"].score_p is None


def test_empty_comparison():
    result = compare({}, {})
    assert result.changes == () and result.overall is None and result.regressions == ()


def test_an_adaptive_side_has_its_p_value_corrected_for_its_stopping_points():
    """french-hello 14/18 -> 1/5 from the issue: 'significant' only if n had been fixed in advance."""
    fixed = compare({key("a"): CaseStats(18, 14)}, {key("a"): CaseStats(5, 1)}).changes[0]
    adaptive = compare({key("a"): CaseStats(18, 14)}, {key("a"): CaseStats(5, 1, looks=18)}).changes[0]
    assert fixed.p_value is not None and adaptive.p_value is not None
    assert adaptive.p_value == pytest.approx(min(1.0, 18 * fixed.p_value))
    assert adaptive.looks == 18 and adaptive.outcome == "not significant"
    assert adaptive.low is not None and fixed.low is not None and adaptive.low < fixed.low  # a wider interval


def test_same_content_cases_are_reported_and_take_no_part_in_the_tests():
    base = {key("a"): CaseStats(10, 10), key("b"): CaseStats(10, 10)}
    head = {key("a"): CaseStats(10, 0)}
    result = compare(base, head, same_content=[key("b")])
    by = {c.key[1]: c for c in result.changes}
    assert by["b"].outcome == "same content" and by["b"].p_value is None
    assert by["a"].outcome == "regressed" and by["a"].p_adjusted == by["a"].p_value  # BH over one test
    assert result.overall is not None and result.overall.n_cases == 1
