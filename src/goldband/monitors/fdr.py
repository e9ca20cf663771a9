"""Benjamini-Hochberg: which of many drift tests to believe at once."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from goldband.errors import MonitorError

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(p_values: Iterable[float], *, alpha: float = 0.05) -> list[bool]:
    """Which hypotheses to reject while keeping the false discovery rate at ``alpha``.

    Testing 100 features at ``alpha = 0.05`` flags about five of them by chance
    every night; Benjamini-Hochberg rejects ``p_(i)`` for all ``i <= k``, the
    largest ``k`` with ``p_(k) <= k alpha / m``. The correction is
    ``goldband.compare.stats.benjamini_hochberg`` (scipy's
    ``false_discovery_control``; rejected when the adjusted p-value is
    ``<= alpha``); this wrapper returns plain bools and raises errors that name
    the first bad p-value. One bool per p-value, in the input order. An empty
    input gives ``[]``; a p-value outside [0, 1] or NaN raises a
    ``MonitorError`` (a ``ValueError``); an undefined test's NaN should be left
    out by the caller.

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5], alpha=0.05)
    [True, False, False, False]
    >>> benjamini_hochberg([0.01, 0.02, 0.03, 0.04], alpha=0.05)
    [True, True, True, True]
    """
    if not 0.0 < alpha < 1.0:
        raise MonitorError(f"alpha={alpha!r}", where="benjamini_hochberg()",
                           expected="a number in (0, 1)")
    p = np.asarray(list(p_values), dtype=np.float64)
    if not p.size:
        return []
    bad = ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        first = int(np.argmax(bad))
        raise MonitorError(
            f"{int(bad.sum())} p-value(s) outside [0, 1], "
            f"the first at index {first}: {float(p[first])!r}",
            where="benjamini_hochberg()",
            expected="p-values in [0, 1]",
            fix="leave undefined tests (NaN p-value) out before correcting",
        )
    from goldband.compare.stats import benjamini_hochberg as adjust

    return [bool(x) for x in adjust(p, alpha=alpha)[1]]
