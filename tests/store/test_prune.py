"""``goldband.store.maintenance.prune``: old runs (or only their raw outputs) leave; baselines may stay. The same
statements serve an SQLite file and a PostgreSQL store (``store_at``), so every test runs on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from goldband.errors import StoreError, UsageError
from goldband.store import RunRow, open_store
from goldband.store.maintenance import baseline_runs, parse_age, prune
from goldband.store.writer import GoldenSetRecord, insert_goldenset, insert_run
from storefixtures import demo_cases, goldenset_hash, write_run

NOW = datetime(2026, 12, 1, tzinfo=UTC)
AGE = timedelta(days=180)


@pytest.fixture
def store_path(store_at: str) -> str:
    """Two old runs on main, one old run on a release branch, one recent run on main."""
    with open_store(store_at) as store:
        write_run(store, "old-1", "2026-01-01T12:00:00.000+00:00", demo_cases())
        write_run(store, "old-2", "2026-02-01T12:00:00.000+00:00", demo_cases())
        write_run(store, "old-release", "2026-03-01T12:00:00.000+00:00", demo_cases(), branch="release")
        write_run(store, "new", "2026-11-20T12:00:00.000+00:00", demo_cases())
    return store_at


def count(location: str, sql: str) -> int:
    with open_store(location, create=False) as store:
        return int(store.conn.execute(sql).fetchone()[0])


def runs(location: str) -> list[str]:
    with open_store(location, create=False) as store:
        return [r[0] for r in store.conn.execute("SELECT id FROM runs ORDER BY started_at")]


def contents(location: str) -> dict[str, list[str]]:
    """Every table's rows, in a canonical order: what "nothing changed" is checked against on both backends."""
    with open_store(location, create=False, migrate_schema=False) as store:
        return {name: sorted(repr(row) for row in store.conn.execute(f'SELECT * FROM "{name}"'))
                for name in store.table_names()}


def test_prune_removes_old_runs_and_everything_of_theirs(store_path: str) -> None:
    trials_per_run = count(store_path, "SELECT COUNT(*) FROM trials WHERE run_id = 'new'")
    plan = prune(store_path, AGE, now=NOW)
    assert plan.runs == ["old-1", "old-2", "old-release"] and plan.kept_baselines == []
    assert runs(store_path) == ["new"]
    assert plan.rows["trials"] == 3 * trials_per_run
    for table in ("trials", "verdicts", "series_points", "run_items"):
        assert count(store_path, f"SELECT COUNT(*) FROM {table} WHERE run_id != 'new'") == 0, table
    assert count(store_path, "SELECT COUNT(*) FROM scores WHERE trial_id NOT IN (SELECT id FROM trials)") == 0
    assert count(store_path, "SELECT COUNT(*) FROM goldensets") == 2  # still used by the kept run


def test_keep_baselines_keeps_the_latest_run_of_each_branch(store_path: str) -> None:
    with open_store(store_path) as store:
        assert baseline_runs(store.conn) == {"new", "old-release"}
        with store.transaction() as conn:
            conn.execute("UPDATE verdicts SET baseline_run = 'old-1' WHERE run_id = 'new'")
    plan = prune(store_path, AGE, keep_baselines=True, now=NOW)
    assert plan.runs == ["old-2"] and plan.kept_baselines == ["old-1", "old-release"]
    assert runs(store_path) == ["old-1", "old-release", "new"]


def test_outputs_only_keeps_verdicts_and_series(store_path: str) -> None:
    verdicts = count(store_path, "SELECT COUNT(*) FROM verdicts")
    points = count(store_path, "SELECT COUNT(*) FROM series_points")
    plan = prune(store_path, AGE, outputs_only=True, now=NOW)
    assert plan.rows["trials (outputs cleared)"] > 0
    assert runs(store_path) == ["old-1", "old-2", "old-release", "new"]
    assert count(store_path, "SELECT COUNT(*) FROM verdicts") == verdicts
    assert count(store_path, "SELECT COUNT(*) FROM series_points") == points
    assert count(store_path, "SELECT COUNT(*) FROM trials WHERE run_id != 'new' AND output IS NOT NULL") == 0
    assert count(store_path, "SELECT COUNT(*) FROM trials WHERE run_id = 'new' AND output IS NOT NULL") > 0


