"""The joint (multivariate) input-drift test of one window against the reference.

The per-feature tests of ``goldband.watch.checks`` compare marginals; this
one compares the joint distribution of all the reference's features at once
(``goldband.monitors.multivariate``: PCA reconstruction error, or kernel MMD
with a permutation p-value), so a correlation that flips, or a combination of
categories never seen together, is input drift even when every feature alone
looks as in training.

The detector fitted on a reference is cached (by a fingerprint of the
reference's feature values, the method and the seed: a segment's reference
keeps its file's hash but not its rows): a check over many windows fits once.
A reference with fewer than two features, or a window with too few rows, gives
a skipped row (``value`` says why; never drifted), not an error.

Pure: values in, a ``TestRow`` out; no store.
"""

from __future__ import annotations

import hashlib
import math
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from goldband.errors import MonitorError
from goldband.monitors import multivariate as mv
from goldband.watch.rows import TestRow

if TYPE_CHECKING:
    from goldband.watch.reference import Reference

__all__ = ["METHODS", "joint_drift"]

METHODS = ("pca", "mmd")
_CACHE_SIZE = 8
_Fitted = mv.ReconstructionDrift | mv.MMDDrift | str  # str: why no detector could be fitted
_fitted: OrderedDict[tuple[Any, ...], _Fitted] = OrderedDict()
_fingerprints: dict[tuple[Any, ...], tuple[weakref.ref[Any], str]] = {}  # (id of an array, features) -> digest


def joint_drift(ref: Reference, columns: dict[str, Any], *, alpha: float, min_effect: float | None, method: str,
                seed: int) -> TestRow:
    """The joint test of the window ``columns`` (as ``checks.window_columns`` gives them) against ``ref``.

    ``min_effect`` None means the method's default (``multivariate.DEFAULT_MIN_EFFECT``).
    ``p_adjusted`` is the p-value itself: the joint test is a family of its own.
    """
    if method not in METHODS:
        raise MonitorError(f"multivariate method {method!r}", where="monitors.models.<model>.multivariate",
                           expected=" or ".join(METHODS) + " (or off)")
    floor = mv.DEFAULT_MIN_EFFECT[method] if min_effect is None else min_effect
    fitted = fitted_detector(ref, method, seed)
    if isinstance(fitted, str):
        return _skipped(method, floor, fitted, 0)
    window = {name: columns[name] for name in ref.spec.features}
    if isinstance(fitted, mv.ReconstructionDrift):
        result = fitted.test(window, alpha=alpha, min_effect=floor)
    else:
        result = fitted.test(window, alpha=alpha, min_effect=floor, seed=seed)
    if not result.defined:
        return _skipped(method, floor, result.detail.removeprefix("undefined: "), result.n)
    value, reference = _texts(result)
    return TestRow("joint", "multivariate", method, result.statistic, result.p_value, result.effect_size, floor,
                   result.drifted, result.p_value, value, reference, result.n)


def fitted_detector(ref: Reference, method: str, seed: int) -> _Fitted:
    """The detector fitted on ``ref`` (cached), or the reason there is none."""
    key = (_fingerprint(ref), method, seed)
    if key in _fitted:
        _fitted.move_to_end(key)
        return _fitted[key]
    _fitted[key] = _fit(ref, method, seed)
    while len(_fitted) > _CACHE_SIZE:
        _fitted.popitem(last=False)
    return _fitted[key]


def _fingerprint(ref: Reference) -> str:
    """A digest of the feature values the detector is fitted on (about 1 ms for 3,000 rows x 20 features),
    remembered per reference object: every window of a check asks again for the same reference's."""
    anchor = next((ref.numeric[n] for n, k in ref.spec.features.items() if k == "numeric"), None)
    key = (id(anchor), tuple(ref.spec.features.items()))
    hit = _fingerprints.get(key)
    if anchor is not None and hit is not None and hit[0]() is anchor:
        return hit[1]
    found = _digest(ref)
    if anchor is not None:  # an array, alive as long as the reference: a dead one's id may be reused, so check it
        for stale in [k for k, (alive, _) in _fingerprints.items() if alive() is None]:
            del _fingerprints[stale]
        _fingerprints[key] = (weakref.ref(anchor), found)
    return found


def _digest(ref: Reference) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for name, kind in ref.spec.features.items():
        digest.update(f"\x1e{name}\x1f{kind}\x1f".encode())
        if kind == "numeric":
            digest.update(ref.numeric[name].tobytes())
        else:
            digest.update("\x1f".join("\x00" if k is None else k for k in ref.categorical[name]).encode())
    return digest.hexdigest()


def _fit(ref: Reference, method: str, seed: int) -> _Fitted:
    columns = {name: ref.numeric[name] if kind == "numeric" else ref.categorical[name]
               for name, kind in ref.spec.features.items()}
    if why := mv.unfit_reason(columns):
        return why
    if method == "pca":
        return mv.ReconstructionDrift.fit(columns, seed=seed)
    return mv.MMDDrift.fit(columns, seed=seed)


def _skipped(method: str, floor: float, why: str, n: int) -> TestRow:
    return TestRow("joint", "multivariate", method, math.nan, None, math.nan, floor, False, None,
                   f"skipped: {why}", "", n)


def _texts(result: mv.MultivariateResult) -> tuple[str, str]:
    """The window's side and the reference's, for people."""
    if result.test == "pca":
        return (f"reconstruction error {result.statistic:.4g}",
                f"{result.expected:.4g} +- {result.spread:.2g}")
    return f"MMD^2 {result.statistic:.3g}", f"0 +- {result.spread:.2g} (no drift)"
