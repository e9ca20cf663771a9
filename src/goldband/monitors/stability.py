"""Population Stability Index on reference-quantile bins."""

from __future__ import annotations

from typing import Any

import numpy as np

from goldband.errors import MonitorError
from goldband.monitors._samples import NanPolicy, empty_reason, range_bins, samples
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

    Bins are cut at the reference's deciles (``bins`` quantile bins over the
    reference's range; tied quantiles merge, so discrete data may get fewer),
    plus two open-ended bins *below the reference's minimum* and *above its
    maximum*, where the reference has no mass. Current values outside the
    reference's range (never seen in training) so count fully instead of being
    folded into the edge deciles; their share is ``out_of_range_share`` and is
    in ``detail``. ``PSI = sum((c_i - r_i) * ln(c_i / r_i))`` over the bin
    proportions, each proportion floored at ``eps`` (default 1e-4, the value
    Evidently substitutes for empty bins) so an empty bin gives a large but
    finite term: a share ``s`` outside the range adds about ``s * ln(s / eps)``.
    Bins empty on both sides add 0. PSI is never negative. Conventional bands,
    reported in ``detail``: below 0.1 *none*, 0.1 to 0.25 *moderate*, 0.25 and
    above *significant*. PSI has no p-value; ``drifted`` means
    ``PSI >= min_effect`` (default 0.1, from the *moderate* band up; pass 0.25
    to flag only *significant* shifts).

    Empty input gives an undefined result (NaN, never drifted); NaN or infinite
    values raise a ``MonitorError`` (a ``ValueError``) unless ``nan_policy="omit"``.

    >>> r = psi([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15], bins=2)
    >>> round(r.statistic, 4), r.drifted, r.out_of_range_share
    (8.5155, True, 0.5)
    """
    check_knobs("psi", min_effect=min_effect)
    if not 0.0 < eps < 1.0:
        raise MonitorError(f"eps={eps!r}", where="psi()", expected="a number in (0, 1)")
    ref, cur, dropped = samples(reference, current, test="psi", nan_policy=nan_policy)
    if empty := empty_reason(len(ref), len(cur)):
        return undefined("psi", empty, has_p_value=False)
    binned = range_bins(ref, cur, bins, test="psi")
    r = np.maximum(binned.reference / len(ref), eps)
    c = np.maximum(binned.current / len(cur), eps)
    value = float(np.sum((c - r) * np.log(c / r)))
    detail = (f"PSI={value:.4g} ({psi_band(value)}), {binned.n_bins} bins, {binned.note()}, "
              f"n_ref={len(ref)}, n_cur={len(cur)}{dropped}")
    return decide("psi", value, None, value, min_effect=min_effect, detail=detail,
                  out_of_range_share=binned.out_of_range)


def psi_band(value: float) -> str:
    """The conventional reading of a PSI value: none, moderate or significant."""
    if value < 0.1:
        return "none"
    return "moderate" if value < 0.25 else "significant"
