"""Every monitor by name: streaming detectors (classes) and batch tests (functions).

``DETECTORS`` maps a name to a streaming-detector class; ``BATCH_TESTS`` maps a
name to a batch test, imported on first use so that importing
``goldband.monitors`` stays free of numpy and scipy. One generic test suite runs
every entry of both through the same contract.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from goldband.errors import MonitorError
from goldband.monitors.adwin import ADWIN
from goldband.monitors.base import KNOWN, StreamingDetector, register
from goldband.monitors.ddm import DDM
from goldband.monitors.page_hinkley import PageHinkley
from goldband.monitors.result import DriftResult

__all__ = ["BATCH_TESTS", "DETECTORS", "BatchTest", "make_detector"]


class BatchTest(Protocol):
    """``test(reference, current, **keyword_knobs) -> DriftResult``."""

    __name__: str

    def __call__(self, reference: Any, current: Any, /) -> DriftResult: ...


register(ADWIN, DDM, PageHinkley)  # also what ``StreamingDetector.from_state`` finds by name
DETECTORS: Mapping[str, type[StreamingDetector]] = KNOWN


class _LazyTests(Mapping[str, BatchTest]):
    """A read-only mapping whose values are imported when first looked up."""

    def __init__(self, paths: Mapping[str, str]) -> None:
        self._paths = dict(paths)

    def __getitem__(self, name: str) -> BatchTest:
        module, _, attr = self._paths[name].partition(":")
        test: BatchTest = getattr(importlib.import_module(module), attr)
        return test

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


BATCH_TESTS: Mapping[str, BatchTest] = _LazyTests(
    {
        "chi2": "goldband.monitors.categorical:chi2",
        "jensen_shannon": "goldband.monitors.distance:jensen_shannon",
        "ks": "goldband.monitors.kolmogorov:ks",
        "psi": "goldband.monitors.stability:psi",
        "wasserstein": "goldband.monitors.distance:wasserstein",
    }
)


def make_detector(name: str, **params: Any) -> StreamingDetector:
    """A streaming detector by registry name, built with keyword ``params``."""
    if name not in DETECTORS:
        raise MonitorError(f"unknown detector {name!r}", where="make_detector()",
                           expected=f"one of: {', '.join(sorted(DETECTORS))}")
    return DETECTORS[name](**params)
