"""Band statistics: properties (hypothesis), exact values against scipy, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from goldband.bands.control import control_limits, flip_rate
from goldband.bands.decide import decide, min_runs_to_pass, settled_verdict
from goldband.bands.intervals import clopper_pearson_interval, mean_interval, proportion_interval, wilson_interval
from goldband.bands.sprt import sequential_decision, sprt_plan

METHODS = ["wilson", "clopper-pearson"]
confidences = st.floats(0.5, 0.999)


@st.composite
def counts(draw: st.DrawFn, max_n: int = 400) -> tuple[int, int]:
    n = draw(st.integers(0, max_n))
    return draw(st.integers(0, n)), n


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


# --------------------------------------------------------------------------- decide


@pytest.mark.parametrize(
    ("passes", "n", "verdict", "bound"),
    [
        (20, 20, "PASS", "pass_rate.low"),
        (5, 10, "FAIL", "pass_rate.high"),
        (10, 10, "INCONCLUSIVE", "pass_rate.straddle"),  # 10 runs cannot show >= 0.8
        (0, 0, "INCONCLUSIVE", "no_trials"),
    ],
)
def test_decide_reads_the_interval(passes, n, verdict, bound):
    decision = decide(passes, n, min_pass_rate=0.8, confidence=0.9)
    assert (decision.verdict, decision.bound) == (verdict, bound)


def test_decide_states_the_deciding_bound():
    decision = decide(20, 20, min_pass_rate=0.8, confidence=0.9)
    assert decision.reason == "lower bound 0.881 >= min_pass_rate 0.8"
    assert decision.pass_rate == 1.0 and decision.interval[1] == 1.0


def test_never_fails_requirement_uses_the_exact_rule():
    assert decide(3, 3, min_pass_rate=1.0).verdict == "PASS"
    one_failure = decide(99, 100, min_pass_rate=1.0)
    assert (one_failure.verdict, one_failure.bound) == ("FAIL", "pass_rate.exact")


def test_zero_bar_always_passes():
    assert decide(0, 5, min_pass_rate=0.0).verdict == "PASS"


def test_errors_are_gated_not_averaged():
    assert decide(9, 10, errors=1, min_pass_rate=0.5).verdict == "ERROR"
    allowed = decide(9, 10, errors=1, min_pass_rate=0.5, max_error_rate=0.1)
    assert allowed.verdict == "PASS" and allowed.pass_rate == 1.0 and allowed.errors == 1
    everything_failed = decide(0, 4, errors=4, min_pass_rate=0.5, max_error_rate=1.0)
    assert everything_failed.verdict == "ERROR" and math.isnan(everything_failed.pass_rate)


def test_error_outranks_fail():
    assert decide(0, 10, errors=5, min_pass_rate=0.8).verdict == "ERROR"


def test_score_and_spread_rules():
    good = [5.0, 5.0, 4.0, 5.0, 5.0, 4.0, 5.0, 5.0, 5.0, 5.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0]
    decision = decide(16, 16, min_pass_rate=0.5, scores=good, min_score=4.0, max_std=1.0)
    assert decision.verdict == "PASS" and decision.score_interval is not None
    low_scores = decide(16, 16, min_pass_rate=0.5, scores=[1.0, 2.0, 1.0, 2.0], min_score=4.0)
    assert (low_scores.verdict, low_scores.bound) == ("FAIL", "score.high")
    spread = decide(16, 16, min_pass_rate=0.5, scores=[1.0, 5.0, 1.0, 5.0], max_std=1.0)
    assert (spread.verdict, spread.bound) == ("FAIL", "spread")
    single = decide(16, 16, min_pass_rate=0.5, scores=[5.0], min_score=4.0)
    assert (single.verdict, single.bound) == ("INCONCLUSIVE", "score.straddle")


def test_score_rules_need_scores():
    with pytest.raises(ValueError, match="scores"):
        decide(1, 1, min_pass_rate=0.5, min_score=3.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"errors": 11}, "errors <= n"),
        ({"errors": 2}, "passes <= n"),
        ({"max_error_rate": 1.5}, "max_error_rate"),
        ({"min_pass_rate": -0.1}, "min_pass_rate"),
    ],
)
def test_decide_rejects_impossible_input(kwargs, message):
    args = {"min_pass_rate": 0.5} | kwargs
    with pytest.raises(ValueError, match=message):
        decide(9, 10, **args)


@pytest.mark.parametrize("method", METHODS)
@given(pn=counts(max_n=60), bar=st.floats(0.01, 0.99), confidence=confidences)
def test_decide_is_the_interval_rule_and_monotone(method, pn, bar, confidence):
    passes, n = pn
    severity = {"PASS": 0, "INCONCLUSIVE": 1, "FAIL": 2}
    got = decide(passes, n, min_pass_rate=bar, confidence=confidence, method=method)
    low, high = got.interval
    assert got.verdict == ("PASS" if low >= bar else "FAIL" if high < bar else "INCONCLUSIVE")
    if passes < n:
        more = decide(passes + 1, n, min_pass_rate=bar, confidence=confidence, method=method)
        assert severity[more.verdict] <= severity[got.verdict]


def test_clopper_pearson_false_pass_rate_is_at_most_one_tail_exactly():
    """Exact binomial sums: just below the bar, P(PASS) <= (1 - confidence) / 2."""
    for n in (10, 20, 50):
        passing = [
            k
            for k in range(n + 1)
            if decide(k, n, min_pass_rate=0.8, method="clopper-pearson").verdict == "PASS"
        ]
        if passing:
            assert sps.binom.sf(min(passing) - 1, n, 0.8 - 1e-9) <= 0.05


def test_min_runs_to_pass():
    assert min_runs_to_pass(min_pass_rate=0.8, confidence=0.9) == 11
    assert min_runs_to_pass(min_pass_rate=1.0) == 1


@given(bar=st.floats(0.01, 0.97), confidence=confidences)
@settings(deadline=None)
def test_min_runs_to_pass_is_the_first_n_that_can_pass(bar, confidence):
    n = min_runs_to_pass(min_pass_rate=bar, confidence=confidence)
    assert decide(n, n, min_pass_rate=bar, confidence=confidence).verdict == "PASS"
    if n > 1:
        assert decide(n - 1, n - 1, min_pass_rate=bar, confidence=confidence).verdict != "PASS"


# --------------------------------------------------------------------------- curtailment


@given(runs=st.integers(1, 30), data=st.data(), bar=st.floats(0.05, 0.95))
@settings(deadline=None)
def test_settled_verdict_is_exactly_the_full_runs_verdict(runs, data, bar):
    n = data.draw(st.integers(0, runs))
    passes = data.draw(st.integers(0, n))
    settled = settled_verdict(passes, n, runs=runs, min_pass_rate=bar)
    finals = {
        decide(passes + extra, runs, min_pass_rate=bar).verdict for extra in range(runs - n + 1)
    }
    assert (settled is None) == (len(finals) > 1)
    if settled is not None:
        assert finals == {settled}


def test_settled_verdict_stops_a_hopeless_case_early():
    assert settled_verdict(0, 5, runs=10, min_pass_rate=0.8, confidence=0.9) == "FAIL"
    assert settled_verdict(6, 6, runs=10, min_pass_rate=0.8, confidence=0.9) == "INCONCLUSIVE"
    assert settled_verdict(5, 6, runs=10, min_pass_rate=0.8, confidence=0.9) is None
    with pytest.raises(ValueError, match="runs"):
        settled_verdict(3, 11, runs=10, min_pass_rate=0.8)


# --------------------------------------------------------------------------- sequential


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


# --------------------------------------------------------------------------- history


def test_control_limits_p_chart():
    limits = control_limits([0.9] * 10 + [0.8] * 10, trials_per_run=20)
    sigma = math.sqrt(0.85 * 0.15 / 20)
    assert (limits.center, limits.lower, limits.upper) == pytest.approx(
        (0.85, 0.85 - 3 * sigma, 1.0)
    )
    assert not limits.provisional and limits.contains(0.7) and not limits.contains(0.55)


def test_control_limits_individuals_chart_uses_moving_ranges():
    history = [0.6, 0.7] * 6  # moving range 0.1 -> sigma 0.1 / 1.128
    limits = control_limits(history, sigmas=2.0)
    assert limits.center == pytest.approx(0.65)
    assert limits.lower == pytest.approx(0.65 - 2 * 0.1 / 1.128)
    assert limits.provisional and limits.n_history == 12


def test_control_limits_need_history():
    limits = control_limits([0.9] * 9)
    assert math.isnan(limits.lower) and math.isnan(limits.upper) and limits.n_history == 9
    assert math.isnan(control_limits([]).center)
    assert not control_limits([1.0] * 10).contains(0.9)  # no spread: any change is outside


def test_control_limits_reject_non_rates():
    with pytest.raises(ValueError, match="pass rates"):
        control_limits([0.5, 1.5] * 5)


@pytest.mark.parametrize(
    ("outcomes", "rate"),
    [
        ([True, True, True], 0.0),
        ([True, False, True, False], 1.0),
        ([True, True, False, False, True], 0.5),
    ],
)
def test_flip_rate(outcomes, rate):
    assert flip_rate(outcomes) == rate


def test_flip_rate_undefined_below_two_runs():
    assert math.isnan(flip_rate([])) and math.isnan(flip_rate([True]))
