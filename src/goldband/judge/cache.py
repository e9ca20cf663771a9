"""The judge cache: one judgement per (rubric, judge, input, output, sample), across runs.

Behind a two-method protocol (``get``, ``put``), with three homes (``open_cache``):

- the results store's ``judge_cache`` table, when the run records to a store;
- one SQLite file (``.goldband/cache/judge.sqlite``) when the store is off;
- a dict for ``judge: {cache: false}`` (reuse within one run only).

Both files are in WAL mode, so pytest-xdist workers and parallel runs share them
safely. Only judgements that parsed are stored: an error is retried by the next run,
never frozen into the cache.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from goldband.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS judgements (
    key TEXT PRIMARY KEY,   -- sha256 of rubric prompt hash, judge hash, input, reference, output, sample
    rubric TEXT NOT NULL,
    judge TEXT NOT NULL,    -- the judge hash
    created REAL NOT NULL,  -- unix time
    entry TEXT NOT NULL     -- JSON: the raw completion and what it was for
)
"""


class JudgeCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...
    def put(self, key: str, entry: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


class SqliteJudgeCache:
    """A key -> JSON table; opened at first use, safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(SCHEMA)
            self._conn = conn
        return self._conn

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db().execute("SELECT entry FROM judgements WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        text = json.dumps(entry, ensure_ascii=False, sort_keys=True)
        with self._lock:
            self._db().execute(
                "INSERT OR REPLACE INTO judgements (key, rubric, judge, created, entry) VALUES (?, ?, ?, ?, ?)",
                (key, str(entry.get("rubric", "")), str(entry.get("judge_hash", "")), time.time(), text))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class StoreJudgeCache:
    """The store's ``judge_cache`` table, through the session's one store (opened at first use, never
    in replay). The session owns the store: closing the cache leaves it open."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._store().judge_cache_get(key)
        return value if isinstance(value, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        self._store().judge_cache_put(key, entry)

    def close(self) -> None:
        """Nothing to release: the session closes its store."""


class MemoryJudgeCache:
    """The same protocol in a dict: for ``judge: {cache: false}`` runs (within-run reuse only)."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self._entries.get(key)

    def put(self, key: str, entry: dict[str, Any]) -> None:
        self._entries[key] = entry

    def close(self) -> None:
        self._entries.clear()


def open_cache(*, persist: bool, store: Callable[[], Store] | None, cache_dir: Path) -> JudgeCache:
    """The run's judge cache: the store when the run has one (``store`` opens it), else
    ``cache_dir/judge.sqlite``."""
    if not persist:
        return MemoryJudgeCache()
    return StoreJudgeCache(store) if store is not None else SqliteJudgeCache(cache_dir / "judge.sqlite")
