"""``goldband store copy``: SQLite -> PostgreSQL -> SQLite gives the same content; every refusal writes nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlite_utils import Database

from damagekit import digest
from goldband.errors import StoreError
from goldband.store import DriftEvent, SeriesPoint, open_store, postgres, schema
from goldband.store.copy import copy_store, layout
from pgkit import PostgresServer, free_port
from storefixtures import CaseSpec, demo_cases, write_run


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A real store: three runs, a unicode output, series with labels, a drift event, a judge cache entry."""
    path = tmp_path / "a.db"
    with open_store(path) as store:
        for i in range(3):
            write_run(store, f"2026110{i + 1}-120000-000{i + 1}", f"2026-11-0{i + 1}T12:00:00.000+00:00",
                      demo_cases())
        write_run(store, "20261104-120000-0004", "2026-11-04T12:00:00.000+00:00",
                  [CaseSpec("ünïcode", "pf", "FAIL", output="Réponse ✓ 30 days — 日本 \"quoted\"\ttab\nline")])
        store.append_series([SeriesPoint("classic-ml", "churn", "accuracy", 0.1 + 0.2, labels={"seg": "eu"})])
        store.record_drift_event(DriftEvent("psi", "classic-ml", "churn", "age", 0.31, labels={"seg": "eu"},
                                            p_value=1e-12, threshold=0.2))
        store.judge_cache_put("k1", {"score": 0.75, "reason": "ok"})
    return path


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table's rows, in key order, read straight from the file."""
    conn = sqlite3.connect(path)
    try:
        return {t.name: conn.execute(f'SELECT * FROM "{t.name}" ORDER BY {", ".join(t.key)}').fetchall()
                for t in layout()}
    finally:
        conn.close()


def pg_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        present = postgres.tables(conn)
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"'.encode()).fetchone()[0]  # type: ignore[index]
                for t in present}


def test_sqlite_to_postgresql_and_back_keeps_every_row(store_path: Path, postgres_url: str, tmp_path: Path) -> None:
    there = copy_store(str(store_path), postgres_url, batch=7)  # small batches: several per table
    back = copy_store(postgres_url, str(tmp_path / "b.db"))
    assert [(t.name, t.rows, t.digest) for t in there.tables] == [(t.name, t.rows, t.digest) for t in back.tables]
    assert there.rows > 300 and {t.name for t in there.tables if t.rows} >= {"trials", "scores", "drift_events"}
    assert rows(tmp_path / "b.db") == rows(store_path)
    with open_store(tmp_path / "b.db") as copied, open_store(store_path) as original:
        assert copied.migrations == original.migrations
        assert copied.latest_run() == original.latest_run()


def test_identities_continue_after_the_copied_ids(store_path: Path, postgres_url: str) -> None:
    copy_store(str(store_path), postgres_url)
    with psycopg.connect(postgres_url) as conn:
        highest = conn.execute("SELECT MAX(id) FROM series_points").fetchone()
        new = conn.execute("INSERT INTO series_points (source, model, metric, labels_key, time) "
                           "VALUES ('s', 'm', 'x', '', 't') RETURNING id").fetchone()
        assert highest is not None and new is not None and new[0] == highest[0] + 1
        conn.rollback()


def test_a_store_with_rows_is_refused_and_left_as_it_was(store_path: Path, postgres_url: str,
                                                          tmp_path: Path) -> None:
    copy_store(str(store_path), postgres_url)
    before = pg_counts(postgres_url)
    with pytest.raises(StoreError, match="the destination store is not empty"):
        copy_store(str(store_path), postgres_url)
    assert pg_counts(postgres_url) == before
    other = tmp_path / "other.db"
    open_store(other).close()
    copy_store(str(store_path), str(other))  # a goldband store without rows is a fine destination
    was = digest(other)
    with pytest.raises(StoreError, match="not empty"):
        copy_store(postgres_url, str(other))
    assert digest(other) == was


@pytest.fixture
def no_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.setenv("PGPASSWORD", "wrong-password")
    yield


def test_wrong_credentials_are_refused_with_the_fix(store_path: Path, postgres: PostgresServer, postgres_url: str,
                                                     no_password: None, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="refused the credentials") as caught:
        copy_store(postgres_url, str(tmp_path / "b.db"))
    assert "PGPASSWORD" in str(caught.value) and postgres.password not in str(caught.value)
    assert not (tmp_path / "b.db").exists()


