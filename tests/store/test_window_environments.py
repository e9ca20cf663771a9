"""Migration 0014: ``monitor_windows`` keyed by environment too ('' = the default environment); a store checked
before it reads its windows as the default environment's, and two environments' windows of one model version
are two rows, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldband.errors import StoreError
from goldband.store import open_store, schema
from storefixtures import store_before

INSERT = ('INSERT INTO monitor_windows (model, environment, version, "window", rows, input_drifted, '
          "output_drifted) VALUES (?, ?, ?, ?, ?, 0, 0)")


def test_windows_checked_before_0014_read_as_the_default_environment(tmp_path: Path) -> None:
    """SQLite only: a store file of schema 13 (the PostgreSQL twin is compared by test_pg_schema)."""
    path = tmp_path / "old.db"
    db = store_before(path, "0014_monitor_environments")
    db.conn.execute('INSERT INTO monitor_windows (model, version, "window", rows, input_drifted, output_drifted) '
                    "VALUES ('churn', '1', 1, 500, 0, 1)")
    db.conn.close()
    with open_store(path) as migrated:
        assert migrated.schema_version == len(schema.names())
        rows = migrated.conn.execute('SELECT model, environment, version, "window", rows, output_drifted '
                                     "FROM monitor_windows").fetchall()
        assert [tuple(r) for r in rows] == [("churn", "", "1", 1, 500, 1)]
        assert migrated.db.table("monitor_windows").pks == ["model", "environment", "version", "window"]


def test_two_environments_keep_their_own_window_one(store_at: str) -> None:
    with open_store(store_at) as store:
        with store.transaction() as conn:
            conn.execute(INSERT, ["churn", "", "1", 1, 500])
            conn.execute(INSERT, ["churn", "production", "1", 1, 300])
        rows = store.conn.execute('SELECT environment, rows FROM monitor_windows WHERE model = ? AND "window" = 1 '
                                  "ORDER BY environment", ["churn"]).fetchall()
        assert [tuple(r) for r in rows] == [("", 500), ("production", 300)]


def test_one_environment_cannot_hold_a_window_twice(store_at: str) -> None:
    with open_store(store_at) as store:
        with store.transaction() as conn:
            conn.execute(INSERT, ["churn", "staging", "1", 1, 500])
        with pytest.raises(StoreError, match=r"(?i)unique|duplicate"), store.transaction() as conn:
            conn.execute(INSERT, ["churn", "staging", "1", 1, 400])
