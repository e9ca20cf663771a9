"""``PredictionLogger``: log a deployed model's predictions and late labels without slowing it down.

``log()`` and ``log_label()`` run in the caller's serving path, so they do the
least possible work (copy the inputs, append to an in-memory queue: a few
microseconds) and never raise: anything that goes wrong is counted in
``stats()``, written to the store's ``monitor_issues`` table and logged once
per kind on the ``goldband.monitor`` logger. One background thread turns the
queue into rows (``goldband.watch.records``) and writes them in batches, one
transaction each, through its own store connection.

Nothing already logged is lost to a bad row (rows are checked one by one) or
to a briefly unavailable store (a failed batch is kept and retried). The
queue is bounded (``max_queue``): when the store stays unavailable and the
queue fills, new rows are dropped and counted, never blocking the caller.
``flush()`` waits until everything logged so far is stored; ``close()``
flushes and stops the thread (it also runs at interpreter exit).

>>> import tempfile, pathlib
>>> from goldband.monitor import PredictionLogger
>>> path = pathlib.Path(tempfile.mkdtemp()) / "store.db"
>>> with PredictionLogger("churn", store=path, version="3") as log:  # closing flushes
...     pid = log.log({"tenure_months": 4, "plan": "basic"}, prediction=1, proba={0: 0.2, 1: 0.8})
...     queued = log.log_label(pid, 0)  # days later, in practice
...     other = log.log({"tenure_months": float("inf")}, prediction=0)  # kept; the bad value is counted
>>> stats = log.stats()
>>> stats.written, stats.refused, stats.issues
(3, 0, {'non_finite': 1})
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from goldband._util.environment import resolve_environment
from goldband.clock import Clock
from goldband.errors import ConfigError
from goldband.watch import db
from goldband.watch.background import BackgroundWriter, LogStats
from goldband.watch.records import Issue, LabelRow, PredictionRow, label_row, prediction_row

__all__ = ["LogStats", "PredictionLogger"]

_PREDICTION, _LABEL = 0, 1


class PredictionLogger(BackgroundWriter):
    """Log predictions (features, prediction, confidence or class probabilities) and, later, labels.

    ``store`` is the store file (created if needed; an unusable path raises
    ``StoreError`` here, at start-up, never later). ``model`` and ``version``
    name what is served; ``environment`` where (``production``, ``eu-west``; default:
    ``GOLDBAND_ENVIRONMENT``, else the default environment; a bad name raises here).
    ``clock`` stamps predictions logged without a time.
    """

    def __init__(self, model: str, *, store: str | Path = ".goldband/store.db", version: str = "1",
                 max_queue: int = 100_000, batch_size: int = 1000, flush_interval_s: float = 1.0,
                 retry_s: float = 1.0, clock: Clock | None = None, environment: str | None = None) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model name {model!r}", where="PredictionLogger", expected="a non-empty string")
        self.model, self.version = model, str(version)
        self.environment = resolve_environment(environment, where="PredictionLogger(environment=...)")
        super().__init__(model, store=store, max_queue=max_queue, batch_size=batch_size,
                         flush_interval_s=flush_interval_s, retry_s=retry_s, clock=clock)

    # -- the serving path: never raises -----------------------------------------------------
    def log(self, features: Mapping[str, Any], prediction: Any, *, prediction_id: str | int | None = None,
            confidence: float | None = None, proba: Mapping[Any, float] | None = None,
            time: Any = None) -> str | None:
        """Queue one prediction; returns its id, or None if it was dropped.

        ``time`` (ISO text, datetime or Unix seconds) defaults to now; a missing
        ``prediction_id`` is generated (unique: a random prefix and a counter).
        """
        try:
            pid = f"{self._id_prefix}{next(self._ids):x}" if prediction_id is None else prediction_id
            item = (_PREDICTION, pid, dict(features) if isinstance(features, Mapping) else features, prediction,
                    confidence, dict(proba) if isinstance(proba, Mapping) else proba, self._stamp(time))
            return str(pid) if self._put(item) else None
        except Exception as exc:  # the caller's request must never fail because of monitoring
            self._note_internal(exc)
            return None

    def log_label(self, prediction_id: str | int, label: Any, *, time: Any = None) -> bool:
        """Queue the true outcome of an earlier (or later) prediction; False if it was dropped."""
        try:
            return self._put((_LABEL, prediction_id, label, self._stamp(time)))
        except Exception as exc:
            self._note_internal(exc)
            return False

    def _row(self, item: tuple[Any, ...], issues: list[Issue]) -> PredictionRow | LabelRow:
        if item[0] == _LABEL:
            _, pid, label, when = item
            return label_row(self.model, pid, label, time=when)
        _, pid, features, prediction, confidence, proba, when = item
        return prediction_row(self.model, self.version, features, prediction, prediction_id=pid, time=when,
                              confidence=confidence, proba=proba, issues=issues)

    def _store_rows(self, conn: sqlite3.Connection, rows: list[Any], stamp: str | None) -> tuple[int, list[Issue]]:
        written, duplicates = db.insert_predictions(conn, [r for r in rows if isinstance(r, PredictionRow)],
                                                    stamp=stamp, environment=self.environment)
        return written + db.insert_labels(conn, [r for r in rows if isinstance(r, LabelRow)], stamp=stamp), duplicates
