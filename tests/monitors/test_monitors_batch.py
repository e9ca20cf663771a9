"""Batch drift tests against scipy and against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from goldband.errors import MonitorError
from goldband.monitors import DriftResult, benjamini_hochberg, chi2, jensen_shannon, ks, psi, psi_band, wasserstein


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


# -- Kolmogorov-Smirnov ----------------------------------------------------------

KS_CASES = [
    (30, 40, 0.0),  # exact, n != m
    (500, 500, 0.2),  # exact, n == m
    (3_000, 2_000, 0.05),  # exact
    (10_000, 10_000, 0.0),  # exact at the limit
    (20_000, 15_000, 0.03),  # asymptotic
    (200_000, 50_000, 0.0),  # asymptotic
]


@pytest.mark.parametrize(("n", "m", "shift"), KS_CASES)
def test_ks_matches_scipy_ks_2samp(n: int, m: int, shift: float, rng: np.random.Generator) -> None:
    ref, cur = rng.normal(size=n), rng.normal(shift, 1.0, size=m)
    ours, theirs = ks(ref, cur), stats.ks_2samp(ref, cur)
    assert ours.statistic == theirs.statistic
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-10, abs=1e-300)
    assert ours.effect_size == ours.statistic
    assert ("exact" if max(n, m) <= 10_000 else "asymptotic") in ours.detail


def test_ks_statistic_handles_ties_like_scipy(rng: np.random.Generator) -> None:
    ref, cur = rng.integers(0, 5, 30_000) * 1.0, rng.integers(0, 6, 20_000) * 1.0
    assert ks(ref, cur).statistic == stats.ks_2samp(ref, cur).statistic
    assert ks(ref, ref).statistic == 0.0


def test_ks_needs_significance_and_effect_to_flag_drift(rng: np.random.Generator) -> None:
    ref, cur = rng.normal(size=200_000), rng.normal(0.03, 1.0, 200_000)
    tiny = ks(ref, cur)  # significant but a negligible effect
    assert tiny.p_value is not None and tiny.p_value < 1e-6
    assert not tiny.drifted and "effect" in tiny.detail
    assert ks(ref, cur, min_effect=0.01).drifted
    small = ks(np.arange(10.0), np.arange(10.0) + 2)  # D = 0.2 but only ten values each
    assert small.statistic >= 0.1 and small.p_value is not None and small.p_value > 0.05
    assert not small.drifted and "alpha" in small.detail


# -- PSI ---------------------------------------------------------------------------


def test_psi_matches_a_hand_computed_value() -> None:
    ref = np.arange(1.0, 101.0)  # quartile edges 25.75, 50.5, 75.25: 25 values per bin
    cur = np.array([10.0] * 10 + [40.0] * 20 + [60.0] * 30 + [90.0] * 40)
    r, c = np.array([0.25] * 4), np.array([0.1, 0.2, 0.3, 0.4])
    expected = float(np.sum((c - r) * np.log(c / r)))  # 0.2282...
    result = psi(ref, cur, bins=4)
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.p_value is None and result.effect_size == result.statistic
    assert "moderate" in result.detail and result.drifted


def test_psi_floors_empty_bins_at_eps() -> None:
    ref, cur = np.arange(1.0, 101.0), np.full(100, 10.0)  # everything in the first of 4 bins
    r, c = np.full(4, 0.25), np.array([1.0, 1e-4, 1e-4, 1e-4])
    expected = float(np.sum((c - r) * np.log(c / r)))
    assert psi(ref, cur, bins=4).statistic == pytest.approx(expected, rel=1e-12)
    assert psi(ref, cur, bins=4, eps=1e-6).statistic > expected


def test_psi_bands_and_a_constant_reference() -> None:
    assert [psi_band(v) for v in (0.0, 0.099, 0.1, 0.249, 0.25, 3.0)] == [
        "none", "none", "moderate", "moderate", "significant", "significant"]
    same = psi(np.ones(50), np.ones(80))
    assert same.statistic == 0.0 and not same.drifted
    assert psi(np.ones(50), np.zeros(80)).drifted


# -- values outside the reference's range (issue 11) ---------------------------------------


def _folded(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The old binning: reference deciles, values beyond the range folded into the edge bins."""
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    return tuple(np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
                 for x in (ref, cur))  # type: ignore[return-value]


