"""Joint drift: PCA reconstruction error and kernel MMD see what per-feature tests cannot."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from goldband.errors import MonitorError
from goldband.monitors import chi2, ks
from goldband.monitors.multivariate import (
    DEFAULT_MIN_EFFECT,
    MMDDrift,
    ReconstructionDrift,
    mmd,
    reconstruction_drift,
    reconstruction_errors,
    welch_greater,
)

METHODS = ("pca", "mmd")


def correlated(rng: np.random.Generator, n: int, rho: float = 0.8, flip: bool = False) -> dict[str, Any]:
    """Four standard-normal features in two pairs correlated ``rho``; ``flip`` turns the first pair's to -rho."""
    z = rng.normal(size=(n, 4))
    first = -rho if flip else rho
    return {"a": z[:, 0], "b": first * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1],
            "c": z[:, 2], "d": rho * z[:, 2] + np.sqrt(1 - rho**2) * z[:, 3]}


def paired(rng: np.random.Generator, n: int, crossed: bool = False) -> dict[str, Any]:
    """Plan and region always go together (basic-north, pro-south), or ``crossed`` (basic-south, pro-north)."""
    pro = rng.random(n) < 0.5
    north = ~pro if not crossed else pro
    return {"plan": ["pro" if p else "basic" for p in pro], "region": ["north" if x else "south" for x in north],
            "spend": rng.normal(50, 10, n)}


def joint(method: str, reference: Any, current: Any, **knobs: Any) -> Any:
    return reconstruction_drift(reference, current, **knobs) if method == "pca" else mmd(reference, current, **knobs)


@pytest.mark.parametrize("method", METHODS)
def test_a_correlation_flip_with_unchanged_marginals_is_joint_drift_and_invisible_to_ks(method: str) -> None:
    ref = correlated(np.random.default_rng(1), 2000)
    cur = correlated(np.random.default_rng(2), 500, flip=True)
    assert not any(ks(ref[f], cur[f]).drifted for f in ref)  # every marginal is as in the reference
    result = joint(method, ref, cur)
    assert result.drifted and result.p_value < 0.01 and result.effect_size >= DEFAULT_MIN_EFFECT[method]


@pytest.mark.parametrize("method", METHODS)
def test_a_new_combination_of_categories_is_joint_drift_and_invisible_to_chi2(method: str) -> None:
    ref = paired(np.random.default_rng(3), 2000)
    cur = paired(np.random.default_rng(4), 500, crossed=True)
    assert not chi2(ref["plan"], cur["plan"]).drifted and not chi2(ref["region"], cur["region"]).drifted
    assert joint(method, ref, cur).drifted


def test_the_reconstruction_error_rises_with_the_size_of_the_flip() -> None:
    fitted = ReconstructionDrift.fit(correlated(np.random.default_rng(1), 3000))
    rng = np.random.default_rng(5)
    same, flipped = correlated(rng, 2000), correlated(rng, 2000, flip=True)
    assert fitted.errors(flipped).mean() > 1.3 * fitted.errors(same).mean()


@pytest.mark.parametrize("method", METHODS)
def test_no_drift_false_alarms_near_alpha_and_none_with_the_minimum_effect(method: str) -> None:
    ref = correlated(np.random.default_rng(10), 2000)
    fitted = ReconstructionDrift.fit(ref) if method == "pca" else MMDDrift.fit(ref)
    knobs: dict[str, Any] = {} if method == "pca" else {"permutations": 99}
    count = 40 if method == "pca" else 20  # MMD: ~50 ms a window
    windows = [correlated(np.random.default_rng(100 + s), 2000 if method == "pca" else 500) for s in range(count)]
    significant = [fitted.test(w, min_effect=0.0, **knobs) for w in windows]
    share = np.mean([r.drifted for r in significant])
    assert share <= 0.2  # alpha 0.05: a share above 0.2 of 20-40 windows has probability < 2 % when calibrated
    assert not any(fitted.test(w, **knobs).drifted for w in windows)


def test_large_windows_need_the_minimum_effect_not_just_significance() -> None:
    fitted = ReconstructionDrift.fit(correlated(np.random.default_rng(11), 40_000, rho=0.8))
    nudged = correlated(np.random.default_rng(12), 20_000, rho=0.79)  # real, but the error rises only ~2 %
    loose, strict = fitted.test(nudged, min_effect=0.0), fitted.test(nudged)
    assert loose.drifted and loose.p_value < 1e-4
    assert not strict.drifted and "effect" in strict.detail


