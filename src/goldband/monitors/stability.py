"""Population Stability Index on reference-quantile bins."""

from __future__ import annotations

from typing import Any

import numpy as np

from goldband.errors import MonitorError
from goldband.monitors._samples import NanPolicy, bin_counts, empty_reason, quantile_edges, samples
from goldband.monitors.result import DriftResult, check_knobs, decide, undefined

__all__ = ["psi", "psi_band"]


def psi(
    reference: Any,
    current: Any,
    *,
    bins: int = 10,
    eps: float = 1e-4,
    min_effect: float = 0.1,
    nan_policy: NanPolicy = "raise",
) -> DriftResult:
    """Population Stability Index of ``current`` against ``reference``.

    Bins are cut at the reference's deciles (``bins`` quantile bins; tied
    quantiles merge, so discrete data may get fewer), open-ended at both sides so
    current values outside the reference's range still count.
    ``PSI = sum((c_i - r_i) * ln(c_i / r_i))`` over the bin proportions, each
    proportion floored at ``eps`` so an empty bin gives a large but finite term.
    PSI is never negative. Conventional bands, reported in ``detail``: below 0.1
    *none*, 0.1 to 0.25 *moderate*, 0.25 and above *significant*. PSI has no
    p-value; ``drifted`` means ``PSI >= min_effect`` (default 0.1, from the
    *moderate* band up; pass 0.25 to flag only *significant* shifts).

    Empty input gives an undefined result (NaN, never drifted); NaN or infinite
    values raise a ``MonitorError`` (a ``ValueError``) unless ``nan_policy="omit"``.

    >>> r = psi([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15], bins=2)
    >>> round(r.statistic, 4), r.drifted
    (4.6043, True)
    """
    check_knobs("psi", min_effect=min_effect)
    if not 0.0 < eps < 1.0:
        raise MonitorError(f"eps={eps!r}", where="psi()", expected="a number in (0, 1)")
    ref, cur, dropped = samples(reference, current, test="psi", nan_policy=nan_policy)
    if empty := empty_reason(len(ref), len(cur)):
        return undefined("psi", empty, has_p_value=False)
    edges = quantile_edges(ref, bins, test="psi")
    r = np.maximum(bin_counts(ref, edges) / len(ref), eps)
    c = np.maximum(bin_counts(cur, edges) / len(cur), eps)
    value = float(np.sum((c - r) * np.log(c / r)))
    detail = (f"PSI={value:.4g} ({psi_band(value)}), {len(edges) + 1} bins, "
              f"n_ref={len(ref)}, n_cur={len(cur)}{dropped}")
    return decide("psi", value, None, value, min_effect=min_effect, detail=detail)


def psi_band(value: float) -> str:
    """The conventional reading of a PSI value: none, moderate or significant."""
    if value < 0.1:
        return "none"
    return "moderate" if value < 0.25 else "significant"
