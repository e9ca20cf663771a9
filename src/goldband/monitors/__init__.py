"""Drift monitors: pure, I/O-free detectors for classic-ML features and eval series.

Streaming detectors (one value at a time, state that can be saved and resumed)::

    >>> from goldband.monitors import PageHinkley
    >>> ph = PageHinkley(threshold=5.0)
    >>> ph.update_many([0.0] * 50 + [1.0] * 50)
    [55]
    >>> restored = PageHinkley.from_state(ph.get_state())  # e.g. through JSON, nightly

Batch tests (reference sample, current sample -> ``DriftResult``)::

    >>> from goldband.monitors import ks
    >>> r = ks([0.1, 0.2, 0.3, 0.4, 0.5], [0.6, 0.7, 0.8, 0.9, 1.0])
    >>> r.test, r.statistic, r.drifted
    ('ks', 1.0, True)

``DETECTORS`` and ``BATCH_TESTS`` list them by name. Importing this package
imports neither numpy nor scipy; the batch tests and ``update_many`` load them on
first use. Errors in input are ``MonitorError`` (a ``GoldbandError`` and a
``ValueError``) saying where, what was found and what was expected.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from goldband.monitors.adwin import ADWIN
from goldband.monitors.base import MonitorError, StreamingDetector
from goldband.monitors.ddm import DDM
from goldband.monitors.page_hinkley import PageHinkley
from goldband.monitors.registry import BATCH_TESTS, DETECTORS, BatchTest, make_detector
from goldband.monitors.result import DriftResult

if TYPE_CHECKING:
    from goldband.monitors.categorical import chi2
    from goldband.monitors.distance import jensen_shannon, wasserstein
    from goldband.monitors.fdr import benjamini_hochberg
    from goldband.monitors.kolmogorov import ks
    from goldband.monitors.stability import psi, psi_band

__all__ = [
    "ADWIN",
    "BATCH_TESTS",
    "DDM",
    "DETECTORS",
    "BatchTest",
    "DriftResult",
    "MonitorError",
    "PageHinkley",
    "StreamingDetector",
    "benjamini_hochberg",
    "chi2",
    "jensen_shannon",
    "ks",
    "make_detector",
    "psi",
    "psi_band",
    "wasserstein",
]

_LAZY = {
    "benjamini_hochberg": "goldband.monitors.fdr",
    "chi2": "goldband.monitors.categorical",
    "jensen_shannon": "goldband.monitors.distance",
    "ks": "goldband.monitors.kolmogorov",
    "psi": "goldband.monitors.stability",
    "psi_band": "goldband.monitors.stability",
    "wasserstein": "goldband.monitors.distance",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'goldband.monitors' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