def _psi_of(r_counts: np.ndarray, c_counts: np.ndarray, eps: float = 1e-4) -> float:
    r, c = np.maximum(r_counts / r_counts.sum(), eps), np.maximum(c_counts / c_counts.sum(), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def _evidently_psi(ref: np.ndarray, cur: np.ndarray, n_bins: int = 30) -> float:
    """Evidently's PSI by hand: equal-width bins over both samples, empty bins set to 0.0001."""
    edges = np.histogram_bin_edges(np.r_[ref, cur], bins=n_bins)
    r = np.histogram(ref, edges)[0] / len(ref)
    c = np.histogram(cur, edges)[0] / len(cur)
    np.place(r, r == 0, 0.0001)
    np.place(c, c == 0, 0.0001)
    return float(np.sum((r - c) * np.log(r / c)))


@pytest.mark.parametrize("share", [0.1, 0.5])
def test_values_outside_the_reference_range_count_fully(share: float, rng: np.random.Generator) -> None:
    n_out = int(1_000 * share)
    ref = rng.normal(size=1_000)
    cur = np.r_[rng.normal(size=1_000 - n_out), rng.normal(6.0, 1.0, n_out)]
    old_psi = _psi_of(*_folded(ref, cur))
    old_js = float(distance.jensenshannon(*_folded(ref, cur), base=2))
    new_psi, new_js = psi(ref, cur), jensen_shannon(ref, cur)
    outside = float(np.mean((cur < ref.min()) | (cur > ref.max())))
    assert new_psi.out_of_range_share == new_js.out_of_range_share == pytest.approx(outside)
    assert outside == pytest.approx(share, abs=0.02)
    # a share s beyond the range alone adds about s * ln(s / eps) to PSI
    assert new_psi.statistic > max(4 * old_psi, share * math.log(share / 1e-4))
    assert new_js.statistic > old_js + 0.1
    assert new_psi.statistic > _evidently_psi(ref, cur)  # at least as loud as Evidently's
    assert old_psi < _evidently_psi(ref, cur) / 2  # the old binning was the quiet one
    assert f"out of reference range {outside:.1%}" in new_psi.detail


def test_drift_inside_the_reference_range_is_unchanged(rng: np.random.Generator) -> None:
    ref, cur = rng.normal(size=5_000), rng.normal(0.3, 1.0, 5_000)
    new_psi, new_js = psi(ref, cur), jensen_shannon(ref, cur)
    assert new_psi.out_of_range_share is not None and new_psi.out_of_range_share < 0.01
    assert new_psi.statistic == pytest.approx(_psi_of(*_folded(ref, cur)), rel=0.1)
    assert new_js.statistic == pytest.approx(distance.jensenshannon(*_folded(ref, cur), base=2), rel=0.1)
    inside = np.clip(cur, ref.min(), ref.max())  # nothing outside: the same as the old binning exactly
    assert psi(ref, inside).statistic == pytest.approx(_psi_of(*_folded(ref, inside)), rel=1e-12)
    assert psi(ref, inside).out_of_range_share == 0.0


def test_out_of_range_shares_below_and_above_are_in_the_detail() -> None:
    result = psi(np.arange(10.0), [-5.0, -1.0, 0.0, 5.0, 9.0, 12.0, 15.0, 20.0])
    assert result.out_of_range_share == pytest.approx(5 / 8)
    assert "out of reference range 62.5% (25.0% below, 37.5% above)" in result.detail
    assert psi([1.0], [2.0]).out_of_range_share == 1.0
    assert psi([], [1.0]).out_of_range_share is None  # undefined: not measured


def test_chi2_pools_unseen_categories_into_one_bin_counted_fully() -> None:
    ref = {"a": 500, "b": 500}
    many_new = {"a": 400, "b": 400, **{f"id{i}": 5 for i in range(40)}}  # 200 values, 40 new labels
    result = chi2(ref, many_new)
    pooled = stats.chi2_contingency(np.array([[500, 500, 0], [400, 400, 200]]), correction=False)
    assert result.statistic == pytest.approx(pooled.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(pooled.pvalue, rel=1e-10)  # df 2, not 41
    assert result.unseen_share == pytest.approx(0.2) and result.drifted
    assert "1 unseen bin (40 new label(s)), unseen 20.0%" in result.detail
    assert chi2(["a", "b"] * 5, ["a"] * 3).unseen_share == 0.0
    assert chi2(["a"], []).unseen_share is None


# -- chi-square -----------------------------------------------------------------------


def test_chi2_matches_scipy_chi2_contingency(rng: np.random.Generator) -> None:
    ref = rng.choice(["a", "b", "c", "d"], size=5_000, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(["a", "b", "c", "d"], size=3_000, p=[0.35, 0.3, 0.2, 0.15])
    table = np.array([[np.sum(ref == k) for k in "abcd"], [np.sum(cur == k) for k in "abcd"]])
    theirs = stats.chi2_contingency(table, correction=False)
    ours = chi2(ref, cur)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-10)
    assert ours.effect_size == pytest.approx(math.sqrt(theirs.statistic / 8_000), rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10_000), st.integers(0, 10_000)), min_size=2, max_size=12))
