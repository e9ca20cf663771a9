"""A PostgreSQL connection that runs the store's own statements: the one query layer of both backends.

The store's statements are written once, in the SQL both SQLite and PostgreSQL accept (``ON CONFLICT``
instead of ``INSERT OR IGNORE``/``OR REPLACE``, ``RETURNING id`` instead of ``lastrowid``, ``COALESCE(SUM())``
instead of ``total()``, ``?`` placeholders). ``PgConnection`` gives psycopg 3 the shape of the ``sqlite3``
connection the store's functions take (``execute``, ``executemany``, cursors with ``fetchone``, ``fetchall``,
``rowcount``), so every query, writer, monitor, registry and alert function serves both backends unchanged.
What differs is kept here: placeholders (``?`` becomes ``%s``, a literal ``%`` is doubled), ``BEGIN
IMMEDIATE`` (PostgreSQL's row locks and ``ON CONFLICT`` do its work), and numbers: ``SUM``/``AVG`` come back
as ``int``/``float`` as SQLite gives them, never ``Decimal``. Statements that only make sense for one file
(``PRAGMA``, ``sqlite_master``) stay in the SQLite-only code paths and are refused here by PostgreSQL itself.

Why not SQLAlchemy Core: the store's ~300 statements are plain SQL that already run on both backends with
these four rewrites; a second expression language over them would add an import (and a layer) to the hot
write path of every run without serving either database better.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")  # quoted text first: a ? or % in it stays


@functools.lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """``sql`` with PostgreSQL's placeholders; the store's statements are constants, so each is rewritten once.

    >>> to_postgres("SELECT * FROM runs WHERE id = ? AND command LIKE '%?%'")
    "SELECT * FROM runs WHERE id = %s AND command LIKE '%%?%%'"
    >>> to_postgres("BEGIN IMMEDIATE")
    'BEGIN'
    >>> to_postgres("INSERT OR IGNORE INTO prompts (hash, text) VALUES (?, ?) RETURNING id")
    'INSERT INTO prompts (hash, text) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING id'
    """
    if sql.strip().upper() == "BEGIN IMMEDIATE":
        return "BEGIN"
    if sql.startswith("INSERT OR IGNORE INTO "):  # SQLite's spelling of ON CONFLICT DO NOTHING (any constraint)
        head, returning, tail = sql.removeprefix("INSERT OR IGNORE ").partition(" RETURNING ")
        sql = f"INSERT {head} ON CONFLICT DO NOTHING{returning}{tail}"

    def swap(match: re.Match[str]) -> str:
        token = match[0]
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return token.replace("%", "%%")

    return _TOKENS.sub(swap, sql)


class PgCursor:
    """The part of ``sqlite3.Cursor`` the store uses, over a psycopg cursor."""

    def __init__(self, cursor: psycopg.Cursor[tuple[Any, ...]]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> None:
        """PostgreSQL has none; the store's inserts say ``RETURNING id`` instead."""
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall() if self._cursor.description is not None else []

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        return self._cursor.fetchmany(size) if self._cursor.description is not None else []

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        if self._cursor.description is not None:
            yield from self._cursor

    def close(self) -> None:
        self._cursor.close()


class PgConnection:
    """A psycopg 3 connection in autocommit mode, driven like goldband's ``sqlite3`` connections: the store
    opens its own transactions with ``BEGIN``/``COMMIT`` statements (``StoreBase.transaction``)."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        conn.autocommit = True
        _load_numbers_as_sqlite_does(conn)
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> PgCursor:
        cursor = self.raw.cursor()
        cursor.execute(to_postgres(sql).encode(), params or None)
        return PgCursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        cursor = self.raw.cursor()
        cursor.executemany(to_postgres(sql).encode(), list(rows))
        return PgCursor(cursor)

    @property
    def in_transaction(self) -> bool:
        import psycopg

        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def _load_numbers_as_sqlite_does(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """``numeric`` (what ``SUM`` of integers and ``AVG`` return) as ``int`` when whole, else ``float``."""
    from psycopg.adapt import Loader

    class NumericLoader(Loader):
        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            return int(text) if text.lstrip("-").isdigit() else float(text)

    conn.adapters.register_loader("numeric", NumericLoader)
