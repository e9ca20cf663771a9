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

import atexit
import itertools
import logging
import os
import secrets
import threading
import time as _time
import weakref
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goldband.clock import Clock, iso
from goldband.errors import ConfigError, GoldbandError, RowRefused
from goldband.store import open_store
from goldband.watch import db
from goldband.watch.records import Issue, LabelRow, PredictionRow, label_row, prediction_row

__all__ = ["LogStats", "PredictionLogger"]


def _forked(ref: weakref.ref[PredictionLogger]) -> None:
    logger = ref()
    if logger is not None:
        logger._forked()

LOG = logging.getLogger("goldband.monitor")
_PREDICTION, _LABEL = 0, 1


@dataclass(frozen=True)
class LogStats:
    """What a logger has done so far: every logged row ends up written, refused or dropped."""

    logged: int  # calls accepted into the queue
    written: int  # predictions and labels stored
    refused: int  # rows that could not be stored (bad row, duplicate id): see issues
    dropped: int  # rows lost to a full queue or a store that stayed unavailable
    pending: int  # still queued or waiting for a retry
    issues: dict[str, int] = field(default_factory=dict)  # counted problems by kind (kept or refused rows)
    last_error: str | None = None


class PredictionLogger:
    """Log predictions (features, prediction, confidence or class probabilities) and, later, labels.

    ``store`` is the store file (created if needed; an unusable path raises
    ``StoreError`` here, at start-up, never later). ``model`` and ``version``
    name what is served. ``clock`` stamps predictions logged without a time.
    """

    def __init__(self, model: str, *, store: str | Path = ".goldband/store.db", version: str = "1",
                 max_queue: int = 100_000, batch_size: int = 1000, flush_interval_s: float = 1.0,
                 retry_s: float = 1.0, clock: Clock | None = None) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model name {model!r}", where="PredictionLogger", expected="a non-empty string")
        self.model, self.version = model, str(version)
        self.max_queue, self.batch_size = max_queue, batch_size
        self.flush_interval_s, self.retry_s = flush_interval_s, retry_s
        self._clock = clock
        self._store = open_store(store)
        self._queue: deque[tuple[Any, ...]] = deque()
        self._pending: list[PredictionRow | LabelRow] = []  # normalised rows whose write failed
        self._pending_issues: list[Issue] = []
        self._counter, self._logged = itertools.count(1), 0
        self._new_ids()
        self._done = 0  # rows written, refused or dropped (writer thread only)
        self._written = self._refused = self._dropped = 0
        self._issues: Counter[str] = Counter()
        self._warned: set[str] = set()
        self._last_error: str | None = None
        self._unsaved_drops = 0  # dropped rows not yet counted in the store's monitor_issues
        self._lock = threading.Condition()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start()
        ref = weakref.ref(self)
        atexit.register(lambda: (logger := ref()) is not None and logger.close())
        os.register_at_fork(after_in_child=lambda: _forked(ref))

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

    def _stamp(self, time: Any) -> Any:
        if time is not None:
            return time
        return self._clock.now() if self._clock is not None else _time.time()

    def _put(self, item: tuple[Any, ...]) -> bool:
        if self._closed or len(self._queue) >= self.max_queue:
            self._logged = next(self._counter)
            with self._lock:
                self._drop(1, "closed" if self._closed else "queue full")
            return False
        self._queue.append(item)
        self._logged = next(self._counter)
        if self._thread is None:
            self._start()
        if len(self._queue) >= self.batch_size:
            self._wake.set()
        return True

    # -- control ----------------------------------------------------------------------------
    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every row logged so far is written, refused or dropped; False on timeout."""
        target = self._logged
        deadline = None if timeout is None else _time.monotonic() + timeout
        with self._lock:
            while self._done < target:
                self._wake.set()
                left = None if deadline is None else deadline - _time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(min(0.05, left) if left is not None else 0.05)
        return True

    def close(self, timeout: float | None = 30.0) -> LogStats:
        """Flush, stop the writer thread and close the store; logging afterwards drops (counted)."""
        if not self._closed:
            self.flush(timeout)
            self._closed = True
            self._wake.set()
            if self._thread is not None:
                self._thread.join(timeout)
            self._store.close()
            stats = self.stats()
            if stats.dropped or stats.refused:
                LOG.warning("goldband monitor %s: %d refused, %d dropped of %d logged (%s)", self.model,
                            stats.refused, stats.dropped, stats.logged, stats.issues)
        return self.stats()

    def stats(self) -> LogStats:
        with self._lock:
            return LogStats(self._logged, self._written, self._refused, self._dropped,
                            max(0, self._logged - self._done), dict(self._issues), self._last_error)

    def __enter__(self) -> PredictionLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread ------------------------------------------------------------------
    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"goldband-monitor-{self.model}", daemon=True)
        self._thread.start()

    def _new_ids(self) -> None:
        """Generated ids: a random prefix per logger (and per process) and a counter; cheaper than uuid4."""
        self._id_prefix, self._ids = secrets.token_hex(8) + "-", itertools.count()

    def _forked(self) -> None:
        """In a forked child: the parent's thread is gone (start ours on the next log), and ids must differ."""
        self._thread = None
        self._lock = threading.Condition()
        self._new_ids()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            stopping = self._closed
            try:
                written = self._write_all()
            except Exception as exc:  # a bug must not kill the writer: count it, drop the batch, go on
                self._note_internal(exc)
                with self._lock:
                    self._drop(len(self._pending), f"internal error: {exc}")
                self._pending, self._pending_issues = [], []
                written = True
            if not written and not stopping:
                _time.sleep(self.retry_s)  # the store is unavailable: keep the rows, try again later
            if stopping:
                return

    def _write_all(self) -> bool:
        """Write everything queued, a batch per transaction; False when the store refused a write."""
        while self._queue or self._pending:
            if not self._pending:
                self._pending = self._normalise(self._take())
            if not self._commit():
                return False
        return True

    def _take(self) -> list[tuple[Any, ...]]:
        batch: list[tuple[Any, ...]] = []
        while self._queue and len(batch) < self.batch_size:
            batch.append(self._queue.popleft())
        return batch

    def _normalise(self, batch: list[tuple[Any, ...]]) -> list[PredictionRow | LabelRow]:
        rows: list[PredictionRow | LabelRow] = []
        refused = 0
        for item in batch:
            try:
                rows.append(self._row(item, self._pending_issues))
            except RowRefused as exc:
                self._pending_issues.append(exc.issue)
                refused += 1
        with self._lock:
            self._refused += refused
            self._done += refused
            self._lock.notify_all()
        return rows

    def _row(self, item: tuple[Any, ...], issues: list[Issue]) -> PredictionRow | LabelRow:
        if item[0] == _LABEL:
            _, pid, label, when = item
            return label_row(self.model, pid, label, time=when)
        _, pid, features, prediction, confidence, proba, when = item
        return prediction_row(self.model, self.version, features, prediction, prediction_id=pid, time=when,
                              confidence=confidence, proba=proba, issues=issues)

    def _commit(self) -> bool:
        rows, found = self._pending, self._pending_issues
        predictions = [r for r in rows if isinstance(r, PredictionRow)]
        labels = [r for r in rows if isinstance(r, LabelRow)]
        try:
            stamp = iso(self._clock.now()) if self._clock is not None else None
            with self._store.transaction() as conn:
                written, duplicates = db.insert_predictions(conn, predictions, stamp=stamp)
                written += db.insert_labels(conn, labels, stamp=stamp)
                db.add_issues(conn, self.model, [*found, *duplicates])
                if self._unsaved_drops:
                    db.add_issues(conn, self.model, [Issue("dropped", "", "rows dropped: the queue was full, the "
                                  f"store unavailable, or the logger closed (max_queue={self.max_queue})")],
                                  times=self._unsaved_drops)
                    self._unsaved_drops = 0
        except (GoldbandError, OSError) as exc:
            self._note_store_error(exc)
            return False
        self._finish(written, len(duplicates), [*found, *duplicates])
        return True

    def _finish(self, written: int, refused: int, found: list[Issue]) -> None:
        with self._lock:
            self._written += written
            self._refused += refused
            self._done += written + refused
            for issue in found:
                self._issues[issue.kind] += 1
                self._warn_once(issue.kind, issue.message)
            self._lock.notify_all()
        self._pending, self._pending_issues = [], []

    # -- counting problems ------------------------------------------------------------------
    def _drop(self, n: int, why: str) -> None:
        """Count ``n`` rows lost (caller holds the lock)."""
        self._dropped += n
        self._done += n
        self._issues["dropped"] += n
        self._unsaved_drops += n
        self._warn_once("dropped", f"{n} row(s) dropped: {why} (max_queue={self.max_queue})")
        self._lock.notify_all()

    def _note_store_error(self, exc: BaseException) -> None:
        with self._lock:
            self._last_error = str(exc)
            self._warn_once("store", f"cannot write to the store, will retry: {exc}")
            if len(self._pending) + len(self._queue) > self.max_queue:  # bounded memory: give up this batch
                self._drop(len(self._pending), f"the store stayed unavailable ({exc})")
                self._pending, self._pending_issues = [], []

    def _note_internal(self, exc: BaseException) -> None:
        with self._lock:
            self._issues["internal"] += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            self._warn_once("internal", f"logging failed inside goldband: {self._last_error}")

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            LOG.warning("goldband monitor %s: %s (further %s problems are counted, not logged)", self.model,
                        message, kind)
