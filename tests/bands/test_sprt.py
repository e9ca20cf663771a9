"""The sequential probability ratio test: exact error rates, stopping rules, edge bars, the plan."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldband.bands.decide import decide
from goldband.bands.sprt import _predictive, sequential_decision, sprt_plan


def _exact_outcome(bar, confidence, min_runs, max_runs, p):
    """Exact P(PASS), P(FAIL), P(INCONCLUSIVE) by dynamic programming over (passes, n)."""
    alive, done = np.array([1.0]), {"PASS": 0.0, "FAIL": 0.0, "INCONCLUSIVE": 0.0}
    for n in range(1, max_runs + 1):
        alive = np.r_[alive * (1 - p), 0.0] + np.r_[0.0, alive * p]
        for k in range(n + 1):
            step = sequential_decision(
                k, n, min_pass_rate=bar, confidence=confidence, min_runs=min_runs, max_runs=max_runs
            )
            if step != "CONTINUE":
                done[step] += alive[k]
                alive[k] = 0.0
    assert alive.sum() == 0.0
    return done


@pytest.mark.parametrize(("bar", "confidence"), [(0.8, 0.9), (0.5, 0.8), (0.95, 0.9), (0.1, 0.95)])
def test_sequential_error_rates_exactly_within_nominal(bar, confidence):
    plan = sprt_plan(min_pass_rate=bar, confidence=confidence)
    for p in np.linspace(0.0, plan.p0, 5):
        assert _exact_outcome(bar, confidence, 3, 40, p)["PASS"] <= plan.alpha
    for p in np.linspace(plan.p1, 1.0, 5):
        assert _exact_outcome(bar, confidence, 3, 40, p)["FAIL"] <= plan.beta


def test_sequential_waits_for_min_runs_and_respects_the_budget():
    assert sequential_decision(0, 2, min_pass_rate=0.8, min_runs=3) == "CONTINUE"
    assert sequential_decision(0, 3, min_pass_rate=0.8, min_runs=3) == "FAIL"
    assert sequential_decision(12, 12, min_pass_rate=0.8, confidence=0.9) == "PASS"
    assert sequential_decision(11, 11, min_pass_rate=0.8, confidence=0.9) == "CONTINUE"
    assert sequential_decision(16, 20, min_pass_rate=0.8, max_runs=20) == "INCONCLUSIVE"


def test_sequential_can_be_more_decisive_than_the_interval_as_documented():
    assert sequential_decision(17, 18, min_pass_rate=0.8) == "PASS"
    assert decide(17, 18, min_pass_rate=0.8).verdict == "INCONCLUSIVE"


def test_sequential_curtails_when_no_verdict_is_reachable():
    # 15 of 17: even 3 more passes cannot reach PASS, and 3 failures cannot reach FAIL
    assert sequential_decision(15, 17, min_pass_rate=0.8, max_runs=20) == "INCONCLUSIVE"


@given(max_runs=st.integers(3, 40), data=st.data(), bar=st.floats(0.05, 0.95))
@settings(deadline=None)
def test_sequential_inconclusive_early_only_when_no_verdict_is_reachable(max_runs, data, bar):
    n = data.draw(st.integers(3, max_runs))
    passes = data.draw(st.integers(0, n))
    step = sequential_decision(passes, n, min_pass_rate=bar, max_runs=max_runs)
    if step != "INCONCLUSIVE":
        return
    for extra in range(max_runs - n + 1):  # every reachable future, as (added passes, added runs)
        for added in range(extra + 1):
            future = sequential_decision(
                passes + added, n + extra, min_pass_rate=bar, max_runs=max_runs
            )
            assert future in ("INCONCLUSIVE", "CONTINUE")


@given(n=st.integers(3, 30), bar=st.floats(0.05, 0.95))
def test_sequential_is_monotone_in_passes(n, bar):
    order = {"FAIL": 0, "CONTINUE": 1, "INCONCLUSIVE": 1, "PASS": 2}
    steps = [order[sequential_decision(k, n, min_pass_rate=bar, max_runs=30)] for k in range(n + 1)]
    assert steps == sorted(steps)


def test_sequential_edge_bars_use_exact_rules():
    assert sequential_decision(0, 3, min_pass_rate=0.0) == "PASS"
    assert sequential_decision(2, 3, min_pass_rate=1.0) == "FAIL"
    assert sequential_decision(10, 10, min_pass_rate=1.0, max_runs=20) == "CONTINUE"
    assert sequential_decision(20, 20, min_pass_rate=1.0, max_runs=20) == "PASS"


@pytest.mark.parametrize(
    "kwargs", [{"min_runs": 0}, {"min_runs": 30}, {"max_runs": 5}, {"confidence": 1.0}]
)
def test_sequential_rejects_bad_knobs(kwargs):
    with pytest.raises(ValueError):
        sequential_decision(3, 10, min_pass_rate=0.8, **kwargs)


def test_sprt_plan_zone_and_its_shrinking_at_the_edges():
    plan = sprt_plan(min_pass_rate=0.8, confidence=0.9)
    assert (plan.p0, plan.p1, plan.alpha) == pytest.approx((0.7, 0.9, 0.05))
    edge = sprt_plan(min_pass_rate=0.96, indifference=0.1)
    assert edge.p1 == pytest.approx(0.98) and edge.p0 == pytest.approx(0.86)
    assert sprt_plan(min_pass_rate=0.04).p0 == pytest.approx(0.02)
    with pytest.raises(ValueError, match="exact"):
        sprt_plan(min_pass_rate=1.0)
    with pytest.raises(ValueError, match="indifference"):
        sprt_plan(min_pass_rate=0.5, indifference=0.0)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 300), left=st.integers(0, 300), data=st.data())
def test_the_predictive_distribution_is_scipys_betabinomial(n: int, left: int, data: st.DataObject) -> None:
    from scipy.stats import betabinom

    passes = data.draw(st.integers(0, n))
    ours = np.array(_predictive(passes, n, left))
    theirs = betabinom.pmf(range(left + 1), left, 1 + passes, 1 + n - passes)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-300)  # scipy's log-gamma route drifts ~1e-12
    a, b = 1 + passes, 1 + n - passes  # ours is the exact rational, rounded once
    exact = [Fraction(math.comb(left, j) * math.factorial(j + a - 1) * math.factorial(left - j + b - 1)
                      * math.factorial(a + b - 1), math.factorial(left + a + b - 1) * math.factorial(a - 1)
                      * math.factorial(b - 1)) for j in range(left + 1)]
    assert list(ours) == [float(x) for x in exact]
    assert abs(ours.sum() - 1.0) < 1e-12
