"""Bands: how many trials a case still needs, and the verdict its trials give."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldband.bands import decide, intervals, sprt
from goldband.bands.spec import Band, Runs
from goldband.bands.verdict import counts, fails_item, next_batch, verdict
from goldband.results import Completion, Score, ScoredTrial, Trial, Verdict

FIXED_10 = Runs(10, 10, adaptive=False)
ADAPTIVE = Runs(3, 20, adaptive=True)


def scored(outcome: str, score: float | None = None, sample: int = 0) -> ScoredTrial:
    """One trial with one check; ``error`` makes a provider timeout."""
    if outcome == "error":
        return ScoredTrial(Trial("case", "target", sample, None, error="timeout: no reply in 30s"))
    value = score if score is not None else (1.0 if outcome == "pass" else 0.0)
    trial = Trial("case", "target", sample, Completion(output="30 days"))
    return ScoredTrial(trial, (Score("contains", outcome, value),))  # type: ignore[arg-type]


def trials(passes: int, fails: int = 0, errors: int = 0) -> list[ScoredTrial]:
    kinds = ["pass"] * passes + ["fail"] * fails + ["error"] * errors
    return [scored(kind, sample=i) for i, kind in enumerate(kinds)]


def with_scores(values: list[float], *, fails: int = 0) -> list[ScoredTrial]:
    """Passing trials with the given scores, then ``fails`` failing ones scored 0."""
    out = [scored("pass", v, i) for i, v in enumerate(values)]
    return out + [scored("fail", 0.0, len(out) + i) for i in range(fails)]


# --------------------------------------------------------------------------- counts


def test_counts_separate_passes_fails_errors_and_scores():
    c = counts([*trials(2, 1, 1), ScoredTrial(Trial("case", "target", 9, Completion(output="x")))])
    assert (c.n, c.passes, c.fails, c.errors, c.scored) == (5, 3, 1, 1, 4)
    assert c.scores == (1.0, 1.0, 0.0)  # a trial without checks passes but has no score


# --------------------------------------------------------------------------- next_batch


@pytest.mark.parametrize("n", [1, 5, 10])
def test_fixed_runs_ask_for_all_n_in_one_batch_then_stop(n):
    runs, band = Runs(n, n, adaptive=False), Band(min_pass_rate=0.8)
    assert next_batch([], band, runs) == n
    assert next_batch(trials(n // 2, n - n // 2), band, runs) == 0
    assert next_batch(trials(n), band, runs) == 0


def test_fixed_runs_top_up_a_partial_batch():
    assert next_batch(trials(3), Band(), FIXED_10) == 7


def test_adaptive_asks_for_min_runs_first():
    assert next_batch([], Band(min_pass_rate=0.8), Runs(5, 20, adaptive=True)) == 5
    assert next_batch(trials(2), Band(min_pass_rate=0.8), Runs(5, 20, adaptive=True)) == 3


def test_adaptive_asks_for_the_fewest_trials_that_could_settle_the_sprt():
    band = Band(min_pass_rate=0.8)
    plan = sprt.sprt_plan(min_pass_rate=0.8, confidence=0.9, indifference=0.1)
    llr = plan.llr(3, 3)
    to_pass = math.ceil((-math.log(plan.alpha) - llr) / plan.step_pass)
    to_fail = math.ceil((math.log(plan.beta) - llr) / plan.step_fail)
    want = next_batch(trials(3), band, ADAPTIVE)
    assert want == min(to_pass, to_fail) == 4  # four failures could reach FAIL
    # ... and that many really can settle it: all failing reaches FAIL
    step = sprt.sequential_decision(3, 3 + want, min_pass_rate=0.8, min_runs=3, max_runs=20)
    assert step == "FAIL"
    # ... and one fewer cannot, whichever way they go
    for k in range(want):
        assert sprt.sequential_decision(3 + k, 3 + want - 1, min_pass_rate=0.8, min_runs=3,
                                         max_runs=20) == "CONTINUE"


def test_adaptive_stops_once_the_sprt_settles():
    band = Band(min_pass_rate=0.8)
    assert sprt.sequential_decision(12, 12, min_pass_rate=0.8, min_runs=3, max_runs=20) == "PASS"
    assert next_batch(trials(12), band, ADAPTIVE) == 0
    assert next_batch(trials(0, 3), band, ADAPTIVE) == 0  # 0/3 already FAILs


def test_adaptive_stops_when_curtailed_inconclusive():
    band = Band(min_pass_rate=0.8)
    assert sprt.sequential_decision(15, 19, min_pass_rate=0.8, min_runs=3, max_runs=20) == "INCONCLUSIVE"
    assert next_batch(trials(15, 4), band, ADAPTIVE) == 0


def test_adaptive_never_asks_beyond_max_runs():
    band, runs = Band(min_pass_rate=0.8, max_error_rate=0.7), Runs(3, 12, adaptive=True)
    assert next_batch(trials(3), band, runs) == 4  # four failures could FAIL it
    # errors use up runs: 4 runs left can only FAIL it with 4 straight failures after 3 passes,
    # a chance (about 1.4 %) below futility 0.1, so the case stops
    assert next_batch(trials(3, 0, 5), band, runs) == 0
    assert next_batch(trials(3, 0, 5), replace(band, futility=0.0), runs) == 4
    assert next_batch(trials(3, 0, 6), replace(band, futility=0.0), runs) == 0  # 3 runs left cannot settle it
    assert next_batch(trials(6, 0, 6), band, runs) == 0
    assert next_batch(trials(5), band, Runs(3, 6, adaptive=True)) == 0  # 6 runs cannot settle 5/5


@given(passes=st.integers(0, 25), fails=st.integers(0, 25), low=st.integers(1, 10),
       extra=st.integers(0, 20), bar=st.sampled_from([0.5, 0.7, 0.8, 0.9, 0.95, 1.0]))
@settings(max_examples=200, deadline=None)
def test_adaptive_batches_stay_within_the_budget(passes, fails, low, extra, bar):
    runs, band = Runs(low, low + extra, adaptive=True), Band(min_pass_rate=bar)
    done = trials(min(passes, low + extra), min(fails, max(0, low + extra - passes)))
    want = next_batch(done, band, runs)
    assert 0 <= want <= runs.max - len(done) or (len(done) < runs.min and want == runs.min - len(done))
    assert len(done) + want <= runs.max
    if len(done) >= runs.min and want == 0:
        # stopping means settled (PASS, FAIL, or an INCONCLUSIVE that says why), never "undecided"
        assert not verdict(done, band, runs).reason.startswith("stopped after")
    elif len(done) >= runs.min:
        assert verdict(done, band, runs).reason.startswith("stopped after")


def test_adaptive_run_to_completion_ends_settled_or_at_max():
    """Simulate a case that alternates pass, pass, pass, fail: the loop ends within max_runs."""
    band, runs = Band(min_pass_rate=0.8), ADAPTIVE
    done: list[ScoredTrial] = []
    while want := next_batch(done, band, runs):
        done += [scored("fail" if (len(done) + i) % 4 == 3 else "pass", sample=len(done) + i) for i in range(want)]
    assert runs.min <= len(done) <= runs.max


def test_errors_over_the_limit_stop_an_adaptive_case():
    band = Band(min_pass_rate=0.8, max_error_rate=0.2)
    assert next_batch(trials(2, 0, 1), band, ADAPTIVE) == 0  # 1/3 errored > 0.2
    assert next_batch(trials(4, 0, 1), band, ADAPTIVE) > 0  # 1/5 = 0.2 is allowed


# --------------------------------------------------------------------------- verdict: fixed N


@pytest.mark.parametrize(
    ("passes", "fails", "status", "bound"),
    [
        (20, 0, "PASS", "pass_rate.low"),
        (3, 17, "FAIL", "pass_rate.high"),
        (15, 5, "INCONCLUSIVE", "pass_rate.straddle"),
    ],
)
def test_fixed_n_follows_the_interval_rule(passes, fails, status, bound):
    band, runs = Band(min_pass_rate=0.8), Runs(20, 20, adaptive=False)
    v = verdict(trials(passes, fails), band, runs)
    d = decide.decide(passes, passes + fails, min_pass_rate=0.8, confidence=0.9)
    assert (v.status, v.bound, v.reason) == (d.verdict, d.bound, d.reason) == (status, bound, d.reason)
    assert (v.pass_rate_low, v.pass_rate_high) == pytest.approx(d.interval)
    assert (v.n, v.passes, v.fails, v.errors) == (passes + fails, passes, fails, 0)
    assert v.confidence == 0.9 and v.runs_planned == 20 and v.gating


@given(passes=st.integers(0, 15), fails=st.integers(0, 15),
       bar=st.sampled_from([0.5, 0.7, 0.8, 0.9, 1.0]), confidence=st.sampled_from([0.8, 0.9, 0.95]))
@settings(max_examples=60, deadline=None)
def test_fixed_n_verdict_is_stats_decide(passes, fails, bar, confidence):
    n = passes + fails
    runs, band = Runs(max(n, 1), max(n, 1), adaptive=False), Band(min_pass_rate=bar, confidence=confidence)
    v = verdict(trials(passes, fails), band, runs)
    if n == 0:
        assert (v.status, v.bound) == ("ERROR", "no_trials")
        return
    d = decide.decide(passes, n, min_pass_rate=bar, confidence=confidence)
    assert (v.status, v.bound) == (d.verdict, d.bound)
    assert v.pass_rate_low <= passes / n <= v.pass_rate_high


def test_bar_one_uses_the_exact_rule():
    band, runs = Band(min_pass_rate=1.0), FIXED_10
    passed = verdict(trials(10), band, runs)
    failed = verdict(trials(9, 1), band, runs)
    assert (passed.status, passed.bound) == ("PASS", "pass_rate.exact")
    assert (failed.status, failed.bound) == ("FAIL", "pass_rate.exact")
    assert "1 of 10 failed" in failed.reason
    assert passed.pass_rate_low == pytest.approx(intervals.wilson_interval(10, 10)[0])  # what 10/10 shows


def test_errors_beyond_max_error_rate_make_error():
    v = verdict(trials(9, 0, 1), Band(min_pass_rate=0.5), FIXED_10)
    assert (v.status, v.bound, v.errors, v.passes) == ("ERROR", "error_rate", 1, 9)
    assert "1 of 10 trials errored" in v.reason
    assert fails_item(v, "warn")


def test_errors_within_max_error_rate_are_not_counted_as_passes_or_fails():
    v = verdict(trials(9, 0, 1), Band(min_pass_rate=0.5, max_error_rate=0.2), FIXED_10)
    assert v.status == "PASS"
    assert v.pass_rate == 1.0  # 9/9 scored: the error is gated, not averaged in
    assert v.pass_rate_low == pytest.approx(intervals.wilson_interval(9, 9)[0])


def test_all_trials_errored_is_error_even_when_errors_are_allowed():
    v = verdict(trials(0, 0, 3), Band(min_pass_rate=0.5, max_error_rate=1.0), Runs(3, 3, adaptive=False))
    assert v.status == "ERROR" and v.pass_rate is None


def test_no_trials_is_error_with_the_stopped_reason():
    v = verdict([], Band(), ADAPTIVE, stopped="budget $1 spent")
    assert (v.status, v.bound, v.reason, v.n, v.runs_planned) == ("ERROR", "no_trials", "budget $1 spent", 0, 20)
    assert verdict([], Band(), FIXED_10).reason == "no trials ran"


def test_min_score_band_passes_and_fails_on_the_score_interval():
    runs, band = FIXED_10, Band(min_pass_rate=0.5, min_score=0.7)
    good = verdict(with_scores([0.9, 0.95, 0.85, 0.9, 0.92, 0.88, 0.91, 0.9, 0.93, 0.87]), band, runs)
    bad = verdict(with_scores([0.3, 0.35, 0.4, 0.3, 0.32, 0.38, 0.31, 0.3, 0.33, 0.37]), band, runs)
    assert good.status == "PASS" and good.score_low >= 0.7 and good.mean_score == pytest.approx(0.901)
    assert (bad.status, bad.bound) == ("FAIL", "score.high") and bad.score_high < 0.7
    assert "min_score 0.7" in bad.reason


def test_max_std_band_fails_a_spread_out_case():
    runs, band = FIXED_10, Band(min_pass_rate=0.5, max_std=0.1)
    values = [0.1, 0.9] * 5
    v = verdict(with_scores(values), band, runs)
    assert (v.status, v.bound) == ("FAIL", "spread")
    assert v.std == pytest.approx(intervals.np.std(values, ddof=1))
    tight = verdict(with_scores([0.8, 0.82] * 5), band, runs)
    assert tight.status == "PASS" and tight.std is not None and tight.std <= 0.1


def test_score_band_without_scored_trials_uses_the_pass_rate_only():
    plain = [ScoredTrial(Trial("case", "target", i, Completion(output="x"))) for i in range(10)]
    v = verdict(plain, Band(min_pass_rate=0.5, min_score=0.9), FIXED_10)
    assert v.status == "PASS" and v.mean_score is None and v.score_low is None and v.std is None


def test_fixed_runs_that_can_never_pass_say_so():
    need = decide.min_runs_to_pass(min_pass_rate=0.8, confidence=0.9)
    v = verdict(trials(10), Band(min_pass_rate=0.8), FIXED_10)
    assert need == 11 and v.status == "INCONCLUSIVE"
    assert v.notes == ("10 runs can never PASS min_pass_rate 0.8 at confidence 0.9: at least 11 are needed "
                       "(or set min_runs/max_runs)",)


def test_no_can_never_pass_note_when_enough_runs_or_bar_one():
    assert verdict(trials(8, 3), Band(min_pass_rate=0.8), Runs(11, 11, adaptive=False)).notes == ()
    assert verdict(trials(3), Band(min_pass_rate=1.0), Runs(3, 3, adaptive=False)).notes == ()
    assert verdict(trials(0, 10), Band(min_pass_rate=0.8), FIXED_10).notes == ()  # FAIL: no note


# --------------------------------------------------------------------------- verdict: adaptive


def test_adaptive_sprt_pass_and_fail():
    band = Band(min_pass_rate=0.8)
    passed = verdict(trials(12), band, ADAPTIVE)
    failed = verdict(trials(1, 3), band, ADAPTIVE)
    assert (passed.status, passed.bound) == ("PASS", "sprt.pass")
    assert passed.reason == "12/12 passed: sequential test favours p >= 0.90 over p <= 0.70"
    assert (failed.status, failed.bound) == ("FAIL", "sprt.fail")
    assert "favours p <= 0.70" in failed.reason
    # the interval is still reported beside the SPRT's verdict
    assert passed.pass_rate_low == pytest.approx(intervals.wilson_interval(12, 12)[0])


def test_adaptive_can_pass_where_the_interval_rule_would_straddle():
    """17/18 at bar 0.8 (the stats docstring's example): SPRT PASS, Wilson INCONCLUSIVE."""
    v = verdict(trials(17, 1), Band(min_pass_rate=0.8), ADAPTIVE)
    assert v.status == "PASS"
    assert decide.decide(17, 18, min_pass_rate=0.8).verdict == "INCONCLUSIVE"
    assert v.pass_rate_low < 0.8 < v.pass_rate_high


def test_adaptive_stopped_short_is_inconclusive_with_the_reason():
    v = verdict(trials(5), Band(min_pass_rate=0.8), ADAPTIVE, stopped="budget 50 calls spent")
    assert (v.status, v.bound) == ("INCONCLUSIVE", "sprt.inconclusive")
    assert v.reason == "stopped after 5 of up to 20 runs: budget 50 calls spent"
    assert verdict(trials(5), Band(min_pass_rate=0.8), ADAPTIVE).reason.endswith("undecided")


def test_adaptive_curtailed_inconclusive_explains_the_zone():
    v = verdict(trials(15, 4), Band(min_pass_rate=0.8), ADAPTIVE)
    assert (v.status, v.bound) == ("INCONCLUSIVE", "sprt.inconclusive")
    assert "the other 1 allowed runs could not settle it" in v.reason
    assert "between 0.70 and 0.90 (undecided zone)" in v.reason
    full = verdict(trials(16, 4), Band(min_pass_rate=0.8), ADAPTIVE)
    assert full.status == "INCONCLUSIVE" and "all 20 runs used" in full.reason


def test_adaptive_bar_one_is_the_exact_rule():
    band, runs = Band(min_pass_rate=1.0), Runs(3, 5, adaptive=True)
    assert verdict(trials(5), band, runs).status == "PASS"
    assert verdict(trials(5), band, runs).reason == "5/5 passed (bar 1, exact rule)"
    assert verdict(trials(2, 1), band, runs).status == "FAIL"
    assert verdict(trials(3), band, runs).status == "INCONCLUSIVE"  # not yet max_runs without a failure
    assert next_batch(trials(3), band, runs) >= 1


def test_adaptive_errors_are_error_not_sprt():
    v = verdict(trials(10, 0, 2), Band(min_pass_rate=0.8), ADAPTIVE)
    assert (v.status, v.bound) == ("ERROR", "error_rate")


def test_adaptive_score_failure_beats_an_sprt_pass():
    low = [0.3, 0.35, 0.4, 0.3, 0.32, 0.38, 0.31, 0.3, 0.33, 0.37, 0.3, 0.34]
    v = verdict(with_scores(low), Band(min_pass_rate=0.8, min_score=0.7), ADAPTIVE)
    assert (v.status, v.bound) == ("FAIL", "score.high")


def test_adaptive_score_inconclusive_beats_an_sprt_pass():
    """The worst rule wins even when the pass-rate interval also straddles (a tie in decide)."""
    values = [0.5 + 0.03 * (i % 10) for i in range(17)]
    v = verdict(with_scores(values, fails=1), Band(min_pass_rate=0.8, min_score=0.6), ADAPTIVE)
    assert sprt.sequential_decision(17, 18, min_pass_rate=0.8, min_runs=3, max_runs=20) == "PASS"
    assert v.score_low < 0.6 < v.score_high
    assert (v.status, v.bound) == ("INCONCLUSIVE", "score.straddle")


def test_adaptive_spread_failure_beats_an_undecided_sprt():
    v = verdict(with_scores([0.1, 1.0, 0.1, 1.0, 0.1], fails=1), Band(min_pass_rate=0.8, max_std=0.1),
                ADAPTIVE, stopped="budget")
    assert (v.status, v.bound) == ("FAIL", "spread")


# --------------------------------------------------------------------------- quarantine, notes


def test_quarantine_keeps_the_underlying_result_and_never_gates():
    v = verdict(trials(0, 10), Band(min_pass_rate=0.8), FIXED_10, quarantine="quarantined: flipped 5 times")
    assert (v.status, v.gating) == ("QUARANTINED", False)
    assert v.reason.startswith("quarantined: flipped 5 times; this run alone: FAIL (upper bound ")
    assert v.bound == "pass_rate.high" and v.passes == 0 and v.fails == 10
    assert not fails_item(v, "fail")


def test_notes_are_prepended_to_the_verdicts_own():
    v = verdict(trials(10), Band(min_pass_rate=0.8), FIXED_10, notes=("history band: 3 past runs",))
    assert v.notes[0] == "history band: 3 past runs"
    assert len(v.notes) == 2 and v.notes[1].startswith("10 runs can never PASS")


# --------------------------------------------------------------------------- fails_item, Verdict


def _v(status: str, gating: bool = True) -> Verdict:
    return Verdict(status, 1, 1, 0, 0, "r", gating=gating)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "policy", "fails"),
    [
        ("PASS", "fail", False),
        ("FAIL", "warn", True),
        ("ERROR", "warn", True),
        ("INCONCLUSIVE", "fail", True),
        ("INCONCLUSIVE", "more", True),
        ("INCONCLUSIVE", "warn", False),
        ("QUARANTINED", "fail", False),
    ],
)
def test_fails_item_by_status_and_policy(status, policy, fails):
    assert fails_item(_v(status), policy) is fails


