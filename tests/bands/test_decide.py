"""The interval decision rule: verdicts, errors as a gate, score and spread rules, runs needed, curtailment."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from goldband.bands.decide import decide, min_runs_to_pass, settled_verdict

from .strategies import METHODS, confidences, counts


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
