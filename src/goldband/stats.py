"""Band statistics: from N trials of one case to one honest verdict.

Pure functions over counts and scores (numpy/scipy, no I/O, no goldband
imports). Knobs are keyword-only. Undefined input is documented per function:
proportions with ``n == 0`` give the no-information interval ``(0.0, 1.0)``;
means of fewer than two scores give ``(nan, nan)``; impossible input (negative
counts, ``passes > n``, a confidence outside (0, 1)) raises ``ValueError``.

The two ways to reach a verdict:

* **fixed N** -- :func:`decide` reads the interval of the pass rate: PASS when
  its lower bound clears ``min_pass_rate``, FAIL when its upper bound lies
  below, INCONCLUSIVE when it straddles. :func:`settled_verdict` says when the
  remaining runs can no longer change that verdict (curtailment: same verdicts,
  fewer calls). :func:`min_runs_to_pass` says how many runs a PASS needs at all.
* **adaptive** -- :func:`sequential_decision` is a truncated SPRT whose error
  rates hold however often it is looked at.

History bands: :func:`control_limits` (Shewhart chart) and :func:`flip_rate`.
Base-vs-head tests live in :mod:`goldband.compare_stats`.

>>> wilson_interval(9, 10, confidence=0.9)
(0.6522..., 0.9773...)
>>> decide(10, 10, min_pass_rate=0.8, confidence=0.9).verdict  # 10 runs cannot show >= 0.8
'INCONCLUSIVE'
>>> min_runs_to_pass(min_pass_rate=0.8, confidence=0.9)
11
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR"]
Step = Literal["PASS", "FAIL", "CONTINUE", "INCONCLUSIVE"]
IntervalMethod = Literal["wilson", "clopper-pearson"]
Interval = tuple[float, float]

NAN_INTERVAL: Interval = (math.nan, math.nan)


# --------------------------------------------------------------------------- input checks


def _counts(passes: int, n: int) -> tuple[int, int]:
    """Validate a (passes, n) pair of integers; floats are refused, not rounded."""
    passes, n = operator.index(passes), operator.index(n)
    if n < 0 or not 0 <= passes <= n:
        raise ValueError(f"need 0 <= passes <= n, got passes={passes}, n={n}")
    return passes, n


def _level(value: float, name: str = "confidence") -> float:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return float(value)


def _rate(value: float, name: str = "min_pass_rate") -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------- intervals


def wilson_interval(passes: int, n: int, *, confidence: float = 0.9) -> Interval:
    """Wilson score interval for a pass rate (two-sided, level ``confidence``).

    Wilson is the default because it keeps close to nominal coverage at the
    small n of LLM repeats, where the Wald interval collapses to zero width at
    0/n and n/n. ``n == 0`` returns ``(0.0, 1.0)``: no trials, no information.
    """
    return _proportion_ci(passes, n, confidence, "wilson")


def clopper_pearson_interval(passes: int, n: int, *, confidence: float = 0.9) -> Interval:
    """Clopper-Pearson ("exact") interval: coverage is guaranteed, at the price of width.

    Use it when a band must never overstate certainty. ``n == 0`` gives ``(0.0, 1.0)``.
    """
    return _proportion_ci(passes, n, confidence, "exact")


def proportion_interval(
    passes: int, n: int, *, confidence: float = 0.9, method: IntervalMethod = "wilson"
) -> Interval:
    """Dispatch to :func:`wilson_interval` or :func:`clopper_pearson_interval` by name."""
    if method == "wilson":
        return wilson_interval(passes, n, confidence=confidence)
    if method == "clopper-pearson":
        return clopper_pearson_interval(passes, n, confidence=confidence)
    raise ValueError(f"method must be 'wilson' or 'clopper-pearson', got {method!r}")


def _proportion_ci(passes: int, n: int, confidence: float, method: str) -> Interval:
    passes, n = _counts(passes, n)
    confidence = _level(confidence)
    if n == 0:
        return (0.0, 1.0)
    ci = stats.binomtest(passes, n).proportion_ci(confidence_level=confidence, method=method)
    rate = passes / n  # clip float noise so low <= rate <= high holds exactly
    return (min(max(float(ci.low), 0.0), rate), max(min(float(ci.high), 1.0), rate))


def mean_interval(
    scores: ArrayLike,
    *,
    confidence: float = 0.9,
    method: Literal["bootstrap", "t"] = "bootstrap",
    seed: int = 0,
    n_resamples: int = 2000,
) -> Interval:
    """Interval for the mean score of one case's trials.

    ``bootstrap`` (default) is scipy's BCa bootstrap with a fixed ``seed`` so a
    verdict is reproducible; it assumes no shape and stays inside the observed
    range. ``t`` is Student's interval, for near-normal scores. Fewer than two
    scores give ``(nan, nan)`` (no spread, no interval); identical scores give
    ``(mean, mean)``, since both methods are degenerate there (see :func:`no_spread`).
    """
    x = np.asarray(scores, dtype=float).ravel()
    confidence = _level(confidence)
    if np.isnan(x).any():
        raise ValueError("scores contain NaN; an unscored trial is an error, not a score")
    if x.size < 2:
        return NAN_INTERVAL
    if no_spread(x):
        centre = float(np.clip(x.mean(), x.min(), x.max()))
        return (centre, centre)
    if method == "t":
        ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence_level=confidence)
    elif method == "bootstrap":
        rng = np.random.default_rng(seed)
        ci = stats.bootstrap(
            (x,), np.mean, confidence_level=confidence, n_resamples=n_resamples, rng=rng
        ).confidence_interval
    else:
        raise ValueError(f"method must be 'bootstrap' or 't', got {method!r}")
    return (float(ci.low), float(ci.high))


def no_spread(x: NDArray[np.float64]) -> bool:
    """True when scores are identical up to 1e-12 (relative to max(1, |x|)).

    Resampling methods divide by the spread; below this they return NaN or noise.
    """
    return bool(x.size and np.ptp(x) <= 1e-12 * max(1.0, float(np.abs(x).max())))


# --------------------------------------------------------------------------- fixed-N verdict


@dataclass(frozen=True, slots=True)
class Decision:
    """One case's verdict, with the bound that decided it and the evidence.

    ``bound`` names the deciding rule: ``error_rate``, ``no_trials``,
    ``pass_rate.low`` / ``.high`` / ``.straddle`` / ``.exact``,
    ``score.low`` / ``.high`` / ``.straddle``, ``spread``.
    """

    verdict: Verdict
    bound: str
    reason: str
    n: int
    passes: int
    errors: int
    pass_rate: float  # over scored trials; NaN when none was scored
    interval: Interval
    mean_score: float | None = None
    score_interval: Interval | None = None
    std: float | None = None


_SEVERITY: dict[Verdict, int] = {"PASS": 0, "INCONCLUSIVE": 1, "FAIL": 2, "ERROR": 3}


def _rate_rule(
    passes: int, scored: int, bar: float, interval: Interval
) -> tuple[Verdict, str, str]:
    """Pass-rate part of the band; ``bar == 1.0`` uses the exact never-fails rule."""
    low, high = interval
    if bar == 1.0:
        if passes == scored:
            return "PASS", "pass_rate.exact", f"all {scored} scored trials passed (bar 1.0)"
        return "FAIL", "pass_rate.exact", f"{scored - passes} of {scored} failed (bar 1.0)"
    if low >= bar:
        return "PASS", "pass_rate.low", f"lower bound {low:.3f} >= min_pass_rate {bar:g}"
    if high < bar:
        return "FAIL", "pass_rate.high", f"upper bound {high:.3f} < min_pass_rate {bar:g}"
    return "INCONCLUSIVE", "pass_rate.straddle", f"[{low:.3f}, {high:.3f}] straddles {bar:g}"


def _score_rule(interval: Interval, min_score: float) -> tuple[Verdict, str, str]:
    low, high = interval
    if math.isnan(low):
        return "INCONCLUSIVE", "score.straddle", "fewer than 2 scores: no interval"
    if low >= min_score:
        return "PASS", "score.low", f"score lower bound {low:.3f} >= min_score {min_score:g}"
    if high < min_score:
        return "FAIL", "score.high", f"score upper bound {high:.3f} < min_score {min_score:g}"
    return (
        "INCONCLUSIVE",
        "score.straddle",
        f"score [{low:.3f}, {high:.3f}] straddles {min_score:g}",
    )


def _spread_rule(std: float, max_std: float) -> tuple[Verdict, str, str]:
    if math.isnan(std):
        return "INCONCLUSIVE", "spread", "fewer than 2 scores: spread undefined"
    if std > max_std:
        return "FAIL", "spread", f"score std {std:.3f} > max_std {max_std:g}"
    return "PASS", "spread", f"score std {std:.3f} <= max_std {max_std:g}"


def decide(  # 10 parameters: one band's knobs, all keyword-only with defaults
    passes: int,
    n: int,
    *,
    errors: int = 0,
    min_pass_rate: float,
    confidence: float = 0.9,
    max_error_rate: float = 0.0,
    method: IntervalMethod = "wilson",
    scores: ArrayLike | None = None,
    min_score: float | None = None,
    max_std: float | None = None,
) -> Decision:
    """Turn one case's trials into PASS, FAIL, INCONCLUSIVE or ERROR.

    ``n`` counts all trials, ``errors`` those that could not be scored; the pass
    rate is over the ``n - errors`` scored ones. Errors are gated, not averaged:
    ERROR when ``errors / n > max_error_rate`` or nothing was scored. Then each
    rule gives a verdict and the worst wins (FAIL > INCONCLUSIVE > PASS):

    * pass rate: PASS if the interval's lower bound >= ``min_pass_rate``, FAIL if
      its upper bound < it. A wrong PASS or FAIL happens at most about
      ``(1 - confidence) / 2`` of the time (at most exactly, with Clopper-Pearson).
    * ``min_pass_rate == 1.0`` means "never fails": no lower bound reaches 1.0,
      so the interval rule could never PASS. The exact rule is used instead: a
      failure FAILs (it proves p < 1, with no error at all), and PASS means no
      failure was observed (the reported interval says what that shows, e.g.
      p >= 0.79 after 10/10 at confidence 0.9).
    * ``min_score`` (needs ``scores``): the same rule on the mean score's interval.
    * ``max_std``: FAIL if the scores' sample std exceeds it -- a stability limit
      on the observed trials, not an inference.

    With no trials at all the verdict is INCONCLUSIVE (``bound == "no_trials"``).
    """
    passes, scored, errors = _trial_counts(passes, n, errors)
    bar, max_error_rate = _rate(min_pass_rate), _rate(max_error_rate, "max_error_rate")
    interval = proportion_interval(passes, scored, confidence=confidence, method=method)
    rate = passes / scored if scored else math.nan
    found = Decision(
        "INCONCLUSIVE", "no_trials", "no trials were run", n, passes, errors, rate, interval
    )
    if n == 0:
        return found
    if errors / n > max_error_rate or scored == 0:
        why = f"{errors} of {n} trials errored (max_error_rate {max_error_rate:g})"
        return replace(found, verdict="ERROR", bound="error_rate", reason=why)
    rules = [_rate_rule(passes, scored, bar, interval)]
    if min_score is not None or max_std is not None:
        if scores is None:
            raise ValueError("min_score and max_std need the trials' scores (scores=...)")
        found, score_rules = _score_rules(found, scores, min_score, max_std, confidence)
        rules += score_rules
    verdict, bound, reason = max(rules, key=lambda rule: _SEVERITY[rule[0]])
    return replace(found, verdict=verdict, bound=bound, reason=reason)


def _trial_counts(passes: int, n: int, errors: int) -> tuple[int, int, int]:
    """Validate passes + failures + errors == n; returns (passes, scored, errors)."""
    errors, n = operator.index(errors), operator.index(n)
    if not 0 <= errors <= max(n, 0):
        raise ValueError(f"need 0 <= errors <= n, got errors={errors}, n={n}")
    passes, scored = _counts(passes, n - errors)
    return passes, scored, errors


def _score_rules(
    found: Decision,
    scores: ArrayLike,
    min_score: float | None,
    max_std: float | None,
    confidence: float,
) -> tuple[Decision, list[tuple[Verdict, str, str]]]:
    """Score and spread rules, and the decision's evidence extended with them."""
    x = np.asarray(scores, dtype=float).ravel()
    std = float(x.std(ddof=1)) if x.size > 1 else math.nan
    ci = mean_interval(x, confidence=confidence) if min_score is not None else None
    found = replace(
        found, mean_score=float(x.mean()) if x.size else math.nan, score_interval=ci, std=std
    )
    rules = [] if ci is None or min_score is None else [_score_rule(ci, min_score)]
    if max_std is not None:
        rules.append(_spread_rule(std, max_std))
    return found, rules