@pytest.mark.parametrize("method", METHODS)
def test_missing_values_and_categoricals_are_encoded_not_refused(method: str) -> None:
    rng = np.random.default_rng(6)
    ref, cur = {**correlated(rng, 1500), **paired(rng, 1500)}, {**correlated(rng, 400), **paired(rng, 400)}
    for data in (ref, cur):
        data["a"] = data["a"].copy()
        data["a"][::10] = np.nan
        data["plan"] = [None if i % 7 == 0 else p for i, p in enumerate(data["plan"])]
    cur["region"] = ["east" if i % 50 == 0 else r for i, r in enumerate(cur["region"])]  # a level never seen
    result = joint(method, ref, cur)
    assert result.defined and not result.drifted


@pytest.mark.parametrize("method", METHODS)
def test_a_window_of_identical_rows_is_tested_without_warnings(method: str) -> None:
    ref = {**correlated(np.random.default_rng(19), 1000), **paired(np.random.default_rng(20), 1000)}
    cur = {k: (np.full(100, np.nan) if isinstance(v, np.ndarray) else [None] * 100) for k, v in ref.items()}
    result = joint(method, ref, cur)  # every feature missing: imputed numbers, an unseen category
    assert result.defined and result.drifted


def test_unseen_categories_raise_the_reconstruction_error() -> None:
    rng = np.random.default_rng(7)
    fitted = ReconstructionDrift.fit(paired(rng, 2000))
    cur = paired(rng, 500)
    cur["plan"] = ["enterprise"] * 200 + cur["plan"][200:]
    assert fitted.test(cur).drifted


@pytest.mark.parametrize("method", METHODS)
def test_the_same_seed_gives_the_same_result(method: str) -> None:
    ref, cur = correlated(np.random.default_rng(8), 1500), correlated(np.random.default_rng(9), 700)
    assert joint(method, ref, cur, seed=3) == joint(method, ref, cur, seed=3)


def test_a_two_d_array_is_read_as_columns_and_matches_nannyml_style_errors() -> None:
    data = correlated(np.random.default_rng(13), 1000)
    matrix = np.column_stack(list(data.values()))
    assert np.allclose(reconstruction_errors(matrix, matrix[:50]), reconstruction_errors(data, {
        k: v[:50] for k, v in data.items()}))


@pytest.mark.parametrize("method", METHODS)
def test_one_feature_is_refused_with_the_reason(method: str) -> None:
    with pytest.raises(MonitorError, match="1 feature; a joint test needs at least 2"):
        joint(method, {"a": np.arange(100.0)}, {"a": np.arange(50.0)})


@pytest.mark.parametrize("method", METHODS)
def test_a_window_too_small_is_undefined_with_the_reason(method: str) -> None:
    ref = correlated(np.random.default_rng(14), 500)
    result = joint(method, ref, correlated(np.random.default_rng(15), 10))
    assert not result.defined and not result.drifted and "10 rows; a joint test needs at least 20" in result.detail


def test_a_feature_missing_from_the_window_is_named() -> None:
    ref = correlated(np.random.default_rng(16), 500)
    cur = {k: v for k, v in correlated(np.random.default_rng(17), 100).items() if k != "c"}
    with pytest.raises(MonitorError, match="feature 'c' of the reference is not in the window"):
        reconstruction_drift(ref, cur)


def test_bad_knobs_say_what_was_expected() -> None:
    ref = correlated(np.random.default_rng(18), 500)
    with pytest.raises(MonitorError, match=r"variance=1\.5; expected a number in \(0, 1\)"):
        ReconstructionDrift.fit(ref, variance=1.5)
    with pytest.raises(MonitorError, match="permutations=5"):
        MMDDrift.fit(ref).test(ref, permutations=5)
    with pytest.raises(MonitorError, match="shape"):
        reconstruction_drift(np.arange(10.0), np.arange(10.0))


_errors = arrays(np.float64, st.integers(2, 60), elements=st.floats(0.0, 50.0, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(a=_errors, b=_errors)
@example(a=np.zeros(2), b=np.array([2.82788056e-126, 0.0]))  # the variances' squares underflow: df is 0/0
def test_welch_closed_form_equals_scipy(a: Any, b: Any) -> None:
    with warnings.catch_warnings():  # scipy warns of precision on identical values; both give the same numbers
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    t, p = welch_greater(a, b)
    for ours, expected in ((t, float(theirs.statistic)), (p, float(theirs.pvalue))):
        assert (math.isnan(ours) and math.isnan(expected)) or math.isclose(ours, expected, rel_tol=1e-12,
                                                                             abs_tol=1e-12), (ours, expected)


def test_welch_on_constant_window_uses_the_reference_spread() -> None:
    t, p = welch_greater(np.full(30, 2.0), np.array([1.0, 1.5, 0.5, 1.2, 0.8] * 10))
    assert t > 10 and p < 1e-9
