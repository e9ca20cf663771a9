"""A PostgreSQL connection that runs the store's own statements: the one query layer of both backends.

The store's statements are written once, in the SQL both SQLite and PostgreSQL accept (``ON CONFLICT``
instead of ``INSERT OR IGNORE``/``OR REPLACE``, ``RETURNING id`` instead of ``lastrowid``, ``COALESCE(SUM())``
instead of ``total()``, ``?`` placeholders). ``PgConnection`` gives psycopg 3 the shape of the ``sqlite3``
connection the store's functions take (``execute``, ``executemany``, cursors with ``fetchone``, ``fetchall``,
``rowcount``), so every query, writer, monitor, registry and alert function serves both backends unchanged.
What differs is kept here: placeholders (``?`` becomes ``%s``, a literal ``%`` is doubled), ``BEGIN
IMMEDIATE`` (PostgreSQL's row locks and ``ON CONFLICT`` do its work), ``INSERT OR IGNORE`` (SQLite's spelling of
``ON CONFLICT DO NOTHING``), and numbers: ``SUM``/``AVG`` come back as ``int``/``float`` as SQLite gives them,
never ``Decimal``. The few statements that must differ (ids from a sequence rather than ``MAX(id) + 1`` under
SQLite's file lock, JSON members) ask ``is_postgres(conn)``; statements that only make sense for one file
(``PRAGMA``, ``sqlite_master``) stay in the SQLite-only code paths.

Why not SQLAlchemy Core: the store's ~300 statements are plain SQL that already run on both backends with
these four rewrites; a second expression language over them would add an import (and a layer) to the hot
write path of every run without serving either database better.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

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


COPY_MIN_ROWS = 8  # fewer rows: the pipelined INSERTs are one round trip, COPY's handshake is two
STAGE_MIN_ROWS = 64  # an INSERT OR IGNORE through a staging table costs four round trips
_PLAIN_INSERT = re.compile(r'INSERT (OR IGNORE )?INTO ("?\w+"?) \(([\w", ]+)\) VALUES \((\?(?:, ?\?)*)\)\s*')
_COPY_ANYWHERE = frozenset({str, int, type(None)})  # exact types: a bool is not an int here
_COPY_AS_DOUBLE = _COPY_ANYWHERE | {float}


class CopyPlan(NamedTuple):
    """How ``executemany`` writes an ``INSERT``'s rows by ``COPY``: straight into the table, or (``INSERT OR
    IGNORE``) into a temporary staging table first, then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` in
    the rows' order (``COPY`` has no ``ON CONFLICT``)."""

    table: str  # as the statement spells it (``to_regclass`` reads it so)
    columns: tuple[str, ...]
    statement: bytes  # the COPY
    stage: bytes | None = None  # creates the staging table (``INSERT OR IGNORE`` only)
    move: bytes | None = None  # moves the staged rows into the table, emptying the staging table


@functools.lru_cache(maxsize=256)
def copy_plan(sql: str) -> CopyPlan | None:
    """The ``COPY`` that writes what ``sql`` writes row by row, if ``sql`` is an ``INSERT`` (or ``INSERT OR
    IGNORE``) of placeholders only (no expression, no ``RETURNING``, no other ``ON CONFLICT``).

    >>> copy_plan("INSERT INTO scores (trial_id, idx) VALUES (?, ?)")[:3]
    ('scores', ('trial_id', 'idx'), b'COPY scores (trial_id, idx) FROM STDIN')
    >>> copy_plan("INSERT OR IGNORE INTO trials (id) VALUES (?)").statement
    b'COPY "goldband_stage_trials" (id) FROM STDIN'
    >>> copy_plan("INSERT INTO series_points (run_id, environment) VALUES (?, COALESCE(?, 'x'))") is None
    True
    """
    found = _PLAIN_INSERT.fullmatch(sql)
    if found is None:
        return None
    ignore, table, names, marks = found.groups()
    columns = tuple(_identifier(name) for name in names.split(","))
    if len(columns) != marks.count("?") or not all(columns):
        return None
    if not ignore:
        return CopyPlan(table, columns, f"COPY {table} ({names}) FROM STDIN".encode())
    stage = f'"goldband_stage_{_identifier(table)}"'
    return CopyPlan(table, columns, f"COPY {stage} ({names}) FROM STDIN".encode(),
                    stage=f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS INCLUDING "
                          "IDENTITY, goldband_row BIGINT GENERATED "  # an id column the INSERT leaves out: its own
                          "ALWAYS AS IDENTITY) ON COMMIT DELETE ROWS".encode(),
                    move=f"WITH staged AS (DELETE FROM {stage} RETURNING *) INSERT INTO {table} ({names}) SELECT "
                         f"{names} FROM staged ORDER BY goldband_row ON CONFLICT DO NOTHING".encode())


def _identifier(name: str) -> str:
    """A column or table name as the catalog spells it: unquoted names fold to lower case."""
    name = name.strip()
    return name[1:-1] if len(name) > 1 and name[0] == name[-1] == '"' else name.lower()


def is_postgres(conn: object) -> bool:
    """Whether ``conn`` (a store's connection) is a PostgreSQL one: for the few statements that differ."""
    return isinstance(conn, PgConnection)


class PgCursor:
    """The part of ``sqlite3.Cursor`` the store uses, over a psycopg cursor."""

    def __init__(self, cursor: psycopg.Cursor[tuple[Any, ...]], rowcount: int | None = None) -> None:
        self._cursor = cursor
        self._rowcount = rowcount  # what a statement never sent (``executemany`` of no rows) counts

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount if self._rowcount is None else self._rowcount

    @property
    def description(self) -> Any:
        return self._cursor.description

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall() if self._cursor.description is not None else []

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
        self._types: dict[str, dict[str, str]] = {}  # table -> column -> type, for COPY (``_copyable``)

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> PgCursor:
        cursor = self.raw.cursor()
        cursor.execute(to_postgres(sql).encode(), params or None)
        return PgCursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        """``sql`` once per row. An ``INSERT`` (or ``INSERT OR IGNORE``, inside a transaction) of many rows whose
        values PostgreSQL reads the same from text goes by ``COPY`` (``copy_plan``): one stream instead of a
        statement per row, 2-4x the rows/s (docs/bench-store-pg.md); the same rows are written, with the same
        errors and ``rowcount``."""
        batch = list(rows)
        cursor = self.raw.cursor()
        if not batch:  # psycopg would still wait for the server's answer to an empty pipeline
            return PgCursor(cursor, rowcount=0)
        plan = copy_plan(sql) if len(batch) >= COPY_MIN_ROWS else None
        if plan is not None and plan.move is not None and not (len(batch) >= STAGE_MIN_ROWS
                                                               and self._in_open_transaction):
            plan = None  # staged rows live until the commit: outside a transaction they would be gone at once
        if plan is None or not self._copyable(plan, batch):
            cursor.executemany(to_postgres(sql).encode(), batch)
            return PgCursor(cursor)
        if plan.stage is not None:
            cursor.execute(plan.stage)
        with cursor.copy(plan.statement) as stream:
            for row in batch:
                stream.write_row(row)
        if plan.move is not None:
            cursor.execute(plan.move)
        return PgCursor(cursor)

    @property
    def _in_open_transaction(self) -> bool:
        import psycopg

        return self.raw.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS

    def _copyable(self, plan: CopyPlan, rows: list[Sequence[Any]]) -> bool:
        """Whether ``COPY`` reads every value as the ``INSERT`` would: text, whole numbers and None go into any
        column as the parameter would (PostgreSQL parses a text parameter with the column's own input
        function, as ``COPY`` does); a float only into ``double precision`` (an ``INSERT`` would round it into
        an integer column, where ``COPY`` refuses ``1.5``); anything else (bool, bytes, ...) keeps the
        ``INSERT``."""
        if any(len(row) != len(plan.columns) for row in rows):
            return False  # the INSERT says what is wrong
        types = self._column_types(plan.table)
        for column, values in zip(plan.columns, zip(*rows, strict=True), strict=True):
            allowed = _COPY_AS_DOUBLE if types.get(column) == "double precision" else _COPY_ANYWHERE
            if not set(map(type, values)) <= allowed:
                return False
        return bool(types)

    def _column_types(self, table: str) -> dict[str, str]:
        """``table``'s column names and types, read from the catalog once per connection (the store's tables
        keep their columns' types; migrations only add tables and columns)."""
        if table not in self._types:
            found = self.raw.execute("SELECT attname, format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid "
                                     "= to_regclass(%s) AND attnum > 0 AND NOT attisdropped", [table]).fetchall()
            if not found:
                return {}  # no such table (yet): the INSERT says so
            self._types[table] = dict(found)
        return self._types[table]

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