def min_runs_to_pass(
    *, min_pass_rate: float, confidence: float = 0.9, method: IntervalMethod = "wilson"
) -> int:
    """Smallest n at which n/n passes can PASS under :func:`decide`.

    A fixed ``runs`` below this can only FAIL or be INCONCLUSIVE -- worth a
    warning at configuration time (0.8 at confidence 0.9 needs 11 runs).
    """
    bar = _rate(min_pass_rate)
    if bar == 1.0:
        return 1  # the exact never-fails rule
    n = 1
    while proportion_interval(n, n, confidence=confidence, method=method)[0] < bar:
        n += 1
    return n


def settled_verdict(
    passes: int,
    n: int,
    *,
    runs: int,
    min_pass_rate: float,
    confidence: float = 0.9,
    method: IntervalMethod = "wilson",
) -> Verdict | None:
    """The verdict ``runs`` trials will give, if no remaining outcome can change it.

    Curtailment of the fixed-N pass-rate rule: stop early with *exactly* the
    verdict the full N would give (so its error rates are unchanged), else None.
    Both bounds are monotone in passes, so checking the two extremes -- every
    remaining trial fails, every one passes -- covers all outcomes in between.
    Scores and errors are not covered: with a score band, run all N.
    """
    passes, n = _counts(passes, n)
    if n > runs:
        raise ValueError(f"n={n} trials exceed the planned runs={runs}")
    ends = {
        decide(k, runs, min_pass_rate=min_pass_rate, confidence=confidence, method=method).verdict
        for k in (passes, passes + runs - n)
    }
    return ends.pop() if len(ends) == 1 else None


