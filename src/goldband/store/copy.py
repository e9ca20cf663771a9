"""``goldband store copy SRC DST``: a whole store moved between backends (SQLite file <-> PostgreSQL), verified.

Each of SRC and DST is an SQLite path or a ``postgresql://user@host:port/db`` URL (the password comes from
PGPASSWORD or ~/.pgpass, never from the URL). The copy keeps every id, goes table by table in foreign-key order,
in batches (PostgreSQL: ``COPY ... FROM STDIN``; SQLite: ``executemany``), inside ONE transaction on the
destination: the schema is created, the rows written, identity sequences set past the highest id, and then every
table is read back and checked (row count and a content hash over the rows in one canonical order, the same on
both backends) before the commit. Any failure rolls all of it back; a destination file this copy created is
removed again.

Refused before anything is written, each with its own message (passwords masked): a source that is not a
goldband store or not at this goldband's schema version, a destination that is not empty (simplest honest rule:
a copy never merges; ``goldband store merge`` merges SQLite shards), a foreign or newer destination database, an
unreachable server, wrong credentials.

The content hash of a table: sha256 over its column names and then each row as a JSON array (orjson: ints stay
ints, floats round-trip exactly), rows ordered by the primary key in byte order (SQLite's BINARY collation,
PostgreSQL's ``COLLATE "C"``), NULLs first. Equal hashes on both sides mean equal logical content.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goldband.errors import StoreError
from goldband.store import connection, postgres, schema

if TYPE_CHECKING:
    import psycopg

BATCH = 5000
Row = tuple[Any, ...]
Rows = Callable[["Table"], Iterator[Row]]  # a side's rows of one table, in canonical order


@dataclass(frozen=True)
class Table:
    """One table of the current schema: columns (with their SQLite types), primary key, identity column."""

    name: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    key: tuple[str, ...]

    @property
    def identity(self) -> bool:
        """Whether ``id`` is an autoincrement id (a PostgreSQL identity whose sequence must follow the copy)."""
        return self.key == ("id",) and self.types[self.columns.index("id")] == "INTEGER"

    def column_list(self) -> str:
        return ", ".join(f'"{c}"' for c in self.columns)


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int
    digest: str  # sha256 hex of the table's canonical content


@dataclass
class CopyReport:
    """What ``copy_store`` copied and verified; ``src``/``dst`` as shown to people (passwords masked)."""

    src: str
    dst: str
    tables: list[TableCopy] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


# --------------------------------------------------------------------------- the schema's tables


@functools.cache
def layout() -> tuple[Table, ...]:
    """Every data table of the current schema (migrations applied to an in-memory SQLite), parents first."""
    import sqlite_utils

    db = sqlite_utils.Database(memory=True)
    schema.migrations().apply(db)
    names = [r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")
             if not r[0].startswith(("_", "sqlite_"))]
    found = {name: _table(db.conn, name) for name in names}
    parents = {name: {r[2] for r in db.conn.execute(f"PRAGMA foreign_key_list('{name}')")} - {name}
               for name in names}
    return tuple(found[name] for name in dependency_order(names, parents))


def _table(conn: sqlite3.Connection, name: str) -> Table:
    info = conn.execute(f"PRAGMA table_info('{name}')").fetchall()
    key = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
    return Table(name, tuple(r[1] for r in info), tuple(str(r[2]).upper() for r in info), key)


def dependency_order(names: list[str], parents: dict[str, set[str]]) -> list[str]:
    """``names`` with every table after the tables it references (stable otherwise).

    >>> dependency_order(["b", "a", "c"], {"b": {"a"}, "a": set(), "c": {"b"}})
    ['a', 'b', 'c']
    """
    done: list[str] = []
    while len(done) < len(names):
        ready = [n for n in names if n not in done and parents.get(n, set()) <= set(done)]
        if not ready:
            raise AssertionError(f"foreign keys form a cycle among {sorted(set(names) - set(done))}")
        done.append(ready[0])
    return done


# --------------------------------------------------------------------------- content hashes


def digest(table: Table, rows: Iterable[Row]) -> tuple[int, str]:
    """(row count, sha256 hex) of ``rows`` (already in canonical order)."""
    hashing = Hashing(table)
    for _ in hashing(iter(rows)):
        pass
    return hashing.count, hashing.h.hexdigest()


def _bytes(value: object) -> str:
    if isinstance(value, bytes | memoryview):
        return "\x00bytes:" + bytes(value).hex()
    raise TypeError(f"cannot hash a {type(value).__name__}")


def order_by(table: Table, dialect: str) -> str:
    """The canonical order: primary key, byte order for text, NULLs first (SQLite's default)."""
    if dialect == "sqlite":
        return ", ".join(f'"{c}"' for c in table.key)
    text = {c for c, t in zip(table.columns, table.types, strict=True) if t == "TEXT"}
    return ", ".join(f'"{c}"' + (' COLLATE "C"' if c in text else "") + " NULLS FIRST" for c in table.key)


class Hashing:
    """Passes rows through while hashing them: the source's hash is taken on the rows actually copied."""

    def __init__(self, table: Table) -> None:
        import orjson

        self.dumps = orjson.dumps
        self.h = hashlib.sha256(orjson.dumps(list(table.columns)) + b"\n")
        self.count = 0

    def __call__(self, rows: Iterator[Row]) -> Iterator[Row]:
        for row in rows:
            self.h.update(self.dumps(list(row), default=_bytes) + b"\n")
            self.count += 1
            yield row


def batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --------------------------------------------------------------------------- SQLite


def sqlite_rows(conn: sqlite3.Connection, where: str) -> Rows:
    def rows(table: Table) -> Iterator[Row]:
        with connection.translate(Path(where), "read"):
            sql = f'SELECT {table.column_list()} FROM "{table.name}" ORDER BY {order_by(table, "sqlite")}'
            cursor = conn.execute(sql)
            while chunk := cursor.fetchmany(BATCH):
                yield from chunk

    return rows


@contextlib.contextmanager
def sqlite_source(path: Path) -> Iterator[Rows]:
    """An SQLite store at this goldband's schema version, read in one snapshot (a read transaction)."""
    conn = connection.connect(path, create=False)
    try:
        with connection.translate(path, "read"):
            pending = connection.check_schema(path, conn)
            if pending:
                raise _older(str(path), pending, f"goldband store migrate --store {path}")
            conn.execute("BEGIN")
        yield sqlite_rows(conn, str(path))
    finally:
        conn.close()


def _older(where: str, pending: list[str], migrate: str) -> StoreError:
    version = len(schema.names()) - len(pending)
    if version == 0:
        return StoreError("not a goldband store (no goldband migrations recorded; nothing to copy)", where=where,
                          expected="a goldband store", fix="check the source path or URL")
    return StoreError(f"the source store's schema version {version} is older than this goldband's "
                      f"({len(schema.names())}; pending: {', '.join(pending)})", where=where,
                      expected=f"schema version {len(schema.names())}", fix=f"migrate it first: {migrate}")


class SqliteTarget:
    """An absent, empty or row-less SQLite store, written in one ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.created = not path.exists()
        self.conn = connection.connect(path, create=True)

    def begin(self) -> None:
        """Refuse a foreign, newer, damaged or non-empty store; then, under the write lock, create the schema."""
        with connection.translate(self.path, "write to"):
            connection.check_schema(self.path, self.conn)  # foreign or newer: refused before any write
            if not self.created:
                connection.check_sound(self.path, self.conn)
            connection.configure(self.path, self.conn)
            self.conn.execute("BEGIN IMMEDIATE")  # no other writer until the commit: the emptiness check holds
            _refuse_rows(str(self.path), self._counts())
            import sqlite_utils

            schema.migrations().apply(sqlite_utils.Database(self.conn, execute_plugins=False, recursive_triggers=False))
            self.conn.execute(f"PRAGMA user_version = {len(schema.names())}")

    def _counts(self) -> dict[str, int]:
        present = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {t.name: int(self.conn.execute(f'SELECT COUNT(*) FROM "{t.name}"').fetchone()[0])
                for t in layout() if t.name in present}

    def write(self, table: Table, batch: list[Row]) -> None:
        marks = ", ".join("?" for _ in table.columns)
        with connection.translate(self.path, "write to"):
            self.conn.executemany(f'INSERT INTO "{table.name}" ({table.column_list()}) VALUES ({marks})', batch)

    def finish(self) -> None:
        """Nothing to do: an ``INTEGER PRIMARY KEY`` continues after the highest id by itself."""

    def rows(self) -> Rows:
        return sqlite_rows(self.conn, str(self.path))

    def commit(self) -> None:
        with connection.translate(self.path, "write to"):
            self.conn.execute("COMMIT")

    def close(self, ok: bool) -> None:
        if not ok and self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.conn.close()
        if not ok and self.created:  # a file this copy created and did not fill: gone again
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def _refuse_rows(where: str, counts: dict[str, int]) -> None:
    full = {name: n for name, n in counts.items() if n}
    if full:
        shown = ", ".join(f"{name} {n:,}" for name, n in list(full.items())[:4])
        raise StoreError(f"the destination store is not empty ({shown} rows)", where=where,
                         expected="an absent file, an empty database, or a goldband store without rows",
                         fix="copy into a new file or an empty database (createdb NAME); to combine SQLite "
                             "stores use `goldband store merge`")


# --------------------------------------------------------------------------- PostgreSQL


def pg_rows(conn: psycopg.Connection[tuple[object, ...]], url: str, *, server_side: bool) -> Rows:
    def rows(table: Table) -> Iterator[Row]:
        sql = f'SELECT {table.column_list()} FROM "{table.name}" ORDER BY {order_by(table, "postgresql")}'
        with postgres.translate(url, "read"):
            cursor = conn.cursor(name=f"goldband_copy_{table.name}") if server_side else conn.cursor()
            with cursor:
                cursor.execute(sql.encode())
                while chunk := cursor.fetchmany(BATCH):
                    yield from chunk

    return rows


@contextlib.contextmanager
def pg_source(url: str) -> Iterator[Rows]:
    """A goldband database at this schema version, read in one REPEATABLE READ, READ ONLY snapshot."""
    import psycopg

    conn = postgres.connect(url)
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with postgres.translate(url, "read"):
            pending = postgres.check_schema(url, conn)
        if pending:
            raise _older(postgres.mask(url), pending, "bring it to this schema version with `goldband store migrate`")
        yield pg_rows(conn, url, server_side=True)
    finally:
        conn.close()


class PgTarget:
    """An empty (or goldband, row-less) PostgreSQL database, written in one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = postgres.connect(url)

    def begin(self) -> None:
        with postgres.translate(self.url, "write to"):
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (postgres.LOCK_KEY,))
            postgres.check_schema(self.url, self.conn)  # foreign or newer: refused before any write
            present = set(postgres.tables(self.conn))
            _refuse_rows(postgres.mask(self.url), {
                t.name: self._count(t.name) for t in layout() if t.name in present})
            postgres.migrate(self.url, self.conn)

    def _count(self, name: str) -> int:
        row = self.conn.execute(f'SELECT COUNT(*) FROM "{name}"'.encode()).fetchone()
        return int(row[0]) if row else 0  # type: ignore[call-overload]

    def write(self, table: Table, batch: list[Row]) -> None:
        sql = f'COPY "{table.name}" ({table.column_list()}) FROM STDIN'.encode()
        with (postgres.translate(self.url, f"write table {table.name} of"), self.conn.cursor() as cursor,
              cursor.copy(sql) as copy):
            for row in batch:
                copy.write_row(row)

    def finish(self) -> None:
        """Move each identity past the highest copied id, so the next insert does not collide."""
        with postgres.translate(self.url, "write to"):
            for table in layout():
                if table.identity:
                    self.conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), MAX(id)) "
                        f'FROM "{table.name}" HAVING MAX(id) IS NOT NULL'.encode())

    def rows(self) -> Rows:
        return pg_rows(self.conn, self.url, server_side=False)

    def commit(self) -> None:
        with postgres.translate(self.url, "commit to"):  # deferred foreign keys are checked here
            self.conn.commit()

    def close(self, ok: bool) -> None:
        if not ok:
            with contextlib.suppress(Exception):
                self.conn.rollback()
        self.conn.close()