def test_dry_run_changes_nothing_and_tells_the_same(store_path: str) -> None:
    before = contents(store_path)
    planned = prune(store_path, AGE, dry_run=True, now=NOW)
    assert contents(store_path) == before
    done = prune(store_path, AGE, now=NOW)
    assert (planned.runs, planned.rows) == (done.runs, done.rows)
    assert contents(store_path) != before


def test_a_run_with_shards_is_pruned_whole(store_path: str) -> None:
    """A sharded run's shard rows go with it (they refer to the run)."""
    with open_store(store_path) as store, store.transaction() as conn:
        conn.executemany("INSERT INTO run_shards (run_id, shard, shards, items) VALUES (?, ?, 2, 3)",
                         [("old-1", 1), ("old-1", 2), ("new", 1)])
    plan = prune(store_path, AGE, now=NOW)
    assert plan.rows["run_shards"] == 2
    assert count(store_path, "SELECT COUNT(*) FROM run_shards") == 1


def test_running_runs_are_never_pruned(store_at: str) -> None:
    with open_store(store_at) as store:
        write_run(store, "live", "2026-01-01T12:00:00.000+00:00", demo_cases(), status="running")
    assert prune(store_at, AGE, now=NOW).runs == []
    assert runs(store_at) == ["live"]


def test_sqlite_file_given_as_a_path(tmp_path: Path) -> None:
    """The Python API takes a Path as before (SQLite only: a URL is a str)."""
    with open_store(tmp_path / "store.db") as store:
        write_run(store, "old-1", "2026-01-01T12:00:00.000+00:00", demo_cases())
    assert prune(tmp_path / "store.db", AGE, now=NOW).runs == ["old-1"]


def test_a_writer_reusing_an_identity_the_prune_would_drop_is_waited_for(postgres_url: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL (SQLite's BEGIN IMMEDIATE serialises the two anyway): a run starting now finds golden set v4,
    which only an old run references, in the store and links to it, uncommitted; the prune must not delete it
    under the run (the run's commit would fail on its foreign key). It waits for the writer, and tells so."""
    v4 = goldenset_hash("support", "4")
    with open_store(postgres_url) as store:
        write_run(store, "old-v4", "2026-01-01T12:00:00.000+00:00", demo_cases(), version="4")
    monkeypatch.setenv("GOLDBAND_STORE_TIMEOUT", "0.3")
    with open_store(postgres_url) as writer:
        writer.conn.execute("BEGIN")
        insert_run(writer.conn, RunRow("live", "ci", "running", "2026-11-30T12:00:00.000+00:00", host="elsewhere"))
        insert_goldenset(writer.conn, "live", GoldenSetRecord(v4, "support", "4", "goldensets/support.yaml", []))
        with pytest.raises(StoreError) as caught:
            prune(postgres_url, AGE, now=NOW)
        assert caught.value.where == postgres_url and "the store is busy" in caught.value.what
        assert "GOLDBAND_STORE_TIMEOUT" in (caught.value.fix or "") and "nothing was pruned" in (caught.value.fix or "")
        writer.conn.execute("COMMIT")
    assert runs(postgres_url) == ["old-v4", "live"]  # nothing was pruned
    assert prune(postgres_url, AGE, now=NOW).runs == ["old-v4"]
    assert count(postgres_url, f"SELECT COUNT(*) FROM goldensets WHERE hash = '{v4}'") == 1  # the live run's
    assert runs(postgres_url) == ["live"]


@pytest.mark.parametrize("text", ["6m", "180", "0d", "-3d", "1.5w", "d"])
def test_bad_ages_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_age(text)
    assert caught.value.where == "--older-than" and "180d" in (caught.value.fix or "")


def test_ages() -> None:
    assert parse_age("26w") == timedelta(weeks=26) and parse_age(" 90d ") == timedelta(days=90)
