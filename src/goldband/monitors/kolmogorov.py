"""Two-sample Kolmogorov-Smirnov test for a numeric feature."""

from __future__ import annotations

import warnings
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from goldband.monitors._samples import NanPolicy, empty_reason, samples
from goldband.monitors.kstwo import kstwo_sf
from goldband.monitors.result import DriftResult, check_knobs, decide, undefined

if TYPE_CHECKING:
    import numpy.typing as npt

    from goldband.monitors._samples import Floats

__all__ = ["ks"]

_CACHE_MIN, _CACHE_BYTES = 5000, 64 << 20  # references this large keep a sorted copy, up to 64 MB of them
_SORTED: dict[tuple[int, int, int], Floats] = {}  # (count, hash, CRC-32) of the values -> them sorted, read-only


def ks(
    reference: Any,
    current: Any,
    *,
    alpha: float = 0.05,
    min_effect: float = 0.1,
    exact_max_n: int = 10_000,
    nan_policy: NanPolicy = "raise",
) -> DriftResult:
    """Two-sample, two-sided Kolmogorov-Smirnov test of ``current`` against ``reference``.

    The statistic ``D`` is the largest gap between the two empirical CDFs, computed
    with numpy (sort, then sorted search) and identical to ``scipy.stats.ks_2samp``.
    The p-value is scipy's exact one when both samples have at most ``exact_max_n``
    values (scipy's own ``method="auto"`` rule; if scipy's exact computation fails
    it falls back to the asymptotic one and ``detail`` says so), otherwise the
    asymptotic ``scipy.stats.kstwo.sf(D, round(n m / (n + m)))``, as scipy does (computed by
    ``goldband.monitors.kstwo``, scipy's algorithm without importing ``scipy.stats``).
    The effect size is ``D`` itself; ``drifted`` needs ``p < alpha`` and
    ``D >= min_effect`` (default 0.1: the CDFs differ by 10 points somewhere).

    Empty input (after ``nan_policy="omit"``) gives an undefined result: NaN
    statistic, NaN p-value, ``drifted=False``. NaN or infinite values raise a
    ``MonitorError`` (a ``ValueError``) unless ``nan_policy="omit"``.

    >>> r = ks([0.1, 0.2, 0.3, 0.4, 0.5], [0.6, 0.7, 0.8, 0.9, 1.0])
    >>> r.statistic, round(r.p_value, 4), r.drifted
    (1.0, 0.0079, True)
    """
    check_knobs("ks", alpha=alpha, min_effect=min_effect)
    ref, cur, dropped = samples(reference, current, test="ks", nan_policy=nan_policy)
    if empty := empty_reason(len(ref), len(cur)):
        return undefined("ks", empty, has_p_value=True)
    if max(len(ref), len(cur)) <= exact_max_n:
        d, p, method = _exact(ref, cur)
    else:
        d = _statistic(_sorted(ref), np.sort(cur))
        p, method = _asymptotic(d, len(ref), len(cur)), "asymptotic"
    detail = f"D={d:.4g}, p={p:.3g} ({method}), n_ref={len(ref)}, n_cur={len(cur)}{dropped}"
    return decide("ks", d, p, d, alpha=alpha, min_effect=min_effect, detail=detail)


def _statistic(a: Floats, b: Floats) -> float:
    """``max |F_a - F_b|`` over all observed points; ``a`` and ``b`` sorted.

    Evaluated only at the points of the smaller sample, at each point and just below it: between two of
    its points its ECDF is flat, so the other's largest gap there is reached just below the next point.
    The same integer counts over the same sizes as scipy's pooled evaluation, so the same float, in
    O(k log n) for k points against n (a window of 500 against a reference of 20,000 never touches the
    reference's points one by one).
    """
    if len(a) < len(b):
        a, b = b, a
    na, nb = len(a), len(b)
    below = np.searchsorted(a, b, side="left") / na - np.searchsorted(b, b, side="left") / nb
    at = np.searchsorted(a, b, side="right") / na - _ranks(b) / nb
    high = max(float(at.max()), float(below.max()))
    low = min(float(at.min()), float(below.min()))
    return max(high, min(max(-low, 0.0), 1.0))


def _sorted(x: Floats) -> Floats:
    """``np.sort(x)``, remembered by content for a large reference: it is the same in every window."""
    if not _CACHE_MIN <= len(x) <= _CACHE_BYTES // 16:
        return np.sort(x)
    data = np.ascontiguousarray(x).tobytes()
    key = (len(x), hash(data), zlib.crc32(data))  # 96 bits: a cryptographic hash costs as much as the sort
    found = _SORTED.get(key)
    if found is None:
        found = _SORTED[key] = np.sort(x)
        found.flags.writeable = False
        while sum(v.nbytes for v in _SORTED.values()) > _CACHE_BYTES:
            del _SORTED[next(iter(_SORTED))]  # the oldest
    return found


def _ranks(x: Floats) -> npt.NDArray[np.intp]:
    """``np.searchsorted(x, x, side="right")`` for sorted ``x``: ``1..n`` when untied."""
    if len(x) > 1 and bool(np.any(x[1:] == x[:-1])):
        return np.searchsorted(x, x, side="right")
    return np.arange(1, len(x) + 1)


def _exact(a: Floats, b: Floats) -> tuple[float, float, str]:
    from scipy import stats

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stats.ks_2samp(a, b, method="exact")
    fell_back = any("Switching to" in str(w.message) for w in caught)
    return float(res.statistic), float(res.pvalue), "asymptotic: exact failed" if fell_back \
        else "exact"


def _asymptotic(d: float, n1: int, n2: int) -> float:
    """scipy's ``kstwo.sf(d, round(n m / (n + m)))``, through goldband.monitors.kstwo: the same algorithm
    without importing ``scipy.stats`` (a second; a third of ``goldband monitor demo``)."""
    m, n = sorted((float(n1), float(n2)), reverse=True)
    return kstwo_sf(d, max(round(m * n / (m + n)), 1))
