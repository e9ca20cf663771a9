"""The background writer behind the loggers: a bounded queue, one writer thread, batched transactions.

A logger's caller is a serving process: ``_put`` appends to an in-memory queue
(a few microseconds) and never raises; one daemon thread turns queued items
into rows (``_row``, the subclass's rules) and writes them in batches, one
transaction each, through the logger's own store connection (``_store_rows``).
Nothing already queued is lost to a bad row (rows are checked one by one) or to
a briefly unavailable store (a failed batch is kept and retried). When the store
stays unavailable and the queue fills, new items are dropped and counted, never
blocking the caller. Every problem is counted in ``stats()``, written to the
store's ``monitor_issues`` table under the logger's name and logged once per
kind on the ``goldband.monitor`` logger.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import secrets
import sqlite3
import threading
import time as _time
import weakref
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goldband.clock import Clock, iso
from goldband.errors import GoldbandError, RowRefused
from goldband.store import open_store
from goldband.watch import db
from goldband.watch.records import Issue

__all__ = ["BackgroundWriter", "LogStats"]

LOG = logging.getLogger("goldband.monitor")


def _forked(ref: weakref.ref[BackgroundWriter]) -> None:
    logger = ref()
    if logger is not None:
        logger._forked()


@dataclass(frozen=True)
class LogStats:
    """What a logger has done so far: every logged row ends up written, refused or dropped."""

    logged: int  # calls accepted into the queue
    written: int  # rows stored
    refused: int  # rows that could not be stored (bad row, duplicate id): see issues
    dropped: int  # rows lost to a full queue or a store that stayed unavailable
    pending: int  # still queued or waiting for a retry
    issues: dict[str, int] = field(default_factory=dict)  # counted problems by kind (kept or refused rows)
    last_error: str | None = None


class BackgroundWriter:
    """The queue, the writer thread and the counting shared by ``PredictionLogger`` and ``TraceLogger``.

    Subclasses define ``_row(item, issues)`` (an item to a row; ``RowRefused`` to refuse it) and
    ``_store_rows(conn, rows, stamp)`` (write rows; return how many were written and the refused ones as
    issues). ``name`` is the model or app the issues are counted under.
    """

    def __init__(self, name: str, *, store: str | Path, max_queue: int, batch_size: int, flush_interval_s: float,
                 retry_s: float, clock: Clock | None) -> None:
        self.name = name
        self.max_queue, self.batch_size = max_queue, batch_size
        self.flush_interval_s, self.retry_s = flush_interval_s, retry_s
        self._clock = clock
        self._store = open_store(store)
        self._queue: deque[tuple[Any, ...]] = deque()
        self._pending: list[Any] = []  # rows whose write failed
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

    # -- what a subclass defines ------------------------------------------------------------
    def _row(self, item: tuple[Any, ...], issues: list[Issue]) -> Any:
        raise NotImplementedError

    def _store_rows(self, conn: sqlite3.Connection, rows: list[Any], stamp: str | None) -> tuple[int, list[Issue]]:
        raise NotImplementedError

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
                LOG.warning("goldband monitor %s: %d refused, %d dropped of %d logged (%s)", self.name,
                            stats.refused, stats.dropped, stats.logged, stats.issues)
        return self.stats()

    def stats(self) -> LogStats:
        with self._lock:
            return LogStats(self._logged, self._written, self._refused, self._dropped,
                            max(0, self._logged - self._done), dict(self._issues), self._last_error)

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread ------------------------------------------------------------------
    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"goldband-monitor-{self.name}", daemon=True)
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

    def _normalise(self, batch: list[tuple[Any, ...]]) -> list[Any]:
        rows: list[Any] = []
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

    def _commit(self) -> bool:
        rows, found = self._pending, self._pending_issues
        try:
            stamp = iso(self._clock.now()) if self._clock is not None else None
            with self._store.transaction() as conn:
                written, refused = self._store_rows(conn, rows, stamp)
                db.add_issues(conn, self.name, [*found, *refused])
                if self._unsaved_drops:
                    db.add_issues(conn, self.name, [Issue("dropped", "", "rows dropped: the queue was full, the "
                                  f"store unavailable, or the logger closed (max_queue={self.max_queue})")],
                                  times=self._unsaved_drops)
                    self._unsaved_drops = 0
        except (GoldbandError, OSError) as exc:
            self._note_store_error(exc)
            return False
        self._finish(written, len(refused), [*found, *refused])
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
            LOG.warning("goldband monitor %s: %s (further %s problems are counted, not logged)", self.name,
                        message, kind)
