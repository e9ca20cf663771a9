"""Monitoring deployed models: prediction logging, late labels, drift checks, status.

``goldband.monitors`` holds the pure detectors (KS, PSI, chi-square, ADWIN,
Page-Hinkley, DDM); this package puts them to work on a store::

    from goldband.monitor import PredictionLogger, register_reference, check, status
    from goldband.store import open_store

    log = PredictionLogger("churn", version="3")            # in the serving process
    pid = log.log({"tenure_months": 4, "contract": "monthly"}, prediction=1, proba={0: 0.3, 1: 0.7})
    log.log_label(pid, 0)                                    # days later, from wherever labels come

    with open_store(".goldband/store.db") as store:          # nightly
        register_reference(store, "churn", "data/churn_train.csv", version="3")
        report = check(store)                                # windows, concept drift, eval series, alerts
        print(status(store).render())

The same from the command line: ``goldband monitor log | reference | check |
status | demo``. An LLM application's production calls: ``TraceLogger`` and
``record_feedback``, ``goldband monitor traces | feedback | evaluate``
(docs/llm-monitoring.md). Importing this package is cheap (nothing heavy until used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from goldband._util.lazy import lazy_exports

if TYPE_CHECKING:
    from goldband.config.monitors import ModelMonitorConfig, MonitorsConfig
    from goldband.watch.checks import TestRow, WindowCheck, check_window
    from goldband.watch.ingest import IngestReport, ingest_labels, ingest_predictions
    from goldband.watch.log import LogStats, PredictionLogger
    from goldband.watch.overview import status
    from goldband.watch.reference import Reference, load_reference, register_reference
    from goldband.watch.runner import CheckReport, check
    from goldband.watch.saved import load_detector, save_detector
    from goldband.watch.statusview import Status
    from goldband.watch.stream import DetectorWatch, EvalWatch
    from goldband.watch.tracelog import TraceLogger, record_feedback
    from goldband.watch.tracerecords import TraceRecord

__all__ = [
    "CheckReport",
    "DetectorWatch",
    "EvalWatch",
    "IngestReport",
    "LogStats",
    "ModelMonitorConfig",
    "MonitorsConfig",
    "PredictionLogger",
    "Reference",
    "Status",
    "TestRow",
    "TraceLogger",
    "TraceRecord",
    "WindowCheck",
    "check",
    "check_window",
    "ingest_labels",
    "ingest_predictions",
    "load_detector",
    "load_reference",
    "record_feedback",
    "register_reference",
    "save_detector",
    "status",
]

_WHERE = {
    "TestRow": "checks", "WindowCheck": "checks", "check_window": "checks",
    "ModelMonitorConfig": "goldband.config.monitors", "MonitorsConfig": "goldband.config.monitors",
    "IngestReport": "ingest", "ingest_labels": "ingest", "ingest_predictions": "ingest",
    "LogStats": "log", "PredictionLogger": "log",
    "Reference": "reference", "load_reference": "reference", "register_reference": "reference",
    "CheckReport": "runner", "check": "runner",
    "load_detector": "saved", "save_detector": "saved",
    "Status": "statusview", "status": "overview",
    "DetectorWatch": "stream", "EvalWatch": "stream",
    "TraceLogger": "tracelog", "record_feedback": "tracelog", "TraceRecord": "tracerecords",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals(), __all__)