# --------------------------------------------------------------------------- adaptive


@dataclass(frozen=True, slots=True)
class SprtPlan:
    """The SPRT's hypotheses and thresholds for one band (see :func:`sprt_plan`)."""

    p0: float  # at or below: PASS is wrong; P(PASS) <= alpha
    p1: float  # at or above: FAIL is wrong; P(FAIL) <= beta
    alpha: float
    beta: float
    step_pass: float  # log-likelihood-ratio increment of one pass
    step_fail: float  # ... of one failure (negative)

    def llr(self, passes: int, n: int) -> float:
        return passes * self.step_pass + (n - passes) * self.step_fail


def sprt_plan(
    *, min_pass_rate: float, confidence: float = 0.9, indifference: float = 0.1
) -> SprtPlan:
    """Hypotheses p0 = bar - indifference vs p1 = bar + indifference, alpha = beta = (1-c)/2.

    Near 0 or 1 the zone is shrunk so p0 >= bar/2 and p1 <= (1 + bar)/2 stay
    inside (0, 1). alpha and beta match the per-side error of :func:`decide`.
    """
    bar, tail = _rate(min_pass_rate), (1.0 - _level(confidence)) / 2
    if not 0.0 < indifference < 1.0:
        raise ValueError(f"indifference must be in (0, 1), got {indifference!r}")
    if bar in (0.0, 1.0):
        raise ValueError("min_pass_rate 0 and 1 have exact rules, not an SPRT")
    p0, p1 = max(bar - indifference, bar / 2), min(bar + indifference, (1 + bar) / 2)
    step_pass, step_fail = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    return SprtPlan(p0, p1, tail, tail, step_pass, step_fail)


