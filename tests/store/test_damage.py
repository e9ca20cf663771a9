"""A store damaged past its header (issue 17): found by SQLite's quick check, refused before any write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from damagekit import damage_store, digest
from goldband.errors import StoreError
from goldband.store import open_store, schema
from goldband.store.connection import damage, is_damaged
from storefixtures import demo_store


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """A real store (three runs) with 4 KB of random bytes over the middle page of its trials."""
    path = tmp_path / "store.db"
    demo_store(path, runs=3).close()
    with open_store(path) as store:
        assert damage(store.conn) == [] and damage(store.conn, full=True) == []
    assert damage_store(path) > 1
    return path


def test_damage_past_the_header_opens_but_the_quick_check_finds_it(damaged: Path) -> None:
    with open_store(damaged, create=False) as store:  # header and schema read: opening alone does not see it
        assert store.run("20261101-120000-0001") is not None
        found = damage(store.conn)
        assert found and found != ["ok"]
        assert damage(store.conn, full=True)


def test_a_run_open_refuses_it_before_writing(damaged: Path) -> None:
    before = digest(damaged)
    with pytest.raises(StoreError) as info:
        open_store(damaged, check=True)
    assert is_damaged(info.value)
    text = str(info.value)
    assert "the store is damaged or not a goldband store: SQLite's quick check found:" in text
    assert f"mv {damaged} {damaged}.bad" in text and "*** in database" not in text
    assert digest(damaged) == before


def test_a_damaged_store_is_never_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    demo_store(path, runs=2).close()
    db = Database(sqlite3.connect(path, isolation_level=None), execute_plugins=False)
    db.conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [schema.names()[-1]])  # one migration behind
    db.conn.execute(f"PRAGMA user_version = {len(schema.names()) - 1}")
    db.close()
    damage_store(path)
    before = digest(path)
    with pytest.raises(StoreError, match="SQLite's quick check found"):
        open_store(path)  # a reader's open: it would migrate, so it checks first
    assert digest(path) == before


def test_a_sound_store_passes_and_other_errors_are_not_damage(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db", check=True) as store:
        assert damage(store.conn) == []
    assert not is_damaged(StoreError("the store is locked by another process (waited 30 s)"))


def test_the_helper_damages_the_files_middle_page_too(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    demo_store(path, runs=3).close()
    pages = path.stat().st_size // 4096
    assert damage_store(path, btree=None, seed=3) == 2 + (pages - 1) // 2
