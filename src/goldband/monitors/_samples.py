"""Reading the two samples of a batch test, and binning them on reference quantiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from goldband.errors import MonitorError

if TYPE_CHECKING:
    import numpy.typing as npt

    Floats = npt.NDArray[np.float64]
    Counts = npt.NDArray[np.int64]

NanPolicy = Literal["raise", "omit"]
NAN_POLICIES = ("raise", "omit")


def check_nan_policy(nan_policy: str, *, test: str) -> None:
    """Reject a ``nan_policy`` other than ``"raise"`` and ``"omit"``."""
    if nan_policy not in NAN_POLICIES:
        raise MonitorError(f"nan_policy={nan_policy!r}", where=f"{test}()",
                           expected=" or ".join(repr(p) for p in NAN_POLICIES))


def samples(reference: Any, current: Any, *, test: str, nan_policy: NanPolicy) -> tuple[Floats, Floats, str]:
    """Both samples of a numeric test as float arrays, and the detail fragment for dropped values."""
    ref, n_bad_ref = numeric(reference, name="reference", test=test, nan_policy=nan_policy)
    cur, n_bad_cur = numeric(current, name="current", test=test, nan_policy=nan_policy)
    return ref, cur, dropped_note(n_bad_ref, n_bad_cur)


def numeric(values: Any, *, name: str, test: str, nan_policy: NanPolicy) -> tuple[Floats, int]:
    """A 1-D float array of ``values`` and how many non-finite values were dropped.

    ``nan_policy="raise"`` rejects NaN and infinities with a MonitorError that
    counts them and names the first; ``"omit"`` drops them and returns the count.
    """
    where = f"{test}()"
    check_nan_policy(nan_policy, test=test)
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise MonitorError(f"the {name} sample is not numeric", where=where,
                           expected="a 1-D sequence of numbers") from None
    if arr.ndim != 1:
        raise MonitorError(f"the {name} sample has shape {arr.shape}", where=where,
                           expected="a 1-D sequence of numbers")
    bad = ~np.isfinite(arr)
    if not bad.any():
        return arr, 0
    if nan_policy == "omit":
        return arr[~bad], int(bad.sum())
    first = int(np.argmax(bad))
    raise MonitorError(
        f"the {name} sample has {int(bad.sum())} non-finite value(s) "
        f"({int(np.isnan(arr).sum())} NaN), the first at index {first}: {float(arr[first])!r}",
        where=where,
        expected="finite numbers",
        fix="drop or impute them, or pass nan_policy='omit' to drop them (counted in detail)",
    )


def empty_reason(n_reference: int, n_current: int) -> str:
    """Why a test is undefined on samples of these sizes ('' when both hold values)."""
    which = [name for name, n in (("reference", n_reference), ("current", n_current)) if not n]
    if not which:
        return ""
    return f"the {' and '.join(which)} sample{'s are' if len(which) == 2 else ' is'} empty"


def dropped_note(n_ref: int, n_cur: int) -> str:
    """The detail fragment for values dropped by ``nan_policy='omit'`` (or '')."""
    if not n_ref and not n_cur:
        return ""
    return f", dropped non-finite: {n_ref} reference, {n_cur} current"


def quantile_edges(reference: Floats, bins: int, *, test: str) -> Floats:
    """Interior bin edges at the reference's quantiles ``1/bins .. (bins-1)/bins``.

    Repeated quantiles (ties, discrete data) are merged, so there may be fewer
    bins than asked for; a constant reference gives two bins split at its value.
    """
    if not (isinstance(bins, int) and bins >= 2):
        raise MonitorError(f"bins={bins!r}", where=f"{test}()", expected="an integer >= 2")
    qs = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges: Floats = np.unique(np.quantile(reference, qs))
    return edges


def bin_counts(values: Floats, edges: Floats) -> Counts:
    """Counts per bin ``(-inf, e0), [e0, e1), ..., [e_last, inf)``."""
    counts: Counts = np.bincount(np.searchsorted(edges, values, side="right"),
                                 minlength=len(edges) + 1)
    return counts


@dataclass(frozen=True)
class RangeBins:
    """Both samples counted on reference-quantile bins plus two out-of-range bins.

    ``reference`` and ``current`` are counts per bin: *below the reference's
    minimum*, then the quantile bins over ``[min, max]``, then *above the
    reference's maximum*. The reference is 0 in the two outer bins by
    construction, so current values never seen in the reference's range count
    as their own mass instead of being folded into the edge bins.
    """

    reference: Counts
    current: Counts
    below: float  # share of the current sample below the reference's minimum
    above: float  # share of the current sample above the reference's maximum

    @property
    def out_of_range(self) -> float:
        """Share of the current sample outside the reference's range (below + above)."""
        return self.below + self.above

    @property
    def n_bins(self) -> int:
        """Number of bins, the two out-of-range bins included."""
        return len(self.reference)

    def note(self) -> str:
        """The detail fragment for the out-of-range share."""
        return (f"out of reference range {self.out_of_range:.1%} "
                f"({self.below:.1%} below, {self.above:.1%} above)")


def range_bins(reference: Floats, current: Floats, bins: int, *, test: str) -> RangeBins:
    """Count both (non-empty) samples on ``quantile_edges`` inside the reference's range, plus the outer bins."""
    edges = quantile_edges(reference, bins, test=test)
    lo, hi = float(reference.min()), float(reference.max())
    below, above = current < lo, current > hi
    inside = current[~(below | above)]
    n_below, n_above = int(below.sum()), int(above.sum())
    zero = np.zeros(1, dtype=np.int64)
    ref_counts: Counts = np.concatenate([zero, bin_counts(reference, edges), zero])
    cur_counts: Counts = np.concatenate([np.array([n_below], dtype=np.int64), bin_counts(inside, edges),
                                         np.array([n_above], dtype=np.int64)])
    return RangeBins(ref_counts, cur_counts, n_below / len(current), n_above / len(current))
