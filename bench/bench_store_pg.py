"""The store on PostgreSQL beside SQLite (issue 12's speed targets): score rows/s, a case's history, end to end.

    python bench/bench_store_pg.py            # writes docs/bench-store-pg.md (about 4 minutes)
    python bench/bench_store_pg.py --quick    # small sizes, prints only

A real PostgreSQL server on loopback (tests/pgkit.start_postgres with durability on: fsync and synchronous
commit as shipped, as a team's server runs), started once; the SQLite stores are files in a temp folder
(WAL, ``synchronous=NORMAL``, as goldband opens them).

1. Score rows/s through the store's write path: the run recorder's ``TrialWrite`` ops (trials with 5 scores
   each, ``insert_trial_batches``, what its writer thread commits) into one run, in a fresh store each round.
   *1 writer*: calls of 1,000 trials, one transaction each (the shape of bench/bench_store.py). *4 writers*:
   4 processes, each its own connection and its own cases, into the same run, released together; the rate is
   all score rows over the time from the first start to the last finish. *Per case*: one call per case of 5
   trials, 200 calls per transaction, joined as the run's writer joins a commit's trial writes
   (``session.writer.merged``). *Without COPY*: the 1-writer measurement with ``store.pgconn``'s COPY turned
   off (every row its own pipelined INSERT, as before it), PostgreSQL only.
   Every stored row is counted afterwards.
   Targets (PostgreSQL): >= 50,000/s from 1 writer, >= 100,000/s from 4.
2. ``Store.case_history(..., limit=1000)`` of one case over 1,000 stored runs, median of many calls over
   random cases (the first call is left out: it fills the caches). On PostgreSQL the tables are ``ANALYZE``d
   after the build, as autovacuum does within a minute. Target: < 50 ms.
3. End to end: bench/bench_engine.py's workload (100 cases x 3 runs, one ``contains`` check, concurrency 20,
   FakeOpenAI on loopback at 200 ms, one request per sample; ideal 3.0 s) through ``pytest`` in a child process
   with ``--goldband-store`` on an SQLite file or on the PostgreSQL database, interleaved rounds (one
   untimed run each first creates the store, as a team's store already exists). Target: PostgreSQL's median
   wall within 10 % of SQLite's.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests"), str(ROOT / "src")]
from bench_engine import start_server, write_project
from bench_store import new_run, trial, write_history
from machine import cores, load_average, meets

from goldband.results import ScoredTrial, Trial
from goldband.session.writer import TrialWrite, merged
from goldband.store import open_store, pgconn
from goldband.store.writer import TrialBatch
from pgkit import find_bin_dir, start_postgres

PY = sys.executable
DOC = ROOT / "docs" / "bench-store-pg.md"
RUN = "bench-insert"
ROW_BY_ROW = "1 writer, 1,000 trials a call, without COPY (row-by-row INSERTs, before)"
SCORES = 5  # per trial


@dataclass(frozen=True)
class Sizes:
    trials: int  # per write measurement (all writers together)
    per_case_trials: int  # the per-case shape (5 trials a call)
    rounds: int
    history_runs: int
    history_cases: int
    queries: int
    e2e_rounds: int


FULL = Sizes(trials=60_000, per_case_trials=5_000, rounds=3, history_runs=1000, history_cases=100, queries=200,
             e2e_rounds=3)
QUICK = Sizes(trials=8_000, per_case_trials=2_000, rounds=1, history_runs=1000, history_cases=5, queries=40,
              e2e_rounds=1)


# 1. writes ---------------------------------------------------------------------------------------------------

def batches(writer: int, trials: int, per_call: int) -> Iterator[list[ScoredTrial]]:
    """``trials`` trials of writer ``writer``'s own cases, ``per_call`` at a time (5 samples per case)."""
    rng = random.Random(writer)
    base = [trial(rng, "c", 0, SCORES) for _ in range(min(per_call, 1000))]
    for start in range(0, trials, per_call):
        yield [ScoredTrial(Trial(f"w{writer}-case-{n // 5}", "support-v1", n % 5, base[i].trial.completion,
                                 cached=True), base[i].scores)
               for i, n in enumerate(range(start, min(start + per_call, trials)))]