def sequential_decision(  # 7 knobs: one band plus the run budget, keyword-only
    passes: int,
    n: int,
    *,
    min_pass_rate: float,
    confidence: float = 0.9,
    min_runs: int = 3,
    max_runs: int = 20,
    indifference: float = 0.1,
) -> Step:
    """Adaptive repeats: PASS, FAIL, CONTINUE (run more) or INCONCLUSIVE (budget spent).

    Rule: Wald's SPRT of p0 = bar - indifference against p1 = bar + indifference
    (:func:`sprt_plan`), with Ville's thresholds: PASS when the log likelihood
    ratio reaches log(1/alpha), FAIL when it reaches log(beta), never before
    ``min_runs``. INCONCLUSIVE at ``max_runs``, or earlier once neither threshold
    can be reached within ``max_runs`` (curtailment: no verdict changes).

    Guarantee: for a true pass rate p <= p0, P(PASS) <= alpha; for p >= p1,
    P(FAIL) <= beta; alpha = beta = (1 - confidence) / 2. The likelihood ratio is
    a nonnegative supermartingale under those p, so by Ville's inequality this
    holds at *every* look: checking after each trial or batch, min_runs,
    max_runs and early stops cannot inflate it. Inside (p0, p1) -- the
    indifference zone -- either verdict may come out. Exact rules at the edges:
    bar 0 PASSes at ``min_runs``; bar 1 FAILs on a failure and PASSes only after
    ``max_runs`` trials without one. Errors are not trials here: gate them with
    :func:`decide`.

    The SPRT tests p0 against p1, not the bar itself, so at the same counts it
    can be more decisive than :func:`decide` (17/18 at bar 0.8: PASS here,
    INCONCLUSIVE by the Wilson interval [0.785, 0.988]); report that interval
    beside the verdict.
    """
    passes, n = _counts(passes, n)
    if not 1 <= min_runs <= max_runs or n > max_runs:
        raise ValueError(
            f"need 1 <= min_runs <= max_runs and n <= max_runs, got "
            f"min_runs={min_runs}, max_runs={max_runs}, n={n}"
        )
    if n < min_runs:
        return "CONTINUE"
    bar = _rate(min_pass_rate)
    if bar in (0.0, 1.0):
        return _edge_step(passes, n, bar, max_runs)
    plan = sprt_plan(min_pass_rate=bar, confidence=confidence, indifference=indifference)
    upper, lower, llr = -math.log(plan.alpha), math.log(plan.beta), plan.llr(passes, n)
    if llr >= upper:
        return "PASS"
    if llr <= lower:
        return "FAIL"
    left = max_runs - n
    if llr + left * plan.step_pass < upper and llr + left * plan.step_fail > lower:
        return "INCONCLUSIVE"
    return "CONTINUE"