@pytest.mark.parametrize("status", ["FAIL", "ERROR", "INCONCLUSIVE"])
def test_non_gating_verdicts_never_fail_the_item(status):
    assert fails_item(_v(status, gating=False), "fail") is False


def test_pass_rate_is_over_scored_trials():
    assert Verdict("PASS", 10, 6, 2, 2, "r").pass_rate == 0.75
    assert Verdict("ERROR", 3, 0, 0, 3, "r").pass_rate is None


def test_to_json_is_plain_json_with_the_pass_rate():
    v = verdict(trials(8, 2), Band(min_pass_rate=0.8), FIXED_10, notes=("n",))
    data = json.loads(json.dumps(v.to_json()))
    assert data["pass_rate"] == 0.8 and data["status"] == v.status and data["notes"][0] == "n"
    assert data["baseline"] is None and data["gating"] is True
    assert set(data) >= {"n", "passes", "fails", "errors", "reason", "bound", "pass_rate_low", "pass_rate_high"}


def test_a_verdict_survives_json_and_drops_unknown_fields() -> None:
    from goldband.results import BaselineDelta

    v = Verdict("FAIL", 5, 2, 3, 0, "why", bound="pass_rate.high", pass_rate_low=0.1, notes=("a",),
                baseline=BaselineDelta("regressed", "r1", -0.4, -0.7, -0.1, 0.01, 0.02), gating=False)
    data = json.loads(json.dumps(v.to_json()))
    assert Verdict.from_json({**data, "added_later": 1}) == v
