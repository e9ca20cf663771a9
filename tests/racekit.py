"""Racing processes for the concurrency tests: the same work started in several spawned processes at once."""

from __future__ import annotations

import multiprocessing
from typing import Any

PROCESSES = 4


def race(target: Any, *args: Any, processes: int = PROCESSES) -> list[Any]:
    """Run ``target(*args, worker, barrier)`` in ``processes`` spawned processes (``target`` at a module's top
    level, so a child can import it); what each returned. A worker's failure fails the test with its error."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_worker, args=(target, args, i, barrier, results)) for i in range(processes)]
    for worker in workers:
        worker.start()
    found = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    errors = [error for ok, error in found if not ok]
    assert not errors, errors
    return [value for _, value in found]


def _worker(target: Any, args: tuple[Any, ...], worker: int, barrier: Any, results: Any) -> None:
    try:
        results.put((True, target(*args, worker, barrier)))
    except Exception as exc:  # reported to the test, which fails with it
        barrier.abort()
        results.put((False, f"worker {worker}: {type(exc).__name__}: {exc}"))
