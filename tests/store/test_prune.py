"""``goldband.store.maintenance.prune``: old runs (or only their raw outputs) leave; baselines may stay."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from damagekit import digest
from goldband.errors import UsageError
from goldband.store import open_store
from goldband.store.maintenance import baseline_runs, parse_age, prune
from storefixtures import demo_cases, write_run

NOW = datetime(2026, 12, 1, tzinfo=UTC)
AGE = timedelta(days=180)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Two old runs on main, one old run on a release branch, one recent run on main."""
    path = tmp_path / "store.db"
    store = open_store(path)
    write_run(store, "old-1", "2026-01-01T12:00:00.000+00:00", demo_cases())
    write_run(store, "old-2", "2026-02-01T12:00:00.000+00:00", demo_cases())
    write_run(store, "old-release", "2026-03-01T12:00:00.000+00:00", demo_cases(), branch="release")
    write_run(store, "new", "2026-11-20T12:00:00.000+00:00", demo_cases())
    store.close()
    return path


def count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as conn:
        value = int(conn.execute(sql).fetchone()[0])
    conn.close()
    return value


def runs(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        found = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY started_at")]
    conn.close()
    return found


def test_prune_removes_old_runs_and_everything_of_theirs(store_path: Path) -> None:
    trials_per_run = count(store_path, "SELECT COUNT(*) FROM trials WHERE run_id = 'new'")
    plan = prune(store_path, AGE, now=NOW)
    assert plan.runs == ["old-1", "old-2", "old-release"] and plan.kept_baselines == []
    assert runs(store_path) == ["new"]
    assert plan.rows["trials"] == 3 * trials_per_run
    for table in ("trials", "verdicts", "series_points", "run_items"):
        assert count(store_path, f"SELECT COUNT(*) FROM {table} WHERE run_id != 'new'") == 0, table
    assert count(store_path, "SELECT COUNT(*) FROM scores WHERE trial_id NOT IN (SELECT id FROM trials)") == 0
    assert count(store_path, "SELECT COUNT(*) FROM goldensets") == 2  # still used by the kept run


def test_keep_baselines_keeps_the_latest_run_of_each_branch(store_path: Path) -> None:
    with sqlite3.connect(store_path) as conn:
        assert baseline_runs(conn) == {"new", "old-release"}
        conn.execute("UPDATE verdicts SET baseline_run = 'old-1' WHERE run_id = 'new'")
    conn.close()
    plan = prune(store_path, AGE, keep_baselines=True, now=NOW)
    assert plan.runs == ["old-2"] and plan.kept_baselines == ["old-1", "old-release"]
    assert runs(store_path) == ["old-1", "old-release", "new"]


def test_outputs_only_keeps_verdicts_and_series(store_path: Path) -> None:
    verdicts = count(store_path, "SELECT COUNT(*) FROM verdicts")
    points = count(store_path, "SELECT COUNT(*) FROM series_points")
    prune(store_path, AGE, outputs_only=True, now=NOW)
    assert runs(store_path) == ["old-1", "old-2", "old-release", "new"]
    assert count(store_path, "SELECT COUNT(*) FROM verdicts") == verdicts
    assert count(store_path, "SELECT COUNT(*) FROM series_points") == points
    assert count(store_path, "SELECT COUNT(*) FROM trials WHERE run_id != 'new' AND output IS NOT NULL") == 0
    assert count(store_path, "SELECT COUNT(*) FROM trials WHERE run_id = 'new' AND output IS NOT NULL") > 0


def test_dry_run_changes_nothing_and_tells_the_same(store_path: Path, tmp_path: Path) -> None:
    before = digest(store_path)
    planned = prune(store_path, AGE, dry_run=True, now=NOW)
    assert digest(store_path) == before
    done = prune(store_path, AGE, now=NOW)
    assert (planned.runs, planned.rows) == (done.runs, done.rows)


def test_running_runs_are_never_pruned(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store.db")
    write_run(store, "live", "2026-01-01T12:00:00.000+00:00", demo_cases(), status="running")
    store.close()
    assert prune(tmp_path / "store.db", AGE, now=NOW).runs == []


@pytest.mark.parametrize("text", ["6m", "180", "0d", "-3d", "1.5w", "d"])
def test_bad_ages_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_age(text)
    assert caught.value.where == "--older-than" and "180d" in (caught.value.fix or "")


def test_ages() -> None:
    assert parse_age("26w") == timedelta(weeks=26) and parse_age(" 90d ") == timedelta(days=90)