def test_chi2_equals_scipy_chi2_contingency_on_any_table(columns: list[tuple[int, int]]) -> None:
    ref = {f"k{i}": a for i, (a, _) in enumerate(columns)}
    cur = {f"k{i}": b for i, (_, b) in enumerate(columns) if b}
    assume(sum(cur.values()) > 0)
    theirs = stats.chi2_contingency(np.array([[a for a, _ in columns], [b for _, b in columns]]), correction=False)
    ours = chi2(ref, cur)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12, abs=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-300)


def test_chi2_takes_counts_and_handles_unseen_categories() -> None:
    ours = chi2({"a": 60, "b": 40}, {"a": 30, "b": 30, "new": 40})
    table = np.array([[60, 40, 0], [30, 30, 40]])
    theirs = stats.chi2_contingency(table, correction=False)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert "1 unseen bin (1 new label(s)), unseen 40.0%" in ours.detail and ours.drifted
    assert ours.unseen_share == pytest.approx(0.4)
    lone = chi2(["x"] * 10, ["x"] * 5)
    assert (lone.statistic, lone.p_value, lone.effect_size, lone.drifted) == (0.0, 1.0, 0.0, False)


def test_chi2_missing_labels_raise_or_are_omitted() -> None:
    with pytest.raises(MonitorError, match=r"current sample has 2 missing label\(s\)"):
        chi2(["a", "b"], ["a", None, float("nan")])
    omitted = chi2(["a", "b"] * 10, ["a", None] * 10, nan_policy="omit")
    assert "dropped non-finite: 0 reference, 10 current" in omitted.detail
    with pytest.raises(MonitorError, match="count for 'a' is -1"):
        chi2({"a": -1}, {"a": 1})


# -- Wasserstein and Jensen-Shannon ------------------------------------------------------


def test_wasserstein_matches_scipy_and_scales_by_the_reference_sd(rng: np.random.Generator) -> None:
    ref, cur = rng.normal(10.0, 2.0, 5_000), rng.normal(10.5, 2.0, 4_000)
    result = wasserstein(ref, cur)
    assert result.statistic == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12)
    assert result.effect_size == pytest.approx(result.statistic / np.std(ref), rel=1e-12)
    assert result.drifted and result.p_value is None
    assert wasserstein([3.0, 3.0], [3.0]).effect_size == 0.0
    assert wasserstein([3.0, 3.0], [4.0]).effect_size == math.inf


