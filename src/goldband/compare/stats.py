"""Base-vs-head statistics where the *case* is the unit, not the repeat.

Repeats of one case share its prompt, its quirks and the run they ran in, so
they are not independent samples of the golden set. Pooling all repeats into
one two-proportion test treats them as if they were, and raises false alarms
whenever anything is shared within a case's run (``tests/compare/test_stats_simulation.py``
shows it). Here, instead:

* per case: :func:`compare_pass_counts` (Barnard's exact test, Newcombe interval)
  and :func:`compare_scores` (Mann-Whitney U, bootstrap interval);
* across cases: :func:`benjamini_hochberg` on the per-case p-values, then
  :func:`classify_change` with a minimum effect size;
* overall: :func:`paired_comparison`, a Wilcoxon signed-rank test over the
  per-case deltas -- each case one pair, whatever its repeat count.

Pure functions, keyword-only knobs; see each function for empty input.

>>> compare_pass_counts(10, 10, 4, 10).p_value < 0.01
True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from goldband.bands.intervals import NAN_INTERVAL, Interval, no_spread, wilson_interval
from goldband.monitors import fdr

Change = Literal["regressed", "improved", "not significant"]


def _sample(values: ArrayLike, name: str) -> NDArray[np.float64]:
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError(f"{name} is empty: a case without trials on one side cannot be compared")
    if np.isnan(x).any():
        raise ValueError(f"{name} contains NaN")
    return x


def _bootstrap_mean(
    samples: tuple[NDArray[np.float64], ...], confidence: float, seed: int, n_resamples: int
) -> Interval:
    """BCa interval of mean(last) - mean(first), or of mean(only); NaN if any sample < 2."""
    if any(x.size < 2 for x in samples):
        return NAN_INTERVAL
    point = float(samples[-1].mean() - (samples[0].mean() if len(samples) == 2 else 0.0))
    if all(no_spread(x) for x in samples):
        return (point, point)

    def statistic(*xs: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
        head = np.mean(xs[-1], axis=axis)
        return np.asarray(head - np.mean(xs[0], axis=axis) if len(xs) == 2 else head)

    ci = stats.bootstrap(
        samples,
        statistic,
        confidence_level=confidence,
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed),
    )
    return (float(ci.confidence_interval.low), float(ci.confidence_interval.high))


# --------------------------------------------------------------------------- one case


@dataclass(frozen=True, slots=True)
class PassCountComparison:
    """One case's pass rate, base vs head: ``delta = head_rate - base_rate``."""

    base_rate: float
    head_rate: float
    delta: float
    interval: Interval  # Newcombe's hybrid score interval for delta
    p_value: float  # Barnard's exact test, two-sided


def compare_pass_counts(
    base_passes: int, base_n: int, head_passes: int, head_n: int, *, confidence: float = 0.95
) -> PassCountComparison:
    """Did this case's pass rate change? Barnard's exact test plus an interval for the delta.

    Barnard, not Fisher: the repeat counts are fixed by design but the pass
    totals are not, and Fisher's test conditions on them. At 10 repeats a side
    that makes Fisher's true size about 1.3 % at a nominal 5 % and its power to
    see 1.0 -> 0.6 about 37 %; Barnard's unconditional test keeps its size
    at or below 5 % (4.2 % worst case) with 62 % power. It costs ~15 ms per table;
    tables repeat across cases, so results are cached.
    Either side with no trials raises ValueError (a new case has no baseline).
    """
    for passes, n, side in ((base_passes, base_n, "base"), (head_passes, head_n, "head")):
        if n < 1 or not 0 <= passes <= n:
            raise ValueError(
                f"{side}: need 0 <= passes <= n and n >= 1, got {passes}/{n}; "
                "a case with no trials on one side cannot be compared"
            )
    base, head = base_passes / base_n, head_passes / head_n
    interval = newcombe_interval(base_passes, base_n, head_passes, head_n, confidence=confidence)
    p_value = _barnard_p(int(head_passes), int(head_n), int(base_passes), int(base_n))
    return PassCountComparison(base, head, head - base, interval, p_value)


@functools.lru_cache(maxsize=4096)
def _barnard_p(head_passes: int, head_n: int, base_passes: int, base_n: int) -> float:
    table = [[head_passes, base_passes], [head_n - head_passes, base_n - base_passes]]
    return float(min(stats.barnard_exact(table, alternative="two-sided").pvalue, 1.0))


