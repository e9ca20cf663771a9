"""Throughput of `goldband store copy` (issue 12): a 10,000-trial store, SQLite -> PostgreSQL -> SQLite.

    python bench/bench_store_copy.py              # writes docs/bench-store-copy.md
    python bench/bench_store_copy.py --out -      # prints only

A real PostgreSQL server on loopback (tests/pgkit.start_postgres, durability on: fsync and synchronous
commit as shipped), started once; each round copies the same SQLite store into a fresh database and back into a
fresh file. A copy's time includes connecting, creating the schema, writing, reading every table back to verify
it, and the commit. Medians of the rounds, interleaved (one each way per round).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]
from machine import cores, load_average

from goldband.store import open_store
from goldband.store.copy import copy_store
from pgkit import find_bin_dir, start_postgres
from storefixtures import CaseSpec, write_run


def build(path: Path, cases: int) -> None:
    specs = [CaseSpec(f"case-{i:04d}", "ppppf", "PASS") for i in range(cases)]  # 5 trials a case
    with open_store(path) as store:
        write_run(store, "20261101-120000-0001", "2026-11-01T12:00:00.000+00:00", specs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "docs" / "bench-store-copy.md"), help="'-' to print only")
    args = parser.parse_args()
    load = load_average()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.db"
        build(src, args.cases)
        to_pg, back = [], []
        with start_postgres(bin_dir, fast=False) as pg:
            os.environ["PGPASSFILE"] = str(pg.passfile)
            for i in range(args.rounds):
                url = pg.create_database(f"bench_{i}")
                there = copy_store(str(src), url)
                again = copy_store(url, str(Path(tmp) / f"back{i}.db"))
                to_pg.append((there.rows, there.seconds))
                back.append((again.rows, again.seconds))
    rows = to_pg[0][0]
    trials = args.cases * 5
    lines = [
        "# `goldband store copy`", "",
        f"Machine: {platform.machine()}, {cores()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load} at the start. Reproduce: "
        f"`python bench/bench_store_copy.py --rounds {args.rounds}`.", "",
        f"A store of {trials:,} trials ({rows:,} rows in all tables), PostgreSQL on loopback with durability on; "
        "each copy includes connecting, creating the schema, writing, reading every table back to verify it and "
        f"the commit. Medians of {args.rounds} interleaved rounds.", "",
        "| direction | seconds | rows/s |", "|---|---|---|",
        *(f"| {name} | {statistics.median(s for _, s in found):.2f} | "
          f"{statistics.median(r / s for r, s in found):,.0f} |"
          for name, found in (("SQLite -> PostgreSQL", to_pg), ("PostgreSQL -> SQLite", back))), "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
