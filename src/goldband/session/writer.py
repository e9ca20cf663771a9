"""One writer thread per process: it writes the run's trials and verdicts while the run goes on.

Trials arrive on the engine's event loop; verdicts on pytest's main thread.
Neither should wait on disk or on another process's lock (xdist workers
share the file), so both only enqueue. The writer thread drains the queue and
commits everything waiting in one transaction (group commit): a burst of
trials costs one commit, and a trial is on disk a few milliseconds after it
was scored, so a killed run keeps it.

A failed write is recorded (``errors``, and ``lost`` counts the writes it lost)
and the thread keeps going: a broken store never stops the run's calls midway;
at the end the session reports it, marks the run incomplete and exits with
status 3 (``goldband.session.finish``).
"""

from __future__ import annotations

import functools
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

from goldband.errors import StoreError
from goldband.store import Store
from goldband.store.writer import TrialBatch, insert_trial_batches

Op = Callable[[sqlite3.Connection], object]
MAX_BATCH = 1000


class BackgroundWriter:
    """Drains queued writes into the session's store on its own thread, one transaction per burst."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.errors: list[StoreError] = []
        self.lost = 0  # writes that did not reach the store
        self._queue: queue.SimpleQueue[Op | None] = queue.SimpleQueue()  # None: commit what is queued, stop
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="goldband-store", daemon=True)
        self._thread.start()

    def put(self, op: Op) -> None:
        """Queue a write (any thread); it runs inside the writer's next transaction."""
        if not self._closed:
            self._queue.put(op)

    def close(self, timeout: float | None = 60.0) -> None:
        """Commit what is queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():  # still waiting on the store: what is queued now will not be written
            self.lost += max(1, self._queue.qsize())
            self.errors.append(StoreError(f"the store's writer did not finish within {timeout or 0:g} s",
                                          where=self.store.where))

    def _run(self) -> None:
        self._loop(self.store)

    def _loop(self, store: Store) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(store, [op for op in batch if op is not None])
            if None in batch:
                return

    def _commit(self, store: Store, ops: list[Op]) -> None:
        """All ops in one transaction; if that fails, one by one, so one bad write loses only itself."""
        if not ops:
            return
        try:
            _apply(store, ops)
        except Exception as exc:
            if isinstance(exc, StoreError) and "locked" in exc.what:  # one by one would only wait longer
                self.errors.append(exc)
                self.lost += len(ops)
                return
            for op in ops:
                try:
                    _apply(store, [op])
                except Exception as exc:
                    self.lost += 1
                    self.errors.append(exc if isinstance(exc, StoreError) else StoreError(
                        f"a write failed: {type(exc).__name__}: {exc}", where=self.store.where))


def _apply(store: Store, ops: list[Op]) -> None:
    with store.transaction() as conn:
        for op in merged(ops):
            op(conn)


@dataclass(frozen=True)
class TrialWrite:
    """One item's trials as the recorder queues them: an op (``insert_trial_batches`` of its one batch) that
    ``merged`` can join with the next ones of the same run."""

    run_id: str
    batch: TrialBatch

    def __call__(self, conn: sqlite3.Connection) -> int:
        return insert_trial_batches(conn, self.run_id, [self.batch])


def merged(ops: list[Op]) -> list[Op]:
    """``ops`` with each run of consecutive ``TrialWrite``s of one run joined into one ``insert_trial_batches``:
    the same rows, in a few statements rather than a few per item (on PostgreSQL each statement is a round
    trip). A commit that fails is retried op by op, unmerged."""
    out: list[Op] = []
    group: list[TrialWrite] = []
    for op in ops:
        if isinstance(op, TrialWrite) and (not group or group[0].run_id == op.run_id):
            group.append(op)
            continue
        out.extend(_joined(group))
        group = [op] if isinstance(op, TrialWrite) else []
        if not isinstance(op, TrialWrite):
            out.append(op)
    out.extend(_joined(group))
    return out


def _joined(group: list[TrialWrite]) -> list[Op]:
    if len(group) < 2:
        return list(group)
    return [functools.partial(insert_trial_batches, run_id=group[0].run_id, batches=[w.batch for w in group])]
