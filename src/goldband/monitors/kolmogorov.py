"""Two-sample Kolmogorov-Smirnov test for a numeric feature."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from goldband.monitors._samples import NanPolicy, empty_reason, samples
from goldband.monitors.result import DriftResult, check_knobs, decide, undefined

if TYPE_CHECKING:
    import numpy.typing as npt

    from goldband.monitors._samples import Floats

__all__ = ["ks"]


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
    asymptotic ``scipy.stats.kstwo.sf(D, round(n m / (n + m)))``, as scipy does.
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
        d = _statistic(np.sort(ref), np.sort(cur))
        p, method = _asymptotic(d, len(ref), len(cur)), "asymptotic"
    detail = f"D={d:.4g}, p={p:.3g} ({method}), n_ref={len(ref)}, n_cur={len(cur)}{dropped}"
    return decide("ks", d, p, d, alpha=alpha, min_effect=min_effect, detail=detail)


def _statistic(a: Floats, b: Floats) -> float:
    """``max |F_a - F_b|`` over all observed points; ``a`` and ``b`` sorted."""
    na, nb = len(a), len(b)
    at_a = _ranks(a) / na - np.searchsorted(b, a, side="right") / nb
    at_b = np.searchsorted(a, b, side="right") / na - _ranks(b) / nb
    high = max(float(at_a.max()), float(at_b.max()))
    low = min(float(at_a.min()), float(at_b.min()))
    return max(high, min(max(-low, 0.0), 1.0))


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
    from scipy import stats

    m, n = sorted((float(n1), float(n2)), reverse=True)
    p = stats.kstwo.sf(d, np.round(m * n / (m + n)))
    return float(np.clip(p, 0.0, 1.0))
