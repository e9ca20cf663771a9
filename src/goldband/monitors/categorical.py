"""Chi-square test of homogeneity for a categorical feature."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from goldband.errors import MonitorError
from goldband.monitors._samples import NanPolicy, check_nan_policy, dropped_note, empty_reason
from goldband.monitors.result import DriftResult, check_knobs, decide, undefined

__all__ = ["chi2"]

_CACHE_MIN, _CACHE_MAX, _CACHE_SIZE = 5000, 1_000_000, 16  # samples this long have their counts remembered, 16 of them
_COUNTED: dict[tuple[Hashable, ...], tuple[Counter[Hashable], int]] = {}


def chi2(
    reference: Iterable[Hashable] | Mapping[Hashable, int],
    current: Iterable[Hashable] | Mapping[Hashable, int],
    *,
    alpha: float = 0.05,
    min_effect: float = 0.1,
    nan_policy: NanPolicy = "raise",
) -> DriftResult:
    """Chi-square test that ``current``'s categories are distributed as ``reference``'s.

    Each side is a sample of labels (strings, ints, ...) or a mapping from label to
    count. The two count vectors over the reference's labels, plus one *unseen*
    bin holding every current label the reference never had, form a 2 x k table
    for ``scipy.stats.chi2_contingency`` (without Yates' correction). The unseen
    bin has a zero reference count, so values never seen in training count fully
    (pooling them changes neither the statistic nor V, only the degrees of
    freedom: many rare new labels are one bin, not many); their share of the
    current sample is ``unseen_share`` and is in ``detail``. The effect size is
    Cramér's V, ``sqrt(chi2 / n)`` for two rows, in [0, 1]; ``drifted`` needs
    ``p < alpha`` and ``V >= min_effect`` (default 0.1, a small effect by
    Cohen's convention). A single category overall gives
    statistic 0 and p-value 1 (nothing can differ).

    Empty input gives an undefined result (NaN, never drifted). Missing labels
    (``None`` or a float NaN) raise a ``MonitorError`` (a ``ValueError``) unless
    ``nan_policy="omit"``; negative or fractional counts always raise.

    >>> r = chi2(["a"] * 50 + ["b"] * 50, ["a"] * 80 + ["b"] * 20)
    >>> round(r.statistic, 3), round(r.effect_size, 3), r.drifted, r.unseen_share
    (19.78, 0.314, True, 0.0)
    >>> chi2(["a", "b"] * 50, ["a", "b"] * 40 + ["c", "d"] * 10).unseen_share
    0.2
    """
    check_knobs("chi2", alpha=alpha, min_effect=min_effect)
    check_nan_policy(nan_policy, test="chi2")
    ref, n_bad_ref = _counts(reference, "reference", nan_policy)
    cur, n_bad_cur = _counts(current, "current", nan_policy)
    if empty := empty_reason(ref.total(), cur.total()):
        return undefined("chi2", empty, has_p_value=True)
    labels = sorted(ref, key=repr)
    unseen = [k for k in cur if not ref[k]]
    n_unseen = sum(cur[k] for k in unseen)
    rows = [[ref[k] for k in labels], [cur[k] for k in labels]]
    if unseen:
        rows[0].append(0)
        rows[1].append(n_unseen)
    table = np.array(rows, dtype=np.float64)
    n = float(table.sum())
    stat, p = _pearson(table) if table.shape[1] >= 2 else (0.0, 1.0)
    v = math.sqrt(stat / n)
    share = n_unseen / cur.total()
    detail = (f"chi2={stat:.4g}, p={p:.3g}, Cramér's V={v:.3g}, {len(labels)} reference categories"
              + (f" + 1 unseen bin ({len(unseen)} new label(s))" if unseen else "")
              + f", unseen {share:.1%}, n_ref={int(table[0].sum())}, n_cur={int(table[1].sum())}"
              + dropped_note(n_bad_ref, n_bad_cur))
    return decide("chi2", stat, p, v, alpha=alpha, min_effect=min_effect, detail=detail,
                  unseen_share=share)


def _pearson(table: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Pearson's chi-square statistic and p-value of a two-row table with no empty row or column: what
    ``scipy.stats.chi2_contingency(table, correction=False)`` computes, without its checks (a third of a
    window's time with twenty tests a window; ``tests/monitors/test_categorical.py`` checks they agree)."""
    from scipy import special

    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    return stat, float(special.chdtrc(table.shape[1] - 1, stat))


def _counts(side: Any, name: str, nan_policy: str) -> tuple[Counter[Hashable], int]:
    """Label counts of one side, without zero counts, and how many missing labels it had."""
    if isinstance(side, Mapping):
        counts: Counter[Hashable] = Counter()
        for label, count in side.items():
            if not (isinstance(count, int | np.integer) and count >= 0):
                raise MonitorError(f"the {name} count for {label!r} is {count!r}",
                                   where="chi2()", expected="a non-negative integer")
            counts[label] = int(count)
        counts, n_missing = _present(counts)
    else:
        counts, n_missing = _sample_counts(side)
    if n_missing and nan_policy == "raise":
        raise MonitorError(
            f"the {name} sample has {n_missing} missing label(s) (None or NaN)",
            where="chi2()",
            expected="a label for every value",
            fix="map missing values to a label such as 'missing', or pass nan_policy='omit'",
        )
    return counts, n_missing


def _sample_counts(side: Any) -> tuple[Counter[Hashable], int]:
    """Counts of present labels and the number missing; remembered for a large sample (a reference is the same
    in every window: comparing it with the remembered one is much cheaper than counting it again)."""
    values = tuple(side.tolist() if isinstance(side, np.ndarray) else side)
    if not _CACHE_MIN <= len(values) <= _CACHE_MAX:
        return _count(values)
    found = _COUNTED.get(values)
    if found is None:
        found = _COUNTED[values] = _count(values)
        while len(_COUNTED) > _CACHE_SIZE:
            del _COUNTED[next(iter(_COUNTED))]  # the oldest
    return Counter(found[0]), found[1]


def _count(values: tuple[Hashable, ...]) -> tuple[Counter[Hashable], int]:
    return _present(Counter(values))


def _present(counts: Counter[Hashable]) -> tuple[Counter[Hashable], int]:
    """The counts of present labels (none zero), and how many were missing (None or NaN)."""
    missing = [k for k in counts if k is None or (isinstance(k, float) and math.isnan(k))]
    n_missing = sum(counts[k] for k in missing)
    for k in missing:
        del counts[k]
    return +counts, n_missing
