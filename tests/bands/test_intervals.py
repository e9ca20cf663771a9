"""Confidence intervals for a pass rate and a mean score: properties (hypothesis), exact values against scipy,
edge cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from goldband.bands.intervals import clopper_pearson_interval, mean_interval, proportion_interval, wilson_interval

from .strategies import METHODS, confidences, counts

# --------------------------------------------------------------------------- intervals: properties


@pytest.mark.parametrize("method", METHODS)
@given(pn=counts(), confidence=confidences)
def test_interval_in_unit_range_and_contains_the_rate(method, pn, confidence):
    passes, n = pn
    low, high = proportion_interval(passes, n, confidence=confidence, method=method)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= passes / n <= high


@pytest.mark.parametrize("method", METHODS)
@given(pn=counts(), confidence=confidences)
def test_interval_bounds_non_decreasing_in_passes(method, pn, confidence):
    passes, n = pn
    if passes == n:
        passes -= 1
    if passes < 0:
        return
    low0, high0 = proportion_interval(passes, n, confidence=confidence, method=method)
    low1, high1 = proportion_interval(passes + 1, n, confidence=confidence, method=method)
    assert low0 <= low1 and high0 <= high1


@pytest.mark.parametrize("method", METHODS)
@given(pn=counts(max_n=200), factor=st.integers(2, 5), confidence=confidences)
def test_interval_narrows_as_n_grows_at_a_fixed_rate(method, pn, factor, confidence):
    passes, n = pn
    if n == 0:
        return
    low, high = proportion_interval(passes, n, confidence=confidence, method=method)
    low2, high2 = proportion_interval(
        factor * passes, factor * n, confidence=confidence, method=method
    )
    assert high2 - low2 < high - low


@pytest.mark.parametrize("method", METHODS)
@given(pn=counts(), c1=confidences, c2=confidences)
def test_higher_confidence_gives_a_wider_nested_interval(method, pn, c1, c2):
    passes, n = pn
    lo_c, hi_c = sorted((c1, c2))
    narrow = proportion_interval(passes, n, confidence=lo_c, method=method)
    wide = proportion_interval(passes, n, confidence=hi_c, method=method)
    assert wide[0] <= narrow[0] + 1e-12 and narrow[1] <= wide[1] + 1e-12


@pytest.mark.parametrize("method", METHODS)
@given(n=st.integers(1, 400), confidence=confidences)
def test_interval_edges_all_pass_and_all_fail(method, n, confidence):
    assert proportion_interval(n, n, confidence=confidence, method=method)[1] == 1.0
    assert proportion_interval(0, n, confidence=confidence, method=method)[0] == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_no_trials_means_no_information(method):
    assert proportion_interval(0, 0, confidence=0.9, method=method) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("passes", "n", "confidence", "message"),
    [
        (3, 2, 0.9, "passes <= n"),
        (-1, 2, 0.9, "passes <= n"),
        (1, 2, 1.0, "confidence"),
        (1, 2, 0.0, "confidence"),
    ],
)
def test_interval_rejects_impossible_input(passes, n, confidence, message):
    with pytest.raises(ValueError, match=message):
        wilson_interval(passes, n, confidence=confidence)


def test_interval_refuses_float_counts():
    with pytest.raises(TypeError):
        wilson_interval(2.5, 10)  # type: ignore[arg-type]


def test_unknown_interval_method():
    with pytest.raises(ValueError, match="wilson"):
        proportion_interval(1, 2, method="wald")  # type: ignore[arg-type]


# ------------------------------------------------------------------------- intervals: exact values


def test_wilson_matches_the_formula_by_hand():
    # 3 of 10 at 90 %: z = 1.6449, centre (p + z^2/2n) / (1 + z^2/n), half-width z sqrt(...)
    z, p, n = sps.norm.ppf(0.95), 0.3, 10
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert wilson_interval(3, 10, confidence=0.9) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(3, 10, confidence=0.9) == pytest.approx((0.12688, 0.55830), abs=1e-5)


@given(pn=counts(), confidence=confidences)
def test_clopper_pearson_equals_scipy_binomtest(pn, confidence):
    passes, n = pn
    if n == 0:
        return
    ci = sps.binomtest(passes, n).proportion_ci(confidence_level=confidence, method="exact")
    assert clopper_pearson_interval(passes, n, confidence=confidence) == pytest.approx(
        (ci.low, ci.high), abs=1e-12
    )


def test_clopper_pearson_equals_beta_quantiles():
    a = 0.1
    low, high = sps.beta.ppf(a / 2, 7, 4), sps.beta.ppf(1 - a / 2, 8, 3)
    assert clopper_pearson_interval(7, 10, confidence=0.9) == pytest.approx((low, high))


# --------------------------------------------------------------------------- mean interval


@given(
    scores=st.lists(st.floats(0, 5, allow_nan=False), min_size=2, max_size=30),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=50, deadline=None)
def test_bootstrap_interval_stays_in_the_data_range_and_is_reproducible(scores, seed):
    low, high = mean_interval(scores, confidence=0.9, seed=seed, n_resamples=500)
    assert min(scores) - 1e-9 <= low <= high <= max(scores) + 1e-9
    assert mean_interval(scores, confidence=0.9, seed=seed, n_resamples=500) == (low, high)


def test_t_interval_equals_scipy():
    x = [3.0, 4.0, 4.0, 5.0, 2.0]
    ci = sps.ttest_1samp(x, 0.0).confidence_interval(confidence_level=0.9)
    assert mean_interval(x, confidence=0.9, method="t") == pytest.approx((ci.low, ci.high))


@pytest.mark.parametrize("method", ["bootstrap", "t"])
def test_mean_interval_undefined_and_degenerate_input(method):
    assert all(math.isnan(v) for v in mean_interval([], method=method))
    assert all(math.isnan(v) for v in mean_interval([4.0], method=method))
    assert mean_interval([4.0, 4.0, 4.0], method=method) == (4.0, 4.0)
    tiny = mean_interval([0.0, 2.2250738585072014e-308], method=method)  # spread underflows
    assert tiny[0] == tiny[1] and 0.0 <= tiny[0] <= 2.3e-308


def test_mean_interval_rejects_nan_and_unknown_method():
    with pytest.raises(ValueError, match="NaN"):
        mean_interval([1.0, math.nan])
    with pytest.raises(ValueError, match="bootstrap"):
        mean_interval([1.0, 2.0], method="jackknife")  # type: ignore[arg-type]


@given(counts(), confidences)
@settings(max_examples=300, deadline=None)
def test_the_closed_form_wilson_equals_scipys(pc: tuple[int, int], confidence: float) -> None:
    passes, n = pc
    ours = wilson_interval(passes, n, confidence=confidence)
    if n == 0:
        assert ours == (0.0, 1.0)
        return
    ci = sps.binomtest(passes, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert ours == pytest.approx((ci.low, ci.high), abs=1e-12)
