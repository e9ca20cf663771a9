"""Benjamini-Hochberg: which of many drift tests (or base-vs-head cases) to believe at once.

The one implementation of the correction in goldband: the monitors use it here,
``goldband.compare.stats.benjamini_hochberg`` and the window checks of
``goldband.watch`` use ``adjust`` from this module.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from goldband.errors import MonitorError

__all__ = ["adjust", "benjamini_hochberg"]


def adjust(p_values: ArrayLike, *, alpha: float = 0.05) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """BH-adjusted p-values, and which hypotheses are rejected at false discovery rate ``alpha``.

    Scipy's ``false_discovery_control(p, method="bh")`` step for step (sort, scale
    by ``m / i``, running minimum from the largest, clip), without importing
    ``scipy.stats`` (a second) for three numpy operations; a hypothesis is
    rejected when its adjusted p-value is ``<= alpha``. The input is flattened; empty input gives two empty
    arrays. An ``alpha`` outside (0, 1), or a p-value outside [0, 1] or NaN, raises a
    ``MonitorError`` (a ``ValueError``) that names the first bad p-value.

    >>> adjusted, rejected = adjust([0.01, 0.04, 0.03, 0.5], alpha=0.05)
    >>> adjusted.round(4).tolist(), rejected.tolist()
    ([0.04, 0.0533, 0.0533, 0.5], [True, False, False, False])
    """
    if not 0.0 < alpha < 1.0:
        raise MonitorError(f"alpha={alpha!r}", where="benjamini_hochberg()", expected="a number in (0, 1)")
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if not p.size:
        return np.empty(0), np.empty(0, dtype=bool)
    bad = ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        first = int(np.argmax(bad))
        raise MonitorError(
            f"{int(bad.sum())} p-value(s) outside [0, 1], the first at index {first}: {float(p[first])!r}",
            where="benjamini_hochberg()",
            expected="p-values in [0, 1]",
            fix="leave undefined tests (NaN p-value) out before correcting",
        )
    order = np.argsort(p)
    scaled = p[order] * (p.size / np.arange(1, p.size + 1, dtype=np.float64))
    np.minimum.accumulate(scaled[::-1], out=scaled[::-1])
    adjusted = np.empty_like(scaled)
    adjusted[order] = np.clip(scaled, 0.0, 1.0)
    return adjusted, adjusted <= alpha


def benjamini_hochberg(p_values: Iterable[float], *, alpha: float = 0.05) -> list[bool]:
    """Which hypotheses to reject while keeping the false discovery rate at ``alpha``.

    Testing 100 features at ``alpha = 0.05`` flags about five of them by chance
    every night; Benjamini-Hochberg rejects ``p_(i)`` for all ``i <= k``, the
    largest ``k`` with ``p_(k) <= k alpha / m``. This is ``adjust`` returning
    plain bools: one per p-value, in the input order. An empty input gives
    ``[]``; a p-value outside [0, 1] or NaN raises a ``MonitorError`` (a
    ``ValueError``) naming the first bad one; an undefined test's NaN should be
    left out by the caller.

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5], alpha=0.05)
    [True, False, False, False]
    >>> benjamini_hochberg([0.01, 0.02, 0.03, 0.04], alpha=0.05)
    [True, True, True, True]
    """
    return [bool(x) for x in adjust(list(p_values), alpha=alpha)[1]]