def write_share(location: str, writer: int, trials: int, per_call: int, calls_per_tx: int,
                ready: Any = None) -> tuple[float, float]:
    """One writer's share into run ``RUN``: (start, end) wall-clock stamps around the writes."""
    work = list(batches(writer, trials, per_call))
    with open_store(location) as store:
        store.conn.execute("SELECT 1")
        if ready is not None:
            ready.wait()  # every writer connected and its rows built: start together
        start = time.time()
        for k in range(0, len(work), calls_per_tx):
            with store.transaction() as conn:  # as the run's writer commits a burst (session.writer._apply)
                for op in merged([TrialWrite(RUN, TrialBatch("support", batch)) for batch in work[k:k + calls_per_tx]]):
                    op(conn)
        return start, time.time()


def _child(location: str, writer: int, trials: int, ready: Any, out: Any) -> None:
    out.put(write_share(location, writer, trials, 1000, 1, ready))


def measure_writes(location: str, trials: int, writers: int, *, per_call: int = 1000,
                   calls_per_tx: int = 1) -> float:
    """Score rows/s of ``writers`` processes writing ``trials`` trials into one run of a fresh store."""
    with open_store(location) as store:
        new_run(store, RUN, datetime.now(UTC))
    if writers == 1:
        start, end = write_share(location, 0, trials, per_call, calls_per_tx)
    else:
        context = multiprocessing.get_context("spawn")
        ready, out = context.Barrier(writers), context.Queue()
        procs = [context.Process(target=_child, args=(location, w, trials // writers, ready, out))
                 for w in range(writers)]
        for proc in procs:
            proc.start()
        stamps = [out.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join()
            if proc.exitcode != 0:
                raise SystemExit(f"a writer process failed (exit {proc.exitcode})")
        start, end = min(s for s, _ in stamps), max(e for _, e in stamps)
    with open_store(location) as store:
        stored = store.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    expected = trials // writers * writers * SCORES
    if stored != expected:
        raise SystemExit(f"{location}: {stored} score rows stored, {expected} written")
    return stored / (end - start)


WRITES = {  # label -> (writers, trials per call, calls per transaction, sizes field)
    "1 writer, 1,000 trials a call": (1, 1000, 1, "trials"),
    "4 writers, 1,000 trials a call": (4, 1000, 1, "trials"),
    "1 writer, per case (5 trials a call, 200 calls a transaction)": (1, 5, 200, "per_case_trials"),
    ROW_BY_ROW: (1, 1000, 1, "trials"),
}


@contextlib.contextmanager
def row_by_row(on: bool) -> Iterator[None]:
    """PostgreSQL's ``executemany`` without COPY (every row its own pipelined INSERT), for the comparison."""
    saved = pgconn.COPY_MIN_ROWS
    pgconn.COPY_MIN_ROWS = 10**12 if on else saved
    try:
        yield
    finally:
        pgconn.COPY_MIN_ROWS = saved


def write_rounds(sizes: Sizes, new_db: Callable[[], str], tmp: Path) -> dict[str, dict[str, list[float]]]:
    """Every write measurement on both backends each round, the backends' order alternating."""
    found: dict[str, dict[str, list[float]]] = {label: {"SQLite": [], "PostgreSQL": []} for label in WRITES}
    files = iter(range(10**6))
    for r in range(sizes.rounds):
        for label, (writers, per_call, per_tx, field) in WRITES.items():
            backends = ["SQLite", "PostgreSQL"] if r % 2 == 0 else ["PostgreSQL", "SQLite"]
            for backend in backends if label != ROW_BY_ROW else ["PostgreSQL"]:
                where = str(tmp / f"w{next(files)}.db") if backend == "SQLite" else new_db()
                with row_by_row(label == ROW_BY_ROW):
                    rate = measure_writes(where, getattr(sizes, field), writers, per_call=per_call,
                                          calls_per_tx=per_tx)
                found[label][backend].append(rate)
                print(f"round {r + 1} {label} {backend}: {rate:,.0f} score rows/s", file=sys.stderr, flush=True)
    return found


# 2. history --------------------------------------------------------------------------------------------------

def build_history(location: str, runs: int, cases: int) -> None:
    """``runs`` runs of ``cases`` verdicts each, one transaction per run (as a run's writer stores them)."""
    with open_store(location) as store:
        write_history(store, runs, cases)
        if store.url is not None:
            store.conn.execute("ANALYZE")


def time_history(location: str, runs: int, cases: int, queries: int) -> list[float]:
    """Milliseconds of ``queries`` calls over random cases (the first, which fills the caches, left out)."""
    rng = random.Random(3)
    timings = []
    with open_store(location) as store:
        for _ in range(queries + 1):
            case = f"case-{rng.randrange(cases):04d}"
            begin = time.perf_counter()
            points = store.case_history("support", case, "support-v1", limit=1000)
            timings.append(1000 * (time.perf_counter() - begin))
            if len(points) != runs:
                raise SystemExit(f"{location}: {len(points)} history points, {runs} stored")
    return timings[1:]


# 3. end to end -----------------------------------------------------------------------------------------------

def pytest_run(root: Path, store: str) -> float:
    """Wall seconds of one ``pytest`` run of the project in ``root`` into ``store``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "GOLDBAND_STORE", "GOLDBAND_REPORT", "GOLDBAND_MODE", "GOLDBAND_RUNS")}
    env["PYTHONPATH"] = str(ROOT / "src")
    start = time.perf_counter()
    out = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                          "-p", "no:randomly", f"--goldband-store={store}", "goldensets"],
                         cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0 or "100 passed" not in out.stdout:
        raise SystemExit(f"end-to-end run on {store} failed ({out.returncode}):\n{out.stdout[-2000:]}\n"
                         f"{out.stderr[-2000:]}")
    return wall


def end_to_end(rounds: int, url: str, tmp: Path) -> dict[str, list[float]]:
    """bench_engine's 100 x 3 workload into each store, one untimed run each first, then interleaved rounds."""
    proc, api = start_server(0.2)
    stores = {"SQLite": str(tmp / "e2e.db"), "PostgreSQL": url}
    found: dict[str, list[float]] = {name: [] for name in stores}
    try:
        root = tmp / "project"
        write_project(root, api, cases=100, runs=3, concurrency=20, supports_n=False)
        for store in stores.values():
            pytest_run(root, store)
        for r in range(rounds):
            for name in list(stores) if r % 2 == 0 else list(reversed(stores)):
                found[name].append(pytest_run(root, stores[name]))
                print(f"round {r + 1} end to end {name}: {found[name][-1]:.2f} s", file=sys.stderr, flush=True)
    finally:
        proc.terminate()
        proc.wait()
    return found


WHERE_TIME = """## Where PostgreSQL's write time goes

Profiled on this machine (1 writer, 1,000-trial calls, time per statement): `executemany` of the scores and of
the trials row by row was most of it; `store.pgconn` now writes a plain `INSERT`'s rows by `COPY` and an
`INSERT OR IGNORE`'s (the trials) by `COPY` into a temporary staging table plus one `INSERT ... SELECT ... ON
CONFLICT DO NOTHING` (the *without COPY* row above is before). What is left: about a third of the time is the
`COMMIT`, most of it PostgreSQL checking the deferred foreign keys row by row (scores -> trials, trials ->
runs: 6 checks per trial; kept, as SQLite keeps them: they are what stops a score without its trial), plus the
WAL flush; then the trials' unique index and the Python that builds each row. The *per case* row was round
trips: each `insert_trials` call is 4-5 statements, so a case of 5 trials paid ~5 round trips where SQLite pays
none (3,900 rows/s on a loaded machine); the run's writer now joins a commit's trial writes into one
(`session.writer.merged` -> `store.writer.insert_trial_batches`), so a burst of cases costs what one
1,000-trial call costs."""


# the report --------------------------------------------------------------------------------------------------

def document(sizes: Sizes, writes: dict[str, dict[str, list[float]]], history: dict[str, list[float]],
             e2e: dict[str, list[float]], load: str, server: str, quick: bool) -> str:
    """docs/bench-store-pg.md: the tables, the targets, and where PostgreSQL's write time goes."""
    import sqlite3

    def rate(label: str, backend: str) -> float:
        return statistics.median(writes[label][backend]) if writes[label][backend] else math.nan

    hist = {name: (statistics.median(t), sorted(t)[int(0.95 * (len(t) - 1))]) for name, t in history.items()}
    walls = {name: statistics.median(t) for name, t in e2e.items()}
    ratio = walls["PostgreSQL"] / walls["SQLite"]
    targets = ["1 writer, 1,000 trials a call", "4 writers, 1,000 trials a call"]

    def cell(value: float) -> str:
        return "-" if math.isnan(value) else f"{value:,.0f}"

    write_rows = [f"| {label} | {cell(rate(label, 'SQLite'))} | {cell(rate(label, 'PostgreSQL'))} | "
                  + (f">= {50_000 if label == targets[0] else 100_000:,}/s: "
                     f"{meets(rate(label, 'PostgreSQL') >= (50_000 if label == targets[0] else 100_000))}"
                     if label in targets else "none") + " |" for label in WRITES]
    command = "python bench/bench_store_pg.py" + (" --quick" if quick else "")
    return "\n".join([
        "# The store on PostgreSQL beside SQLite", "",
        f"Machine: {platform.machine()}, {cores()} cores, Python {platform.python_version()}, {server}, SQLite "
        f"{sqlite3.sqlite_version}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load} at the start and "
        f"{load_average()} at the end (the machine is shared: numbers move with load; the server, the writers and "
        f"pytest share these cores). Reproduce: `{command}` (see its docstring).", "",
        "PostgreSQL runs on loopback with durability on (fsync, synchronous commit, as shipped); SQLite is a file "
        "(WAL, `synchronous=NORMAL`).", "",
        "## Score rows written per second", "",
        "The run recorder's `TrialWrite` ops (`insert_trial_batches`, 5 scores a trial) into one run of a fresh "
        f"store: {sizes.trials:,} trials ({sizes.trials * SCORES:,} score rows) for the 1,000-trial calls, "
        f"{sizes.per_case_trials:,} for the "
        f"per-case calls; 4 writers are 4 processes, each its own connection and cases, released together. "
        f"Medians of {sizes.rounds} interleaved round(s); every stored row is counted afterwards.", "",
        "| writers and batches | SQLite | PostgreSQL | target (PostgreSQL) |", "|---|---|---|---|", *write_rows, "",
        "## One case's history across 1,000 runs", "",
        f"`Store.case_history(..., limit=1000)` in a store of {sizes.history_runs:,} runs x "
        f"{sizes.history_cases} cases; {sizes.queries} calls over random cases (the first left out).", "",
        "| backend | median | p95 | target |", "|---|---|---|---|",
        *(f"| {name} | {m:.1f} ms | {p:.1f} ms | < 50 ms: {meets(m < 50)} |" for name, (m, p) in hist.items()), "",
        "## End to end through pytest", "",
        "100 cases x 3 runs, one `contains` check, concurrency 20, FakeOpenAI on loopback at 200 ms, one request per "
        f"sample (ideal 3.0 s), `--goldband-store` on each backend; medians of {len(e2e['SQLite'])} interleaved "
        "round(s) after one untimed run each (which creates the store).", "",
        "| SQLite wall | PostgreSQL wall | PostgreSQL / SQLite | target |", "|---|---|---|---|",
        f"| {walls['SQLite']:.2f} s | {walls['PostgreSQL']:.2f} s | {ratio:.3f} | <= 1.10: {meets(ratio <= 1.10)} |",
        "", WHERE_TIME, "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes; print, do not write docs/")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    load = load_average()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    names = iter(range(10**6))
    with tempfile.TemporaryDirectory() as folder, start_postgres(bin_dir, fast=False) as pg:
        tmp = Path(folder)
        os.environ["PGPASSFILE"] = str(pg.passfile)  # libpq of this process, the writers and pytest find it
        server = "PostgreSQL " + subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True,
                                                text=True).stdout.split()[2]
        writes = write_rounds(sizes, lambda: pg.create_database(f"bench_{next(names)}"), tmp)
        stores = {"SQLite": str(tmp / "history.db"), "PostgreSQL": pg.create_database("bench_history")}
        history = {}
        for name, where in stores.items():
            build_history(where, sizes.history_runs, sizes.history_cases)
            history[name] = time_history(where, sizes.history_runs, sizes.history_cases, sizes.queries)
            print(f"history {name}: median {statistics.median(history[name]):.1f} ms", file=sys.stderr, flush=True)
        e2e = end_to_end(sizes.e2e_rounds, pg.create_database("bench_e2e"), tmp)
    text = document(sizes, writes, history, e2e, load, server, args.quick)
    print(text)
    if not args.quick:
        DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
