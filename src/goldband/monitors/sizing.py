"""How large a reference must be for a drift test to mean something at a window size and minimum effect.

A window is compared with one fixed reference, so the reference's own
sampling noise is frozen into every window's statistic: a small reference
that happens to sit a little off the population makes many windows of an
unchanged stream drift (a 171-row reference flagged 1 to 8 of 20 unchanged
windows). ``minimum_reference`` gives the smallest reference for which the
test, at the window's size, both

* has ``power`` (default 0.8) to detect a change of exactly ``min_effect``
  (tests with a p-value: KS, chi-square; at level ``alpha`` per test, before
  the Benjamini-Hochberg step across features), and
* keeps the statistic of an *unchanged* window below ``min_effect`` with
  probability ``1 - alpha`` (tests without a p-value: PSI, Jensen-Shannon,
  Wasserstein, which flag on the effect alone).

The rules are large-sample approximations, each checked by simulation
(``tests/monitors/test_sizing.py``); s = sqrt(1/n + 1/m) for a reference of
n and windows of m rows:

============== ====================================================================================
ks             Smirnov's critical value c(alpha) s, c(alpha) = sqrt(-ln(alpha / 2) / 2), at most
               min_effect. Simulated for normal location shifts of D = 0.1 against windows of 500,
               this gives 79-83 % power at the minimum (the sup over x lifts D above its value at
               any one point), and 48 % at a third of it
chi2           chi-square with L - 1 degrees of freedom, noncentral with lambda = (n + m) V^2 at
               Cramér's V = min_effect (Cohen 1988, ch. 7); power from ``scipy.stats.ncx2``
psi            under no change PSI ~ s^2 chi2(B - 1) (the binned chi-square divergence) plus the
               window's share u beyond the reference's range (~ 2 / (n + 1), its 1 - alpha
               Poisson quantile) times ln(u / eps): the open-ended edge bins make a small
               reference's range itself a source of false alarms
jensen_shannon the same: JS distance^2 (base 2) ~ s^2 chi2(B - 1) / (8 ln 2) + u / 2
wasserstein    W / sd ~ k(alpha) s with k = 1.17 + 0.57 z(1 - alpha) (simulated for normal and
               exponential data: 95th percentile 2.07-2.15, 99th 2.61-2.86)
============== ====================================================================================

Pure functions; scipy only for the chi-square quantiles and normal quantiles.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Sizing", "minimum_reference"]

MAX_ROWS = 100_000_000  # beyond this the answer is "no reference is large enough"
PSI_EPS = 1e-4  # psi()'s floor for empty bins


@dataclass(frozen=True)
class Sizing:
    """The smallest useful reference for one test, or why none is (``minimum`` None)."""

    test: str
    minimum: int | None
    reason: str  # one line: what the minimum rests on

    def short(self, rows: int) -> bool:
        """Whether a reference of ``rows`` rows is too small."""
        return self.minimum is None or rows < self.minimum


@functools.lru_cache(maxsize=256)  # pure, and asked again by every check and status of the same model
def minimum_reference(test: str, *, window: int, alpha: float, min_effect: float, power: float = 0.8,
                      bins: int = 10, levels: int = 2) -> Sizing:
    """The smallest reference for ``test`` against windows of ``window`` rows (see the module docstring).

    >>> minimum_reference("ks", window=500, alpha=0.05, min_effect=0.1).minimum
    293
    >>> minimum_reference("ks", window=100, alpha=0.05, min_effect=0.1).minimum is None
    True
    """
    if min_effect <= 0:
        return Sizing(test, None, "min_effect is 0: any sampling noise is an effect, no reference is large enough")
    if test == "chi2":
        return _chi2(window, alpha, min_effect, power, max(2, levels))
    if test not in _NOISE:
        raise ValueError(f"no sizing rule for test {test!r}")
    noise = _NOISE[test]
    if noise(MAX_ROWS, window, alpha, bins) > min_effect:
        return Sizing(test, None, f"a window of {window:,} is too small for {test} at min_effect {min_effect:g}: "
                                  "no reference is large enough; use larger windows or a larger min_effect")
    low, high = 1, MAX_ROWS  # noise(high) <= min_effect < noise(low): bisect for the smallest such n
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if noise(mid, window, alpha, bins) <= min_effect else (mid, high)
    return Sizing(test, high, _why(test, power))


def _ks(n: int, m: int, alpha: float, bins: int) -> float:
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt(1 / n + 1 / m)


def _outside(n: int, m: int, alpha: float) -> float:
    """The window's share beyond an n-row reference's range that 1 - alpha of unchanged windows stay under."""
    from scipy import stats

    return float(stats.poisson.ppf(1 - alpha, m * 2 / (n + 1))) / m


def _psi(n: int, m: int, alpha: float, bins: int) -> float:
    from scipy import stats

    u = _outside(n, m, alpha)
    edge = u * math.log(u / PSI_EPS) if u > 0 else 0.0
    return (1 / n + 1 / m) * float(stats.chi2.ppf(1 - alpha, bins - 1)) + edge


def _js(n: int, m: int, alpha: float, bins: int) -> float:
    from scipy import stats

    q = float(stats.chi2.ppf(1 - alpha, bins - 1))
    return math.sqrt((1 / n + 1 / m) * q / (8 * math.log(2)) + _outside(n, m, alpha) / 2)


def _wasserstein(n: int, m: int, alpha: float, bins: int) -> float:
    from scipy import stats

    return (1.17 + 0.57 * float(stats.norm.ppf(1 - alpha))) * math.sqrt(1 / n + 1 / m)


_NOISE: dict[str, Callable[[int, int, float, int], float]] = {
    "ks": _ks, "psi": _psi, "jensen_shannon": _js, "wasserstein": _wasserstein}


def _chi2(window: int, alpha: float, delta: float, power: float, levels: int) -> Sizing:
    """Smallest n + m with power >= ``power`` at Cramér's V = ``delta``, by bisection on lambda."""
    from scipy import special  # the distribution functions themselves: stats.ncx2's checks cost 0.2 s a sizing

    df = levels - 1
    critical = float(special.chdtri(df, alpha))  # = stats.chi2.ppf(1 - alpha, df)

    def power_at(nc: float) -> float:  # = stats.ncx2.sf(critical, df, nc)
        return 1.0 - float(special.chndtr(critical, df, nc))

    low, high = 0.0, 1.0
    while power_at(high) < power:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if power_at(mid) < power else (low, mid)
    total = math.ceil(high / delta**2)
    if total - window <= 0:
        return Sizing("chi2", 1, _why("chi2", power))
    return Sizing("chi2", total - window, _why("chi2", power))


def _why(test: str, power: float) -> str:
    if test == "chi2":
        return f"power {power:.0%} to detect a change of min_effect"
    if test == "ks":
        return "the critical value at most min_effect (about 80 % power at min_effect)"
    return "an unchanged window stays below min_effect"
