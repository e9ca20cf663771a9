"""The store's schema on PostgreSQL (``goldband.store.postgres``) is SQLite's, table by table, after all migrations.

A new SQLite migration without its PostgreSQL twin (same name, same tables, columns, keys and indexes) fails here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from goldband.errors import StoreError
from goldband.store import open_store, postgres, schema

PG_TYPES = {"INTEGER": "bigint", "FLOAT": "double precision", "REAL": "double precision", "TEXT": "text",
            "BLOB": "bytea"}
BOOKKEEPING = ("_sqlite_migrations", postgres.MIGRATIONS_TABLE)
Shape = dict[str, dict[str, Any]]


def sqlite_shape(path: Path) -> Shape:
    """Per table: columns (name, PostgreSQL type, NOT NULL outside the key), key, identity, indexes, foreign keys."""
    conn = sqlite3.connect(path)
    shape: Shape = {}
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
              if r[0] not in BOOKKEEPING]
    for table in tables:
        info = conn.execute(f"PRAGMA table_info('{table}')").fetchall()
        key = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        indexes = {(r[1], bool(r[2]), tuple(c[2] for c in conn.execute(f"PRAGMA index_info('{r[1]}')")))
                   for r in conn.execute(f"PRAGMA index_list('{table}')") if r[3] == "c"}
        shape[table] = {
            "columns": [(r[1], PG_TYPES[r[2]], bool(r[3]) and r[1] not in key) for r in info],
            "key": key,
            "identity": key == ["id"] and info[[r[1] for r in info].index("id")][2] == "INTEGER",
            "indexes": indexes,
            "foreign_keys": {(r[3], r[2], r[4]) for r in conn.execute(f"PRAGMA foreign_key_list('{table}')")},
        }
    conn.close()
    return shape


PG_INDEXES = """
SELECT t.relname, i.relname, x.indisunique, x.indisprimary, array_agg(a.attname::text ORDER BY k.ord)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE n.nspname = current_schema()
GROUP BY t.relname, i.relname, x.indisunique, x.indisprimary
"""
PG_FOREIGN_KEYS = """
SELECT t.relname, a.attname, f.relname, af.attname
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class f ON f.oid = c.confrelid
CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(col, fcol)
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col
JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = k.fcol
WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
"""


def pg_shape(conn: psycopg.Connection[tuple[Any, ...]]) -> Shape:
    shape: Shape = {table: {"columns": [], "key": [], "identity": False, "indexes": set(), "foreign_keys": set()}
                    for table in postgres.tables(conn) if table not in BOOKKEEPING}
    for table, column, kind, nullable, identity in conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, is_identity FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"):
        if table in shape:
            shape[table]["columns"].append((column, kind, nullable == "NO"))
            shape[table]["identity"] |= identity == "YES" and column == "id"
    for table, name, unique, primary, columns in conn.execute(PG_INDEXES):
        if table in shape and primary:
            shape[table]["key"] = list(columns)
        elif table in shape:
            shape[table]["indexes"].add((name, unique, tuple(columns)))
    for table, column, parent, parent_column in conn.execute(PG_FOREIGN_KEYS):
        shape[table]["foreign_keys"].add((column, parent, parent_column))
    for table in shape.values():  # a key column is NOT NULL on PostgreSQL by definition: compare the key instead
        table["columns"] = [(c, k, n and c not in table["key"]) for c, k, n in table["columns"]]
    return shape


@pytest.fixture
def migrated(postgres_url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with postgres.connect(postgres_url) as conn:
        assert postgres.migrate(postgres_url, conn) == schema.names()
        conn.commit()
        yield conn


def test_every_sqlite_migration_has_its_postgresql_twin() -> None:
    assert list(postgres.MIGRATIONS) == schema.names()


def test_both_schemas_are_equal_table_by_table(tmp_path: Path, migrated: psycopg.Connection[tuple[Any, ...]]) -> None:
    open_store(tmp_path / "store.db").close()
    want, got = sqlite_shape(tmp_path / "store.db"), pg_shape(migrated)
    assert sorted(got) == sorted(want)
    for table in want:
        assert got[table] == want[table], table


def test_migrations_are_recorded_as_on_sqlite_and_not_applied_twice(
        postgres_url: str, migrated: psycopg.Connection[tuple[Any, ...]]) -> None:
    assert postgres.applied(migrated) == schema.names()
    assert postgres.migrate(postgres_url, migrated) == []
    assert migrated.execute("SELECT COUNT(*) FROM run_summary").fetchone() == (0,)


def test_a_newer_or_foreign_database_is_refused(postgres_url: str,
                                                migrated: psycopg.Connection[tuple[Any, ...]]) -> None:
    migrated.execute(f"INSERT INTO {postgres.MIGRATIONS_TABLE} (migration_set, name, applied_at) "
                     "VALUES ('goldband', '9999_future', 'now')")
    with pytest.raises(StoreError, match=r"schema version .* is newer than this goldband"):
        postgres.check_schema(postgres_url, migrated)
    migrated.rollback()
    migrated.execute(f"DROP TABLE {postgres.MIGRATIONS_TABLE}")
    with pytest.raises(StoreError, match="not a goldband store: the database has other tables"):
        postgres.check_schema(postgres_url, migrated)
    migrated.rollback()


def test_a_password_in_the_url_is_refused_and_masked() -> None:
    with pytest.raises(StoreError) as caught:
        postgres.connect("postgresql://ci:hunter2@127.0.0.1:5432/goldband")
    assert "hunter2" not in str(caught.value)
    assert "postgresql://ci:***@127.0.0.1:5432/goldband" in str(caught.value)
    assert "PGPASSWORD" in str(caught.value)
