"""Adaptive repeats: when to stop a case early (pure functions).

Two stopping rules, both honest under repeated looks:

- ``sprt`` (default): Wald's SPRT (:func:`sequential_decision`); its error
  bounds hold at every look (Ville's inequality). Efficient for the common
  case that always passes: 12 straight passes settle bar 0.8 at confidence 0.9.
- ``interval``: the fixed-``max_runs`` interval rule
  (:func:`goldband.bands.decide.decide`), stopped as soon as the remaining runs
  cannot change its verdict (curtailment). Every PASS or FAIL is exactly what
  running all ``max_runs`` would have said (:func:`interval_step`).

Both add *futility* stopping: a case whose chance of ever reaching a PASS or
FAIL within ``max_runs`` is below ``futility`` stops early as INCONCLUSIVE.
Futility only ever turns a would-be decision into INCONCLUSIVE, so it cannot
add a wrong verdict; it saves the calls that undecidable cases near the bar
would burn. Chances come from the posterior predictive of a uniform prior on
the pass rate (a Polya urn), not from a point estimate.

>>> sequential_decision(12, 12, min_pass_rate=0.8, confidence=0.9)
'PASS'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from goldband.bands.decide import decide, settled_verdict
from goldband.bands.intervals import valid_counts, valid_level, valid_rate

Step = Literal["PASS", "FAIL", "CONTINUE", "INCONCLUSIVE"]


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
    bar, tail = valid_rate(min_pass_rate), (1.0 - valid_level(confidence)) / 2
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
    passes, n = valid_counts(passes, n)
    if not 1 <= min_runs <= max_runs or n > max_runs:
        raise ValueError(
            f"need 1 <= min_runs <= max_runs and n <= max_runs, got "
            f"min_runs={min_runs}, max_runs={max_runs}, n={n}"
        )
    if n < min_runs:
        return "CONTINUE"
    bar = valid_rate(min_pass_rate)
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


# --------------------------------------------------------------------------- curtailment and futility

MAX_LOOKAHEAD = 200  # beyond this many remaining runs, futility is not evaluated (cost)


def interval_step(passes: int, n: int, *, max_runs: int, min_runs: int, min_pass_rate: float,
                  confidence: float, futility: float = 0.0) -> Step:
    """PASS / FAIL once the ``max_runs`` verdict is settled; INCONCLUSIVE when settled
    undecided or futile; else CONTINUE."""
    settled = settled_verdict(passes, n, runs=max_runs, min_pass_rate=min_pass_rate, confidence=confidence)
    if settled is not None and (settled != "INCONCLUSIVE" or n >= min_runs):
        return "PASS" if settled == "PASS" else "FAIL" if settled == "FAIL" else "INCONCLUSIVE"
    if n < min_runs or futility <= 0 or max_runs - n > MAX_LOOKAHEAD:
        return "CONTINUE"
    decisive = _finals(max_runs, min_pass_rate, confidence)
    chance = sum(p for j, p in enumerate(_predictive(passes, n, max_runs - n)) if decisive[passes + j])
    return "INCONCLUSIVE" if chance < futility else "CONTINUE"


def sprt_futile(passes: int, n: int, *, max_runs: int, min_pass_rate: float, confidence: float,
                indifference: float, futility: float) -> bool:
    """True when the SPRT's chance of reaching either threshold by ``max_runs`` is below ``futility``."""
    if futility <= 0 or max_runs - n > MAX_LOOKAHEAD or min_pass_rate in (0.0, 1.0):
        return False
    plan = sprt_plan(min_pass_rate=min_pass_rate, confidence=confidence, indifference=indifference)
    return _reach(passes, n, max_runs, plan) < futility


def _reach(passes: int, n: int, max_runs: int, plan: SprtPlan) -> float:
    """P(the log-likelihood ratio crosses a threshold within max_runs), by dynamic programming
    over (passes, fails) with Polya-urn transitions (the uniform prior's predictive)."""
    upper, lower = -math.log(plan.alpha), math.log(plan.beta)
    states = {passes: 1.0}  # passes -> probability, at the current number of trials
    reached = 0.0
    for m in range(n, max_runs):
        nxt: dict[int, float] = {}
        for k, prob in states.items():
            p_pass = (k + 1) / (m + 2)
            for k2, q in ((k + 1, p_pass), (k, 1 - p_pass)):
                llr = plan.llr(k2, m + 1)
                if llr >= upper or llr <= lower:
                    reached += prob * q
                else:
                    nxt[k2] = nxt.get(k2, 0.0) + prob * q
        states = nxt
    return reached


@lru_cache(maxsize=1024)
def _predictive(passes: int, n: int, left: int) -> tuple[float, ...]:
    """P(j more passes in ``left`` runs), j = 0..left: beta-binomial(1 + passes, 1 + fails).

    ``C(left, j) B(j + a, left - j + b) / B(a, b)`` with whole ``a`` and ``b``, so every beta function is a
    ratio of factorials: computed exactly in integers and rounded once, equal to ``scipy.stats.betabinom.pmf``
    (tests/bands/test_sprt.py) without importing ``scipy.stats`` (a second) for a run's adaptive stop.

    >>> [round(p, 4) for p in _predictive(3, 4, 2)]
    [0.1429, 0.381, 0.4762]
    """
    a, b, fact = 1 + passes, 1 + n - passes, math.factorial
    scale = fact(left + a + b - 1) * fact(a - 1) * fact(b - 1)
    return tuple(math.comb(left, j) * fact(j + a - 1) * fact(left - j + b - 1) * fact(a + b - 1) / scale
                 for j in range(left + 1))


@lru_cache(maxsize=256)
def _finals(runs: int, min_pass_rate: float, confidence: float) -> tuple[bool, ...]:
    """For k = 0..runs passes out of ``runs``: is the interval rule's verdict decisive?"""
    return tuple(decide(k, runs, min_pass_rate=min_pass_rate, confidence=confidence).verdict
                 in ("PASS", "FAIL") for k in range(runs + 1))