def test_an_unreachable_server_is_refused_and_nothing_is_created(store_path: Path, tmp_path: Path) -> None:
    url = f"postgresql://goldband@127.0.0.1:{free_port()}/goldband"
    was = digest(store_path)
    with pytest.raises(StoreError, match="cannot be reached") as caught:
        copy_store(str(store_path), url)
    assert url in str(caught.value) and "start the server" in str(caught.value)
    assert digest(store_path) == was
    with pytest.raises(StoreError, match="cannot be reached"):
        copy_store(url, str(tmp_path / "b.db"))
    assert not (tmp_path / "b.db").exists()


def test_a_password_in_the_url_is_refused_masked(store_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        copy_store(str(store_path), "postgresql://goldband:s3cr3t@127.0.0.1:5432/goldband")
    assert "s3cr3t" not in str(caught.value) and "goldband:***@" in str(caught.value)


def test_a_newer_destination_schema_is_refused(store_path: Path, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        postgres.migrate(postgres_url, conn)
        conn.execute(f"INSERT INTO {postgres.MIGRATIONS_TABLE} (migration_set, name, applied_at) "
                     "VALUES ('goldband', '9999_future', 'now')")
    before = pg_counts(postgres_url)
    with pytest.raises(StoreError, match="newer than this goldband"):
        copy_store(str(store_path), postgres_url)
    assert pg_counts(postgres_url) == before


def test_a_newer_sqlite_source_is_refused(store_path: Path, tmp_path: Path) -> None:
    with sqlite3.connect(store_path) as conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('goldband', '9999_future', 'now')")
    with pytest.raises(StoreError, match="newer than this goldband"):
        copy_store(str(store_path), str(tmp_path / "b.db"))
    assert not (tmp_path / "b.db").exists()


def test_a_foreign_database_is_refused_on_either_side(store_path: Path, postgres_url: str, tmp_path: Path) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE customers (id BIGINT PRIMARY KEY)")
    with pytest.raises(StoreError, match="not a goldband store"):
        copy_store(str(store_path), postgres_url)
    assert pg_counts(postgres_url) == {"customers": 0}
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    was = digest(foreign)
    with pytest.raises(StoreError, match="not a goldband store"):
        copy_store(str(foreign), str(tmp_path / "b.db"))
    with pytest.raises(StoreError, match="not a goldband store"):
        copy_store(str(store_path), str(foreign))
    assert digest(foreign) == was and not (tmp_path / "b.db").exists()


def test_the_command_copies_and_prints_counts_and_hashes(store_path: Path, postgres_url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "goldband", "store", "copy", str(store_path), postgres_url],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"copied {store_path} to {postgres_url}: ") and lines[0].endswith("rows/s)")
    trials = next(line.split() for line in lines if line.startswith("trials "))
    assert trials[1] == str(len(rows(store_path)["trials"])) and len(trials[2]) == 16
    assert lines[-1].startswith("verified:")
    again = subprocess.run([sys.executable, "-m", "goldband", "store", "copy", str(store_path), postgres_url],
                           capture_output=True, text=True, env=os.environ.copy(), timeout=60)
    assert again.returncode == 2 and "the destination store is not empty" in again.stderr


def test_a_failure_half_way_leaves_the_destination_empty(store_path: Path, postgres_url: str) -> None:
    with sqlite3.connect(store_path) as conn:  # PostgreSQL text cannot hold NUL: the trials table fails
        conn.execute("UPDATE trials SET output = 'a' || char(0) || 'b' WHERE id = (SELECT MAX(id) FROM trials)")
    with pytest.raises(StoreError, match=r"cannot write table trials of the PostgreSQL store.*NUL") as caught:
        copy_store(str(store_path), postgres_url)
    assert "nothing was committed" in str(caught.value)
    assert pg_counts(postgres_url) == {}


def test_an_older_source_or_a_missing_database_is_refused(store_path: Path, postgres: PostgresServer,
                                                           postgres_url: str, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    db = Database(sqlite3.connect(old, isolation_level=None), execute_plugins=False)
    schema.MIGRATIONS.apply(db, stop_before=schema.names()[-1])
    db.close()
    with pytest.raises(StoreError, match=f"goldband store migrate --store {old}"):
        copy_store(str(old), postgres_url)
    assert pg_counts(postgres_url) == {}
    with pytest.raises(StoreError, match="no such database") as caught:
        copy_store(str(store_path), postgres.url("absent"))
    assert "createdb" in str(caught.value)
    with pytest.raises(StoreError, match="the same store"):
        copy_store(str(store_path), str(store_path))