def _edge_step(passes: int, n: int, bar: float, max_runs: int) -> Step:
    if bar == 0.0:
        return "PASS"
    if passes < n:
        return "FAIL"
    return "PASS" if n == max_runs else "CONTINUE"


# --------------------------------------------------------------------------- history


@dataclass(frozen=True, slots=True)
class ControlLimits:
    """Shewhart limits for a per-run pass rate; NaN everywhere when history is too short."""

    center: float
    lower: float
    upper: float
    n_history: int
    provisional: bool  # fewer than 20 points: Shewhart practice asks for 20-25

    def contains(self, value: float) -> bool:
        return bool(self.lower <= value <= self.upper)


def control_limits(
    history_values: ArrayLike,
    *,
    sigmas: float = 3.0,
    trials_per_run: int | None = None,
    min_history: int = 10,
) -> ControlLimits:
    """Band for the next run's pass rate from past runs' pass rates (values in [0, 1]).

    With ``trials_per_run`` this is a p-chart (binomial sigma sqrt(p(1-p)/n));
    without, an individuals chart whose sigma is the mean moving range / 1.128,
    which also absorbs run-to-run noise beyond the binomial. Fewer than
    ``min_history`` values give NaN limits: too little history to draw a band.
    Limits are clipped to [0, 1]; a history without spread collapses them onto
    the centre, so any change falls outside.
    """
    x = np.asarray(history_values, dtype=float).ravel()
    if x.size and (np.isnan(x).any() or x.min() < 0.0 or x.max() > 1.0):
        raise ValueError("history_values must be pass rates in [0, 1] without NaN")
    if x.size < max(min_history, 2):
        return ControlLimits(math.nan, math.nan, math.nan, int(x.size), True)
    center = float(x.mean())
    if trials_per_run is not None:
        sigma = math.sqrt(center * (1 - center) / trials_per_run)
    else:
        sigma = float(np.abs(np.diff(x)).mean()) / 1.128  # d2 for moving ranges of 2
    low, high = max(center - sigmas * sigma, 0.0), min(center + sigmas * sigma, 1.0)
    return ControlLimits(center, low, high, int(x.size), x.size < 20)


def flip_rate(outcomes: Sequence[bool]) -> float:
    """Share of consecutive runs whose pass/fail verdict flipped; NaN with < 2 runs.

    0.0 is a stable case, 1.0 one that alternates every run (flaky).
    """
    x = np.asarray(outcomes, dtype=bool).ravel()
    if x.size < 2:
        return math.nan
    return float(np.mean(x[1:] != x[:-1]))
