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

Multivariate tests (all features together: ``reconstruction_drift``, ``mmd``),
performance estimation without labels (``CBPE``, ``DLE``) and the minimum
reference size (``minimum_reference``) live beside them.

``DETECTORS`` and ``BATCH_TESTS`` list them by name. Importing this package
imports neither numpy nor scipy; the batch tests and ``update_many`` load them on
first use. Errors in input are ``MonitorError`` (a ``GoldbandError`` and a
``ValueError``) saying where, what was found and what was expected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from goldband._util.lazy import lazy_exports
from goldband.errors import MonitorError
from goldband.monitors.adwin import ADWIN
from goldband.monitors.base import StreamingDetector
from goldband.monitors.ddm import DDM
from goldband.monitors.page_hinkley import PageHinkley
from goldband.monitors.registry import BATCH_TESTS, DETECTORS, BatchTest, make_detector
from goldband.monitors.result import DriftResult

if TYPE_CHECKING:
    from goldband.monitors.categorical import chi2
    from goldband.monitors.cbpe import CBPE
    from goldband.monitors.distance import jensen_shannon, wasserstein
    from goldband.monitors.dle import DLE
    from goldband.monitors.fdr import benjamini_hochberg
    from goldband.monitors.kolmogorov import ks
    from goldband.monitors.multivariate import MMDDrift, ReconstructionDrift, mmd, reconstruction_drift
    from goldband.monitors.sizing import minimum_reference
    from goldband.monitors.stability import psi, psi_band

__all__ = [
    "ADWIN",
    "BATCH_TESTS",
    "CBPE",
    "DDM",
    "DETECTORS",
    "DLE",
    "BatchTest",
    "DriftResult",
    "MMDDrift",
    "MonitorError",
    "PageHinkley",
    "ReconstructionDrift",
    "StreamingDetector",
    "benjamini_hochberg",
    "chi2",
    "jensen_shannon",
    "ks",
    "make_detector",
    "minimum_reference",
    "mmd",
    "psi",
    "psi_band",
    "reconstruction_drift",
    "wasserstein",
]

_LAZY = {
    "CBPE": "cbpe",
    "DLE": "dle",
    "MMDDrift": "multivariate",
    "ReconstructionDrift": "multivariate",
    "benjamini_hochberg": "fdr",
    "chi2": "categorical",
    "jensen_shannon": "distance",
    "ks": "kolmogorov",
    "minimum_reference": "sizing",
    "mmd": "multivariate",
    "reconstruction_drift": "multivariate",
    "psi": "stability",
    "psi_band": "stability",
    "wasserstein": "distance",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals(), __all__)