def newcombe_interval(
    base_passes: int, base_n: int, head_passes: int, head_n: int, *, confidence: float = 0.95
) -> Interval:
    """Newcombe's hybrid score interval (his method 10) for head rate - base rate.

    Built from the two Wilson intervals, so it behaves at 0/n and n/n where the
    Wald difference interval collapses. Clipped to [-1, 1].
    """
    lb, ub = wilson_interval(base_passes, base_n, confidence=confidence)
    lh, uh = wilson_interval(head_passes, head_n, confidence=confidence)
    base, head = base_passes / base_n, head_passes / head_n
    delta = head - base
    low = delta - math.sqrt((head - lh) ** 2 + (ub - base) ** 2)
    high = delta + math.sqrt((uh - head) ** 2 + (base - lb) ** 2)
    return (max(low, -1.0), min(high, 1.0))


@dataclass(frozen=True, slots=True)
class ScoreComparison:
    """One case's scores, base vs head: ``delta = head_mean - base_mean``."""

    base_mean: float
    head_mean: float
    delta: float
    interval: Interval  # bootstrap (BCa) interval of delta; NaN if a side has < 2 scores
    p_value: float  # Mann-Whitney U, two-sided


def compare_scores(
    base_scores: ArrayLike,
    head_scores: ArrayLike,
    *,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 2000,
) -> ScoreComparison:
    """Did this case's scores shift? Mann-Whitney U (rank-based: judge scores are
    ordinal and lumpy) and a seeded bootstrap interval of the mean difference.

    An empty side raises ValueError; identical samples give p = 1.
    """
    base, head = _sample(base_scores, "base_scores"), _sample(head_scores, "head_scores")
    p_value = float(stats.mannwhitneyu(head, base, alternative="two-sided").pvalue)
    interval = _bootstrap_mean((base, head), confidence, seed, n_resamples)
    delta = float(head.mean() - base.mean())
    return ScoreComparison(float(base.mean()), float(head.mean()), delta, interval, p_value)


# --------------------------------------------------------------------------- across cases


def benjamini_hochberg(
    p_values: ArrayLike, *, alpha: float = 0.05
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """BH-adjusted p-values and which cases are discoveries at false discovery rate ``alpha``.

    Many cases are tested at once; without this, 200 unchanged cases give ~10
    "significant" changes at 5 %. Empty input gives two empty arrays. The
    correction is the monitors' own (``goldband.monitors.fdr.adjust``); bad
    input raises its ``MonitorError``, a ``ValueError``.
    """
    return fdr.adjust(p_values, alpha=alpha)


def classify_change(
    delta: float, p_adjusted: float, *, alpha: float = 0.05, min_effect: float = 0.1
) -> Change:
    """regressed / improved when significant *and* at least ``min_effect`` in size.

    The effect floor keeps a tiny but significant shift (possible with many
    repeats) from being reported as a change. A NaN delta or p is "not significant".
    """
    if min_effect < 0.0:
        raise ValueError(f"min_effect must be >= 0, got {min_effect!r}")
    if not p_adjusted <= alpha or not abs(delta) >= min_effect or delta == 0.0:
        return "not significant"
    return "improved" if delta > 0 else "regressed"


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """All cases, base vs head, each case one pair; ``mean_delta`` is head - base."""

    n_cases: int
    n_changed: int  # cases whose rate moved at all (nonzero delta)
    mean_delta: float
    interval: Interval  # paired bootstrap interval of the mean per-case delta
    statistic: float  # Wilcoxon signed-rank statistic; NaN when no case changed
    p_value: float  # two-sided; 1.0 when no case changed


def paired_comparison(
    base_rates: ArrayLike,
    head_rates: ArrayLike,
    *,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 2000,
) -> PairedComparison:
    """Did the golden set as a whole move? Wilcoxon signed-rank over per-case deltas.

    The case is the unit: shared noise within a case's run cancels in its own
    delta instead of masquerading as many independent changes. Cases with a zero
    delta are dropped from the ranks (Wilcoxon's convention; deltas are rounded
    to 12 decimals so float noise neither breaks ties nor counts as a change);
    when every delta is zero the p-value is 1.0 and the statistic NaN. Empty input or unequal
    lengths raise ValueError.
    """
    base, head = _sample(base_rates, "base_rates"), _sample(head_rates, "head_rates")
    if base.shape != head.shape:
        raise ValueError(f"base_rates and head_rates differ in length: {base.size} vs {head.size}")
    deltas = np.round(head - base, 12)  # rates from counts: 0.1 + 0.2 vs 0.3 is no change
    changed = int(np.count_nonzero(deltas))
    statistic, p_value = math.nan, 1.0
    if changed:
        result = stats.wilcoxon(deltas, zero_method="wilcox", alternative="two-sided")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    interval = _bootstrap_mean((deltas,), confidence, seed, n_resamples)
    return PairedComparison(base.size, changed, float(deltas.mean()), interval, statistic, p_value)
