"""What checking a store for damage costs a run (issue 17).

    python bench/bench_store_check.py            # 10,000, 100,000 and 1,000,000 trials
    python bench/bench_store_check.py --quick    # 10,000 and 100,000

A run opens its store with ``open_store(..., check=True)``: SQLite's
``PRAGMA quick_check`` reads every page once, before any provider call. This
builds stores of N trials (3 scores each, ~300-character outputs, through the
recorder's ``insert_trials``), then times, five times each, the quick check
with the file in the OS page cache (warm: a run right after the last one) and
with the file dropped from it (cold: ``posix_fadvise(DONTNEED)``; the first run
after a reboot or on a fresh CI machine that restored the store from a cache),
and ``PRAGMA integrity_check`` (``goldband store check``) for comparison.
Prints a Markdown table; the numbers are quoted in docs/store.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_store import new_run, trial
from machine import cores, load_average

from goldband.results import ScoredTrial, Trial
from goldband.store import open_store
from goldband.store.writer import insert_trials


def build(path: Path, trials: int) -> None:
    rng = random.Random(1)
    batch = [trial(rng, f"case-{i % 1000}", i // 1000, 3) for i in range(1000)]
    with open_store(path) as store:
        new_run(store, "bench-check", datetime.now(UTC))
        for b in range(trials // 1000):
            shifted = [ScoredTrial(Trial(t.trial.case_id, t.trial.target, b, t.trial.completion, cached=True),
                                   t.scores) for t in batch]
            with store.transaction() as conn:
                insert_trials(conn, "bench-check", "support", shifted)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed(path: Path, pragma: str, *, cold: bool) -> float:
    if cold:
        drop_cache(path)
    conn = sqlite3.connect(path)
    try:
        start = time.perf_counter()
        assert conn.execute(f"PRAGMA {pragma}").fetchall() == [("ok",)]
        return time.perf_counter() - start
    finally:
        conn.close()


def measure(path: Path, trials: int) -> dict[str, float]:
    build(path, trials)
    timed(path, "quick_check", cold=False)  # the first read after building warms nothing it should not
    return {"trials": trials, "mb": path.stat().st_size / 1e6,
            "warm": statistics.median(timed(path, "quick_check", cold=False) for _ in range(5)),
            "cold": statistics.median(timed(path, "quick_check", cold=True) for _ in range(5)),
            "integrity": statistics.median(timed(path, "integrity_check", cold=False) for _ in range(5))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="only 10,000 and 100,000 trials")
    args = parser.parse_args()
    sizes = (10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000)
    print(f"Machine: {platform.machine()}, {cores()} cores, Python {platform.python_version()}, SQLite "
          f"{sqlite3.sqlite_version}, load average {load_average()} at the start.\n")
    print("| trials | file | quick_check (warm) | quick_check (cold) | integrity_check (warm) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            r = measure(Path(tmp) / f"store-{n}.db", n)
            print(f"| {n:,} | {r['mb']:.0f} MB | {r['warm']:.2f} s | {r['cold']:.2f} s | {r['integrity']:.2f} s |",
                  flush=True)
            (Path(tmp) / f"store-{n}.db").unlink()


if __name__ == "__main__":
    main()
