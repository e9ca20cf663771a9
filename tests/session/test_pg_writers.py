"""Many processes writing one run into one store lose nothing (issue 12): 8 shards of a CI matrix recording one run
at once into PostgreSQL, and shards finishing at once finalizing their run exactly once (on both backends)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from goldband.session import shards
from goldband.store import RunRow, open_store
from goldband.store.writer import begin_shard, insert_run
from tests.session.test_recorder import make_project
from tests.session.test_shards import outcomes_of, pytest_argv, run_at_once

CASES = 40
SHARDS = 8


def golden(cases: int) -> str:
    """Cases of 1 to 4 runs, every seventh failing; two checks per trial (so two score rows)."""
    body = "".join(f"  - id: c{i:02d}\n    runs: {1 + i % 4}\n"
                   f"    input: {{question: q{i}{', bad: true' if i % 7 == 3 else ''}}}\n" for i in range(cases))
    return ("name: support\nversion: 1\ntargets: [app, app2]\ndefaults:\n  runs: 2\n"
            "  checks:\n    - contains: '30 days'\n    - not_contains: 'As an AI'\n"
            f"cases:\n{body}")


TARGETS = 2  # two targets: each shard registers both, in the order its own items name them
ITEMS = TARGETS * CASES
TRIALS = TARGETS * sum(1 + i % 4 for i in range(CASES))
FAILING = TARGETS * sum(1 for i in range(CASES) if i % 7 == 3)
CONFIG = "concurrency: 4\ntargets:\n  app:\n    callable: app:answer\n  app2:\n    callable: app:answer\n"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("GOLDBAND_SHARD", "GOLDBAND_RUN_ID", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"):
        monkeypatch.delenv(name, raising=False)
    project = make_project(pytester, monkeypatch, golden(CASES))
    project.makefile(".yaml", goldband=CONFIG)
    return project


def test_eight_processes_writing_one_run_into_postgresql_lose_nothing(project: pytest.Pytester,
                                                                      postgres_url: str) -> None:
    """Shards 1/8..8/8 of one run at once, 8 pytest processes on one database: every trial, score and verdict is
    stored exactly once, the run is finalized exactly once (one shard says so, its series points are not
    doubled) and its counts are right."""
    argvs = [pytest_argv("--goldband-shard", f"{i}/{SHARDS}", "--goldband-run-id", "ci-8",
                         f"--goldband-store={postgres_url}", "--goldband-report", "off")
             for i in range(1, SHARDS + 1)]
    done = run_at_once(project, argvs)
    assert all(code in (0, 1) for code, _, _ in done), done
    outcomes: Counter[str] = sum((outcomes_of(out) for _, out, _ in done), Counter())
    assert (outcomes["passed"], outcomes["failed"]) == (ITEMS - FAILING, FAILING)
    assert sum("run ci-8 complete" in out for _, out, _ in done) == 1, [out for _, out, _ in done]
    with open_store(postgres_url, create=False) as store:
        sql = store.conn.execute
        assert sql("SELECT COUNT(*), COUNT(DISTINCT (goldenset, case_id, target, sample)) FROM trials "
                   "WHERE run_id = ?", ["ci-8"]).fetchone() == (TRIALS, TRIALS)
        assert sql("SELECT COUNT(*), COUNT(DISTINCT (s.trial_id, s.idx)) FROM scores s JOIN trials t "
                   "ON t.id = s.trial_id WHERE t.run_id = ?", ["ci-8"]).fetchone() == (2 * TRIALS, 2 * TRIALS)
        assert sql("SELECT COUNT(*) FROM verdicts WHERE run_id = ?", ["ci-8"]).fetchone()[0] == ITEMS
        assert store.verdict_counts("ci-8") == {"FAIL": FAILING, "PASS": ITEMS - FAILING}
        assert len(store.run_items("ci-8")) == ITEMS
        assert sorted(r["shard"] for r in store.run_shards("ci-8")) == list(range(1, SHARDS + 1))
        assert all(r["finished_at"] is not None for r in store.run_shards("ci-8"))
        assert sql("SELECT COUNT(*) FROM run_goldensets WHERE run_id = ?", ["ci-8"]).fetchone()[0] == 1
        assert sql("SELECT COUNT(*) FROM run_targets WHERE run_id = ?", ["ci-8"]).fetchone()[0] == TARGETS
        points = sql("SELECT metric, labels_key, COUNT(*) FROM series_points WHERE run_id = ? "
                     "GROUP BY metric, labels_key", ["ci-8"]).fetchall()
        assert points and all(n == 1 for _, _, n in points)  # finalized once: no point written twice
        run = store.run("ci-8")
        assert run is not None and (run.status, run.exit_status) == ("complete", 1)  # failing cases fail the run


def begun(store_at: str, run_id: str, total: int) -> None:
    """A sharded run whose ``total`` shards have all started (and have no items yet)."""
    with open_store(store_at) as store, store.transaction() as conn:
        insert_run(conn, RunRow(run_id, "ci", "running", "2026-01-01T00:00:00Z"))
        for i in range(1, total + 1):
            begin_shard(conn, run_id, shard=i, shards=total, items=0)


def finish_at_once(store_at: str, run_id: str, total: int) -> list[bool]:
    """Every shard finishes at the same moment, each on its own connection: whether each would finalize."""
    stores = [open_store(store_at) for _ in range(total)]
    start = threading.Barrier(total)
    ready = [False] * total

    def finish(i: int) -> None:
        start.wait()
        ready[i] = shards.finish(stores[i], run_id, (i + 1, total), 0).ready

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(total)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for store in stores:
            store.close()
    return ready


def test_shards_finishing_at_once_finalize_their_run_exactly_once(store_at: str) -> None:
    """Without the run's lock, PostgreSQL (READ COMMITTED) lets each of two shards finishing at once miss the
    other's finish: then no shard finalizes. Exactly one must, every time."""
    for attempt in range(12):
        run_id = f"r{attempt}"
        begun(store_at, run_id, SHARDS)
        assert sum(finish_at_once(store_at, run_id, SHARDS)) == 1
        with open_store(store_at, create=False) as store:
            assert shards.state(store, run_id, SHARDS).ready
