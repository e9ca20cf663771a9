"""Intervals for one case's pass rate and mean score (pure functions; scipy only where no closed form is used).

Undefined input is documented per function: proportions with ``n == 0`` give the
no-information interval ``(0.0, 1.0)``; means of fewer than two scores give
``(nan, nan)``; impossible input (negative counts, ``passes > n``, a confidence
outside (0, 1)) raises ``ValueError``.

>>> wilson_interval(9, 10, confidence=0.9)
(0.6522..., 0.9773...)
"""

from __future__ import annotations

import math
import operator
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

IntervalMethod = Literal["wilson", "clopper-pearson"]
Interval = tuple[float, float]

NAN_INTERVAL: Interval = (math.nan, math.nan)


def valid_counts(passes: int, n: int) -> tuple[int, int]:
    """Validate a (passes, n) pair of integers; floats are refused, not rounded."""
    passes, n = operator.index(passes), operator.index(n)
    if n < 0 or not 0 <= passes <= n:
        raise ValueError(f"need 0 <= passes <= n, got passes={passes}, n={n}")
    return passes, n


def valid_level(value: float, name: str = "confidence") -> float:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return float(value)


def valid_rate(value: float, name: str = "min_pass_rate") -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return float(value)


def wilson_interval(passes: int, n: int, *, confidence: float = 0.9) -> Interval:
    """Wilson score interval for a pass rate (two-sided, level ``confidence``).

    Wilson is the default because it keeps close to nominal coverage at the
    small n of LLM repeats, where the Wald interval collapses to zero width at
    0/n and n/n. ``n == 0`` returns ``(0.0, 1.0)``: no trials, no information.
    Closed form (Wilson 1927), equal to scipy's ``binomtest(...).proportion_ci(method="wilson")``
    (tests/bands/test_intervals.py) without scipy's cost per call or at import.
    """
    passes, n = valid_counts(passes, n)
    confidence = valid_level(confidence)
    if n == 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    rate, z2 = passes / n, z * z
    centre = (rate + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (min(max(centre - half, 0.0), rate), max(min(centre + half, 1.0), rate))


def clopper_pearson_interval(passes: int, n: int, *, confidence: float = 0.9) -> Interval:
    """Clopper-Pearson ("exact") interval: coverage is guaranteed, at the price of width.

    Use it when a band must never overstate certainty. ``n == 0`` gives ``(0.0, 1.0)``. The bounds are the
    beta quantiles themselves (``scipy.special.betaincinv``), which is what scipy's
    ``binomtest(...).proportion_ci(method="exact")`` computes (tests/bands/test_intervals.py, to 1e-12),
    without importing ``scipy.stats`` (about a second) or its checks on every call.
    """
    passes, n = valid_counts(passes, n)
    confidence = valid_level(confidence)
    if n == 0:
        return (0.0, 1.0)
    from scipy import special

    alpha = 1.0 - confidence
    low = float(special.betaincinv(passes, n - passes + 1, alpha / 2)) if passes > 0 else 0.0
    high = float(special.betaincinv(passes + 1, n - passes, 1 - alpha / 2)) if passes < n else 1.0
    rate = passes / n  # clip float noise so low <= rate <= high holds exactly
    return (min(max(low, 0.0), rate), max(min(high, 1.0), rate))


def proportion_interval(
    passes: int, n: int, *, confidence: float = 0.9, method: IntervalMethod = "wilson"
) -> Interval:
    """Dispatch to :func:`wilson_interval` or :func:`clopper_pearson_interval` by name."""
    if method == "wilson":
        return wilson_interval(passes, n, confidence=confidence)
    if method == "clopper-pearson":
        return clopper_pearson_interval(passes, n, confidence=confidence)
    raise ValueError(f"method must be 'wilson' or 'clopper-pearson', got {method!r}")


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
    confidence = valid_level(confidence)
    if np.isnan(x).any():
        raise ValueError("scores contain NaN; an unscored trial is an error, not a score")
    if x.size < 2:
        return NAN_INTERVAL
    if no_spread(x):
        centre = float(np.clip(x.mean(), x.min(), x.max()))
        return (centre, centre)
    from scipy import stats

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


def min_runs_to_pass(
    *, min_pass_rate: float, confidence: float = 0.9, method: IntervalMethod = "wilson"
) -> int:
    """Smallest n at which n/n passes can PASS under ``decide.decide``.

    A fixed ``runs`` below this can only FAIL or be INCONCLUSIVE -- worth a
    warning at configuration time (0.8 at confidence 0.9 needs 11 runs).
    """
    bar = valid_rate(min_pass_rate)
    if bar == 1.0:
        return 1  # the exact never-fails rule
    n = 1
    while proportion_interval(n, n, confidence=confidence, method=method)[0] < bar:
        n += 1
    return n
