"""Base-vs-head statistics: exact values against scipy and published examples, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from goldband.compare.stats import (
    benjamini_hochberg,
    classify_change,
    compare_pass_counts,
    compare_scores,
    newcombe_interval,
    paired_comparison,
)

# --------------------------------------------------------------------------- pass counts


@given(
    base=st.integers(0, 12),
    head=st.integers(0, 12),
    base_n=st.integers(12, 15),
    head_n=st.integers(12, 15),
)
@settings(max_examples=25, deadline=None)
def test_pass_count_p_value_is_scipys_barnard(base, head, base_n, head_n):
    table = [[head, base], [head_n - head, base_n - base]]
    expected = sps.barnard_exact(table, alternative="two-sided").pvalue
    assert compare_pass_counts(base, base_n, head, head_n).p_value == pytest.approx(
        min(expected, 1.0)
    )


def test_barnard_keeps_its_size_and_beats_fisher_at_ten_repeats():
    """The reason for Barnard: exact size <= 5 % at 10 repeats a side, and more power."""
    k, n = np.arange(11), 10
    barnard = np.array([[compare_pass_counts(b, n, h, n).p_value for b in k] for h in k])
    fisher = np.array([[sps.fisher_exact([[h, b], [n - h, n - b]]).pvalue for b in k] for h in k])
    pmf = sps.binom.pmf(k[:, None], n, np.linspace(0.01, 0.99, 99)[None, :])
    size = np.einsum("hp,bp,hb->p", pmf, pmf, (barnard <= 0.05).astype(float))
    assert size.max() <= 0.05

    def power(p_head: float, p_base: float, table: np.ndarray) -> float:
        joint = np.outer(sps.binom.pmf(k, n, p_head), sps.binom.pmf(k, n, p_base))
        return float((joint * (table <= 0.05)).sum())

    assert power(0.6, 1.0, barnard) > power(0.6, 1.0, fisher) + 0.2


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Stat Med 17:873, example (a): 56/70 - 48/80, method 10
    assert newcombe_interval(48, 80, 56, 70, confidence=0.95) == pytest.approx(
        (0.0524, 0.3339), abs=5e-5
    )


@given(
    base=st.integers(0, 30),
    head=st.integers(0, 30),
    base_extra=st.integers(0, 30),
    head_extra=st.integers(0, 30),
)
def test_newcombe_interval_contains_the_delta(base, head, base_extra, head_extra):
    base_n, head_n = base + base_extra or 1, head + head_extra or 1
    low, high = newcombe_interval(base, base_n, head, head_n)
    delta = head / head_n - base / base_n
    assert -1.0 <= low <= delta + 1e-12 and delta - 1e-12 <= high <= 1.0


def test_compare_pass_counts_reports_the_change():
    result = compare_pass_counts(10, 10, 4, 10)
    assert (result.base_rate, result.head_rate, result.delta) == pytest.approx((1.0, 0.4, -0.6))
    assert result.interval[1] < 0 and result.p_value < 0.01
    assert compare_pass_counts(7, 10, 7, 10).p_value == 1.0


@pytest.mark.parametrize("args", [(0, 0, 3, 10), (3, 10, 0, 0), (11, 10, 3, 10)])
def test_compare_pass_counts_needs_trials_on_both_sides(args):
    with pytest.raises(ValueError, match="cannot be compared"):
        compare_pass_counts(*args)


# --------------------------------------------------------------------------- scores


def test_compare_scores_uses_mann_whitney_and_a_seeded_bootstrap():
    base, head = [4.0, 5.0, 4.0, 5.0, 5.0, 4.0], [3.0, 2.0, 4.0, 3.0, 3.0, 2.0]
    result = compare_scores(base, head, seed=1)
    expected = sps.mannwhitneyu(head, base, alternative="two-sided").pvalue
    assert result.p_value == pytest.approx(expected)
    assert result.delta == pytest.approx(np.mean(head) - np.mean(base))
    assert result.interval[0] <= result.delta <= result.interval[1] < 0
    assert compare_scores(base, head, seed=1) == result


def test_compare_scores_edge_cases():
    same = compare_scores([3.0, 3.0], [3.0, 3.0, 3.0])
    assert (same.p_value, same.delta, same.interval) == (1.0, 0.0, (0.0, 0.0))
    assert all(math.isnan(v) for v in compare_scores([3.0], [1.0, 2.0]).interval)
    with pytest.raises(ValueError, match="empty"):
        compare_scores([], [1.0])


# --------------------------------------------------------------------------- across cases


@given(st.lists(st.floats(0.0, 1.0), max_size=50), st.floats(0.01, 0.2))
def test_benjamini_hochberg_is_scipys(p_values, alpha):
    adjusted, rejected = benjamini_hochberg(p_values, alpha=alpha)
    if p_values:
        assert adjusted == pytest.approx(sps.false_discovery_control(p_values, method="bh"))
    assert list(rejected) == [a <= alpha for a in adjusted]


def test_benjamini_hochberg_by_hand():
    # sorted p 0.01, 0.03, 0.04, 0.5 -> p * m / rank = 0.04, 0.06, 0.0533, 0.5 -> cummin from top
    adjusted, rejected = benjamini_hochberg([0.01, 0.04, 0.03, 0.5], alpha=0.05)
    assert adjusted == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert list(rejected) == [True, False, False, False]


def test_benjamini_hochberg_edge_cases():
    adjusted, rejected = benjamini_hochberg([])
    assert adjusted.size == 0 and rejected.size == 0 and rejected.dtype == bool
    with pytest.raises(ValueError, match="NaN"):
        benjamini_hochberg([0.1, math.nan])
    with pytest.raises(ValueError, match="alpha"):
        benjamini_hochberg([0.1], alpha=0.0)


@pytest.mark.parametrize(
    ("delta", "p", "change"),
    [
        (-0.3, 0.01, "regressed"),
        (0.3, 0.01, "improved"),
        (-0.3, 0.2, "not significant"),  # not significant
        (-0.05, 0.001, "not significant"),  # significant but below the minimum effect
        (math.nan, 0.01, "not significant"),
        (-0.3, math.nan, "not significant"),
    ],
)
def test_classify_change(delta, p, change):
    assert classify_change(delta, p, alpha=0.05, min_effect=0.1) == change


def test_classify_change_rejects_negative_effect():
    with pytest.raises(ValueError, match="min_effect"):
        classify_change(0.1, 0.01, min_effect=-0.1)


# --------------------------------------------------------------------------- paired


def test_paired_comparison_is_scipys_wilcoxon_over_case_deltas():
    rng = np.random.default_rng(5)
    base = rng.binomial(10, 0.8, 60)
    head = np.clip(base - 2 * rng.binomial(1, 0.3, 60), 0, 10)
    result = paired_comparison(base / 10, head / 10)
    # on integer counts the ties are exact; signed ranks do not care about the scale
    expected = sps.wilcoxon(head - base, zero_method="wilcox")
    assert (result.statistic, result.p_value) == pytest.approx(
        (expected.statistic, expected.pvalue)
    )
    assert result.mean_delta < 0 and result.interval[0] <= result.mean_delta <= result.interval[1]
    assert result.n_cases == 60 and result.n_changed == int(np.count_nonzero(head - base))


def test_paired_comparison_all_zero_differences():
    result = paired_comparison([0.5, 1.0, 0.7], [0.5, 1.0, 0.7])
    assert (result.p_value, result.n_changed, result.interval) == (1.0, 0, (0.0, 0.0))
    assert math.isnan(result.statistic)
    assert paired_comparison([0.1 + 0.2, 0.7], [0.3, 0.7]).n_changed == 0  # float noise


def test_paired_comparison_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        paired_comparison([0.5, 0.6], [0.5])
    with pytest.raises(ValueError, match="empty"):
        paired_comparison([], [])
