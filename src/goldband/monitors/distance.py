"""Distances between distributions: Wasserstein and Jensen-Shannon."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from goldband.monitors._samples import NanPolicy, empty_reason, range_bins, samples
from goldband.monitors.result import DriftResult, check_knobs, decide, undefined

__all__ = ["jensen_shannon", "wasserstein"]


def wasserstein(
    reference: Any,
    current: Any,
    *,
    min_effect: float = 0.1,
    nan_policy: NanPolicy = "raise",
) -> DriftResult:
    """Earth mover's (Wasserstein-1) distance of ``current`` from ``reference``.

    The statistic is ``scipy.stats.wasserstein_distance`` in the feature's own
    units. The effect size divides it by the reference's standard deviation
    (population, ``ddof=0``), so ``0.1`` means a shift of a tenth of a standard
    deviation; a constant reference gives effect 0 when the current sample equals
    it and infinity otherwise. No p-value; ``drifted`` means
    ``effect >= min_effect`` (default 0.1).

    Empty input gives an undefined result (NaN, never drifted); NaN or infinite
    values raise a ``MonitorError`` (a ``ValueError``) unless ``nan_policy="omit"``.

    >>> r = wasserstein([0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0])
    >>> r.statistic, round(r.effect_size, 4), r.drifted
    (1.0, 0.8944, True)
    """
    check_knobs("wasserstein", min_effect=min_effect)
    ref, cur, dropped = samples(reference, current, test="wasserstein", nan_policy=nan_policy)
    if empty := empty_reason(len(ref), len(cur)):
        return undefined("wasserstein", empty, has_p_value=False)
    from scipy import stats

    distance = float(stats.wasserstein_distance(ref, cur))
    scale = float(np.std(ref))
    effect = distance / scale if scale > 0.0 else (0.0 if distance == 0.0 else math.inf)
    detail = f"W={distance:.4g} ({effect:.3g} reference sd), n_ref={len(ref)}, n_cur={len(cur)}{dropped}"
    return decide("wasserstein", distance, None, effect, min_effect=min_effect,
                  detail=detail)


def jensen_shannon(
    reference: Any,
    current: Any,
    *,
    bins: int = 10,
    min_effect: float = 0.1,
    nan_policy: NanPolicy = "raise",
) -> DriftResult:
    """Jensen-Shannon distance between binned ``reference`` and ``current``.

    Both samples are binned on the reference's quantiles with two extra bins
    below the reference's minimum and above its maximum (as in ``psi``), so
    values outside the reference's range count fully; their share is
    ``out_of_range_share`` and is in ``detail``. The histograms are compared
    with ``scipy.spatial.distance.jensenshannon`` in base 2, so the distance
    lies in [0, 1] (0: same histogram, 1: disjoint). It is symmetric and needs
    no epsilon for empty bins (the reference's empty outer bins are fine). The effect size is the distance itself; no
    p-value; ``drifted`` means ``distance >= min_effect`` (default 0.1).

    Empty input gives an undefined result (NaN, never drifted); NaN or infinite
    values raise a ``MonitorError`` (a ``ValueError``) unless ``nan_policy="omit"``.

    >>> jensen_shannon([1, 2, 3, 4], [1, 2, 3, 4], bins=2).statistic
    0.0
    >>> r = jensen_shannon([1, 2, 3, 4], [10, 20, 30, 40], bins=2)
    >>> r.statistic, r.out_of_range_share
    (1.0, 1.0)
    """
    check_knobs("jensen_shannon", min_effect=min_effect)
    ref, cur, dropped = samples(reference, current, test="jensen_shannon", nan_policy=nan_policy)
    if empty := empty_reason(len(ref), len(cur)):
        return undefined("jensen_shannon", empty, has_p_value=False)
    from scipy.spatial import distance

    binned = range_bins(ref, cur, bins, test="jensen_shannon")
    js = float(distance.jensenshannon(binned.reference, binned.current, base=2))
    js = min(max(js, 0.0), 1.0)  # rounding can step a hair outside [0, 1]
    detail = (f"JS distance={js:.4g}, {binned.n_bins} bins, {binned.note()}, "
              f"n_ref={len(ref)}, n_cur={len(cur)}{dropped}")
    return decide("jensen_shannon", js, None, js, min_effect=min_effect,
                  detail=detail, out_of_range_share=binned.out_of_range)
