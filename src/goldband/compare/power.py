"""How many trials a pre-merge comparison needs: a fixed N chosen from the band and the drop to detect.

Stopping a side early when its own band is decided and then testing its
counts as if n had been fixed has no guaranteed error rate (optional
stopping). So ``goldband compare`` runs a *fixed* N on both sides, planned
here before any call, and says what that N can see:

* the planning scenario for a case with ``min_pass_rate`` b and a drop d to
  detect is a base pass rate ``min(1, b + d/2)`` falling by d, i.e. a case that
  straddled its band falling through it;
* N is the Fleiss-Tytun-Ury sample size (normal approximation with
  continuity correction) for a two-sided test at level ``alpha`` with
  ``power``. It is sized for Fisher-like conditional tests; the compare uses
  Barnard's unconditional test, which is at least as powerful, so the real power
  is at or above the planned one (``tests/compare/test_power_simulation.py``
  checks it by simulation with Barnard's test itself, and
  ``bench/bench_compare_power.py`` tabulates it, docs/bench-compare.md);
* power is per case, before the Benjamini-Hochberg step across cases: when one
  case of many regresses alone, BH asks more of its p-value (docs/bench-compare.md).

Pure functions, standard library only (``statistics.NormalDist``).

>>> plan_runs(1.0, 0.3).n
28
>>> plan_runs(0.8, 0.3, cap=20).capped
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

POWER = 0.8
MAX_RUNS = 50  # the default cap: beyond it, say what N can see instead of spending more


@dataclass(frozen=True, slots=True)
class RunsPlan:
    """The fixed N of one case on both sides, and what it can see."""

    n: int
    base_rate: float  # the planning scenario: a base pass rate ...
    head_rate: float  # ... falling to this
    power: float  # the power N was planned for (per case, two-sided, level alpha)
    capped: bool  # N hit the cap: the planned drop needs more trials than allowed
    detectable: float  # the smallest drop from base_rate this N finds with ``power``

    def describe(self) -> str:
        """One line for the terminal and the PR comment."""
        text = (f"{self.n} trials a side: a drop from {self.base_rate:.2f} to {self.head_rate:.2f} is found with "
                f"{self.power:.0%} power per case")
        if self.capped:
            text = (f"{self.n} trials a side (the cap): only a drop of {self.detectable:.2f} or more from "
                    f"{self.base_rate:.2f} is found with {self.power:.0%} power per case")
        return text


def planning_rates(min_pass_rate: float, drop: float) -> tuple[float, float]:
    """The base and head pass rates of the planning scenario: straddling the band, falling through it."""
    if not 0.0 < drop <= 1.0:
        raise ValueError(f"the drop to detect must be in (0, 1], got {drop!r}")
    base = round(min(1.0, min_pass_rate + drop / 2), 6)
    return base, round(max(0.0, base - drop), 6)


def runs_for(base_rate: float, head_rate: float, *, alpha: float = 0.05, power: float = POWER) -> int:
    """Trials per side for a two-sided test of two proportions (Fleiss, Tytun & Ury 1980)."""
    delta = abs(base_rate - head_rate)
    if delta == 0.0:
        raise ValueError("base and head rates are equal: no sample size finds a zero difference")
    z_a, z_b = NormalDist().inv_cdf(1 - alpha / 2), NormalDist().inv_cdf(power)
    mean = (base_rate + head_rate) / 2
    spread = base_rate * (1 - base_rate) + head_rate * (1 - head_rate)
    n0 = (z_a * math.sqrt(2 * mean * (1 - mean)) + z_b * math.sqrt(spread)) ** 2 / delta**2
    return max(2, math.ceil(n0 / 4 * (1 + math.sqrt(1 + 4 / (n0 * delta))) ** 2))


def detectable_drop(n: int, base_rate: float, *, alpha: float = 0.05, power: float = POWER) -> float:
    """The smallest drop from ``base_rate`` (in steps of 0.01) that ``n`` trials a side find with ``power``."""
    for step in range(1, round(base_rate * 100) + 1):
        drop = step / 100
        if runs_for(base_rate, base_rate - drop, alpha=alpha, power=power) <= n:
            return drop
    return 1.0


def plan_runs(min_pass_rate: float, drop: float, *, alpha: float = 0.05, power: float = POWER,
              cap: int = MAX_RUNS) -> RunsPlan:
    """The fixed N for a case with this band, sized to find ``drop``; at most ``cap``."""
    base, head = planning_rates(min_pass_rate, drop)
    if base == head:
        raise ValueError(f"min_pass_rate {min_pass_rate} leaves no room for a drop of {drop}")
    needed = runs_for(base, head, alpha=alpha, power=power)
    n = min(needed, cap)
    seen = drop if needed <= cap else detectable_drop(n, base, alpha=alpha, power=power)
    return RunsPlan(n, base, head, power, needed > cap, seen)