def test_jensen_shannon_matches_scipy_on_reference_quantile_bins(
    rng: np.random.Generator,
) -> None:
    ref, cur = rng.normal(size=10_000), rng.normal(0.4, 1.2, 8_000)
    edges = np.quantile(ref, [0.25, 0.5, 0.75])
    below, above = cur < ref.min(), cur > ref.max()
    inside = [ref, cur[~(below | above)]]
    counts = [np.bincount(np.searchsorted(edges, x, side="right"), minlength=4) for x in inside]
    expected = distance.jensenshannon(np.r_[0, counts[0], 0], np.r_[below.sum(), counts[1], above.sum()], base=2)
    result = jensen_shannon(ref, cur, bins=4)
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.drifted and 0.0 < result.statistic < 1.0
    assert result.out_of_range_share == pytest.approx((below.sum() + above.sum()) / len(cur))
    assert "6 bins" in result.detail


# -- Benjamini-Hochberg ----------------------------------------------------------------


def test_benjamini_hochberg_matches_a_hand_computation() -> None:
    # m = 6, alpha = 0.05: thresholds k * alpha / m = .0083 .0167 .025 .0333 .0417 .05
    # sorted p: .001 .008 .020 .039 .041 .60 -> the largest k with p_(k) <= threshold is 5
    p = [0.041, 0.001, 0.60, 0.020, 0.008, 0.039]
    assert benjamini_hochberg(p, alpha=0.05) == [True, True, False, True, True, True]
    assert benjamini_hochberg(p, alpha=0.01) == [False, True, False, False, False, False]
    assert benjamini_hochberg([]) == []
    with pytest.raises(MonitorError, match="index 1: nan"):
        benjamini_hochberg([0.1, float("nan")])


# -- shared behaviour -----------------------------------------------------------------

NUMERIC = [ks, psi, wasserstein, jensen_shannon]


@pytest.mark.parametrize("test", NUMERIC, ids=lambda t: t.__name__)
def test_empty_samples_give_an_undefined_result(test: object) -> None:
    result = test([], [1.0, 2.0])  # type: ignore[operator]
    assert isinstance(result, DriftResult)
    assert math.isnan(result.statistic) and math.isnan(result.effect_size)
    assert not result.drifted and result.detail == "undefined: the reference sample is empty"


@pytest.mark.parametrize("test", NUMERIC, ids=lambda t: t.__name__)
def test_non_finite_values_raise_unless_omitted(test: object) -> None:
    ref, cur = [1.0, 2.0, 3.0, 4.0], [1.0, float("nan"), 2.5, float("inf")]
    with pytest.raises(ValueError, match=r"current sample has 2 non-finite value\(s\) \(1 NaN\), "
                                         r"the first at index 1: nan"):
        test(ref, cur)  # type: ignore[operator]
    omitted = test(ref, cur, nan_policy="omit")  # type: ignore[operator]
    expected = test(ref, [1.0, 2.5])  # type: ignore[operator]
    assert omitted.statistic == expected.statistic
    assert "dropped non-finite: 0 reference, 2 current" in omitted.detail


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ks([1.0], [2.0], alpha=1.5), r"ks\(\): alpha=1.5; expected a number in \(0, 1\)"),
        (lambda: psi([1.0], [2.0], min_effect=-1), "min_effect=-1; expected a number >= 0"),
        (lambda: psi([1.0], [2.0], bins=1), "bins=1; expected an integer >= 2"),
        (lambda: ks([[1.0]], [2.0]), r"the reference sample has shape \(1, 1\)"),
        (lambda: ks(["a"], [2.0]), "the reference sample is not numeric"),
        (lambda: ks([1.0], [2.0], nan_policy="drop"), "nan_policy='drop'"),
    ],
)
def test_bad_knobs_and_inputs_say_what_was_expected(call: object, message: str) -> None:
    with pytest.raises(MonitorError, match=message):
        call()  # type: ignore[operator]
