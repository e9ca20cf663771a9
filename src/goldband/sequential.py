"""Adaptive repeats: when to stop a case early (pure functions).

Two stopping rules, both honest under repeated looks:

- ``sprt`` (default): Wald's SPRT (``stats.sequential_decision``); its error
  bounds hold at every look (Ville's inequality). Efficient for the common
  case that always passes: 12 straight passes settle bar 0.8 at confidence 0.9.
- ``interval``: the fixed-``max_runs`` interval rule (``stats.decide``), stopped
  as soon as the remaining runs cannot change its verdict (curtailment). Every
  PASS or FAIL is exactly what running all ``max_runs`` would have said.

Both add *futility* stopping: a case whose chance of ever reaching a PASS or
FAIL within ``max_runs`` is below ``futility`` stops early as INCONCLUSIVE.
Futility only ever turns a would-be decision into INCONCLUSIVE, so it cannot
add a wrong verdict; it saves the calls that undecidable cases near the bar
would burn. Chances come from the posterior predictive of a uniform prior on
the pass rate (a Polya urn), not from a point estimate.
"""

from __future__ import annotations

import math
from functools import lru_cache

from goldband import stats

MAX_LOOKAHEAD = 200  # beyond this many remaining runs, futility is not evaluated (cost)


def interval_step(passes: int, n: int, *, max_runs: int, min_runs: int, min_pass_rate: float,
                  confidence: float, futility: float = 0.0) -> stats.Step:
    """PASS / FAIL once the ``max_runs`` verdict is settled; INCONCLUSIVE when settled
    undecided or futile; else CONTINUE."""
    settled = stats.settled_verdict(passes, n, runs=max_runs, min_pass_rate=min_pass_rate, confidence=confidence)
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
    plan = stats.sprt_plan(min_pass_rate=min_pass_rate, confidence=confidence, indifference=indifference)
    return _reach(passes, n, max_runs, plan) < futility


def _reach(passes: int, n: int, max_runs: int, plan: stats.SprtPlan) -> float:
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


def _predictive(passes: int, n: int, left: int) -> list[float]:
    """P(j more passes in ``left`` runs), j = 0..left: beta-binomial(1 + passes, 1 + fails)."""
    from scipy.stats import betabinom

    return [float(x) for x in betabinom.pmf(range(left + 1), left, 1 + passes, 1 + n - passes)]


@lru_cache(maxsize=256)
def _finals(runs: int, min_pass_rate: float, confidence: float) -> tuple[bool, ...]:
    """For k = 0..runs passes out of ``runs``: is the interval rule's verdict decisive?"""
    return tuple(stats.decide(k, runs, min_pass_rate=min_pass_rate, confidence=confidence).verdict
                 in ("PASS", "FAIL") for k in range(runs + 1))
