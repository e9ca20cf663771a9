"""Seeded simulations of ``goldband compare``'s promises, through ``compare()`` itself.

* identical base and head: the share of simulated pre-merge checks with *any*
  ``regressed`` case stays at or below alpha, with a fixed N and with adaptive
  repeats (each side stopping by the engine's own SPRT rule, ``sequential_decision``);
* a planted drop of the documented size (``--detect``) at the planned N is
  found at the documented power (80 %), for a case alone and for a change that
  hits every case of a golden set.

Monte-Carlo tolerance: a rate "stays at or below nominal" when it is at most
nominal + 3 standard errors; power "reaches" its target when at least target - 3
standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from goldband.bands.sprt import sequential_decision
from goldband.compare.cases import CaseStats, Comparison, compare
from goldband.compare.power import plan_runs

ALPHA = 0.05
CASES = 12


def _se(rate: float, sims: int) -> float:
    return 3 * float(np.sqrt(rate * (1 - rate) / sims))


def _keys(m: int) -> list[tuple[str, str, str]]:
    return [("set", f"c{i}", "bot") for i in range(m)]


def _run(base: list[CaseStats], head: list[CaseStats]) -> Comparison:
    keys = _keys(len(base))
    return compare(dict(zip(keys, base, strict=True)), dict(zip(keys, head, strict=True)), alpha=ALPHA)


def _fixed(rng: np.random.Generator, rates: np.ndarray, n: int) -> list[CaseStats]:
    return [CaseStats(n, int(x)) for x in rng.binomial(n, rates)]


def _adaptive(rng: np.random.Generator, rates: np.ndarray, band: float, low: int, high: int) -> list[CaseStats]:
    """Each case runs trial by trial until the SPRT of its band decides (the engine's rule)."""
    out = []
    for rate in rates:
        outcomes = rng.random(high) < rate
        n = low
        while sequential_decision(int(outcomes[:n].sum()), n, min_pass_rate=band, min_runs=low,
                                  max_runs=high) == "CONTINUE":
            n += 1
        out.append(CaseStats(n, int(outcomes[:n].sum()), looks=CaseStats.looks_of(low, high)))
    return out


def _rates(rng: np.random.Generator) -> np.ndarray:
    """Varied true pass rates, the same on both sides: a third always pass, the rest in (0.4, 1)."""
    rates = rng.uniform(0.4, 1.0, CASES)
    rates[: CASES // 3] = 1.0
    return rates


def test_identical_sides_at_the_planned_n_rarely_show_any_regression():
    n = plan_runs(0.8, 0.5).n
    rng, sims = np.random.default_rng(11), 300
    rates = _rates(rng)
    alarms = sum(bool(_run(_fixed(rng, rates, n), _fixed(rng, rates, n)).regressions) for _ in range(sims))
    assert alarms / sims <= ALPHA + _se(ALPHA, sims)


def test_identical_sides_with_adaptive_repeats_rarely_show_any_regression():
    """Optional stopping then a fixed-n test has no guarantee; corrected for the stopping points it keeps alpha."""
    rng, sims = np.random.default_rng(12), 300
    rates = _rates(rng)
    alarms = 0
    for _ in range(sims):
        base, head = _adaptive(rng, rates, 0.8, 3, 12), _adaptive(rng, rates, 0.8, 3, 12)
        alarms += bool(_run(base, head).regressions)
    assert alarms / sims <= ALPHA + _se(ALPHA, sims)


@pytest.mark.parametrize("band", [1.0, 0.8])
def test_a_planted_drop_of_the_documented_size_is_found_at_the_documented_power(band):
    plan = plan_runs(band, 0.3)
    rng, sims = np.random.default_rng(int(band * 100)), 300
    found = sum(_run([CaseStats(plan.n, int(rng.binomial(plan.n, plan.base_rate)))],
                     [CaseStats(plan.n, int(rng.binomial(plan.n, plan.head_rate)))]).count("regressed")
                for _ in range(sims))
    assert found / sims >= plan.power - _se(plan.power, sims)


def test_a_change_that_hits_every_case_is_found_case_by_case_at_the_documented_power():
    plan = plan_runs(1.0, 0.3)
    rng, sims = np.random.default_rng(5), 100
    base_rates, head_rates = np.full(CASES, plan.base_rate), np.full(CASES, plan.head_rate)
    found = sum(_run(_fixed(rng, base_rates, plan.n), _fixed(rng, head_rates, plan.n)).count("regressed")
                for _ in range(sims))
    assert found / (sims * CASES) >= plan.power - _se(plan.power, sims * CASES)