# --------------------------------------------------------------------------- the copy


def shown(store: str) -> str:
    """How a store is named in messages: a URL with its password masked, a path as given."""
    return postgres.mask(store) if postgres.is_url(store) else store


def source(store: str) -> contextlib.AbstractContextManager[Rows]:
    if postgres.is_url(store):
        return pg_source(store)
    return sqlite_source(Path(store))


def target(store: str) -> SqliteTarget | PgTarget:
    if postgres.is_url(store):
        return PgTarget(store)
    return SqliteTarget(Path(store))


def copy_store(src: str, dst: str, *, batch: int = BATCH) -> CopyReport:
    """Copy every table of the store ``src`` into the empty store ``dst`` (see the module's docstring)."""
    for store in (src, dst):
        if postgres.is_url(store):
            postgres.check_url(store)
    if _same(src, dst):
        raise StoreError("the source and the destination are the same store", where=shown(dst),
                         fix="give another destination")
    report = CopyReport(shown(src), shown(dst))
    started = time.perf_counter()
    with source(src) as read:
        out = target(dst)
        ok = False
        try:
            out.begin()
            copied = [_copy_table(read, out, table, batch) for table in layout()]
            out.finish()
            report.tables = verify(copied, out.rows(), report.dst)
            out.commit()
            ok = True
        finally:
            out.close(ok)
    report.seconds = time.perf_counter() - started
    return report


def _same(src: str, dst: str) -> bool:
    if postgres.is_url(src) or postgres.is_url(dst):
        return src == dst
    return Path(src).resolve() == Path(dst).resolve()


def _copy_table(read: Rows, out: SqliteTarget | PgTarget, table: Table, size: int) -> TableCopy:
    hashing = Hashing(table)
    for chunk in batches(hashing(read(table)), size):
        out.write(table, chunk)
    return TableCopy(table.name, hashing.count, hashing.h.hexdigest())


def verify(copied: list[TableCopy], read_back: Rows, where: str) -> list[TableCopy]:
    """Read every table back from the destination (in its open transaction) and compare count and hash."""
    tables = {t.name: t for t in layout()}
    for want in copied:
        count, got = digest(tables[want.name], read_back(tables[want.name]))
        if (count, got) != (want.rows, want.digest):
            raise StoreError(f"table {want.name} reads back differently: {count:,} rows, sha256 {got[:16]} "
                             f"instead of {want.rows:,} rows, sha256 {want.digest[:16]}", where=where,
                             fix="nothing was committed; report this as a bug with both stores' backends")
    return copied
