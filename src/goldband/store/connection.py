"""Opening a store safely: path checks, pragmas, schema version, migrations, clear errors.

A store file is never overwritten or deleted by goldband. Before anything is
written we check that the file is an SQLite database (the 16-byte header),
that its tables read, that it is a goldband store (or empty), and that its
schema is not newer than this goldband knows. Every failure is a
``StoreError`` saying where, what, and the fix.

Concurrency: WAL journal (readers never block the writer), ``busy_timeout``
(writers queue instead of failing), and every write transaction starts with
``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock.
Commits use ``synchronous=NORMAL``: a killed process loses nothing committed;
a power cut may lose the last transactions (never corrupts the file).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Self

from goldband._version import __version__
from goldband.errors import StoreError
from goldband.store import postgres, schema

if TYPE_CHECKING:
    from sqlite_utils import Database

SQLITE_HEADER = b"SQLite format 3\x00"
DEFAULT_TIMEOUT_S = 30.0
TIMEOUT_ENV = "GOLDBAND_STORE_TIMEOUT"
FIX_PATH = "use another path with --goldband-store / `goldband --store`, GOLDBAND_STORE, or `store:` in goldband.yaml"


def busy_timeout() -> float:
    """Seconds a write waits for another process's lock (``GOLDBAND_STORE_TIMEOUT``, default 30)."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


class StoreBase:
    """The connection, transactions and schema facts; queries and writes are mixed in.

    One ``Store`` serves a whole session from several threads: pytest's main
    thread, the engine's loop (the judge cache) and the background writer. Its
    methods are thread-safe: a transaction holds ``lock`` from ``BEGIN`` to
    ``COMMIT``, and every read method runs and fetches its statement under the
    same lock, so no thread sees or joins half of another's transaction. ``conn``
    itself is for single-threaded tools (the command line, monitors).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path  # a PostgreSQL store's URL as a Path folds it (``postgres.postgres_url`` unfolds it)
        self.conn = conn  # for PostgreSQL a ``pgconn.PgConnection``, driven the same way
        self.lock = threading.RLock()
        self.url = postgres.postgres_url(str(path))  # the PostgreSQL URL (never with a password); None: SQLite

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text of ``column``'s JSON member ``key`` (a constant name), in this store's dialect."""
        return f"json_extract({column}, '$.{key}')" if self.url is None else f"({column}::json ->> '{key}')"

    @property
    def where(self) -> str:
        """What messages and reports name this store by: the file's path, or the masked URL."""
        return str(self.path) if self.url is None else self.url

    @functools.cached_property
    def db(self) -> Database:
        """sqlite-utils over ``conn``, for migrations and the store's tools; imported on first use (it imports
        numpy), so the write path of a run stays plain ``sqlite3``."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn, execute_plugins=False, recursive_triggers=False)

    @contextlib.contextmanager
    def transaction(self, *, commit: bool = True, action: str = "write to") -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it is committed, or none; ``commit=False``
        rolls even a successful one back (a dry run). ``action`` words a failure (``cannot prune the store``)."""
        with self.lock, translate(self.path, action):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT" if commit else "ROLLBACK")

    @property
    def migrations(self) -> list[str]:
        """Names of the migrations applied to this store, in order."""
        if self.url is not None:
            return postgres.applied(self.conn.raw)  # type: ignore[attr-defined]
        return applied(self.conn)

    @property
    def schema_version(self) -> int:
        return len(self.migrations)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def checkpoint_aside(self) -> threading.Thread:
        """Start copying the write-ahead log into the store on another connection and thread (join it
        before closing the store).

        A long run leaves up to ~40 MB of log (``wal_autocheckpoint``) that a commit or the last close
        would otherwise copy on the caller's time. A PASSIVE checkpoint takes no lock a reader or the
        writer waits on, and SQLite does the copying without the GIL, so the end of a run renders its
        reports meanwhile. A failure is ignored: the next commit or close checkpoints anyway. PostgreSQL:
        nothing to do (the server checkpoints)."""
        def run() -> None:
            if self.url is not None:
                return
            with contextlib.suppress(sqlite3.Error), contextlib.closing(
                    sqlite3.connect(self.path, timeout=0, isolation_level=None)) as conn:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

        thread = threading.Thread(target=run, name="goldband-checkpoint", daemon=True)
        thread.start()
        return thread

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(path: Path, *, create: bool, timeout_s: float | None = None) -> sqlite3.Connection:
    """An open connection to a checked SQLite file (created when allowed); nothing written yet."""
    _check_path(path, create)
    timeout = busy_timeout() if timeout_s is None else timeout_s
    with translate(path, "open"):
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        with translate(path, "open"):
            conn.execute("SELECT name FROM sqlite_master").fetchall()  # a damaged file fails here
    except BaseException:
        conn.close()
        raise
    return conn


def configure(path: Path, conn: sqlite3.Connection) -> None:
    """goldband's pragmas; only once the file is known to be ours (WAL rewrites the header)."""
    with translate(path, "open"):
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA cache_size=-32768")  # 32 MB: index inserts of a long run stay in memory
        conn.execute("PRAGMA wal_autocheckpoint=10000")  # checkpoint (and fsync) every ~40 MB, not every 4 MB


def _check_path(path: Path, create: bool) -> None:
    if path.is_dir():
        raise StoreError("the store path is a directory", where=str(path),
                         expected="a file path like .goldband/store.db", fix=FIX_PATH)
    if not path.exists():
        if not create:
            raise StoreError("no store here yet", where=str(path), expected="an existing goldband store",
                             fix="run the golden sets once (`goldband run` or pytest) to create it, or pass --store")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store's directory: {exc.strerror or exc}", where=str(path),
                             expected="a writable directory", fix=FIX_PATH) from None
        return
    _check_header(path)


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read the store: {exc.strerror or exc}", where=str(path), fix=FIX_PATH) from None
    if head and head != SQLITE_HEADER:  # empty is fine: SQLite treats it as a new database
        raise corrupt(path, "not an SQLite database (its header is wrong)")


def check_sound(path: Path, conn: sqlite3.Connection) -> None:
    """Refuse a store damaged past its header (``PRAGMA quick_check``), before anything is written to it.

    The header and the schema read (``connect``) tell nothing about the pages behind them: a store
    with a damaged middle page opens, answers most reads, and fails only the writes that reach that
    page, in the middle of a run. ``quick_check`` reads every page once (about 0.1 s per 100,000
    stored trials, docs/store.md); it skips only the index-content cross-checks of
    ``integrity_check`` (``goldband store check``).
    """
    with translate(path, "check"):
        problems = damage(conn)
    if problems:
        raise corrupt(path, f"SQLite's quick check found: {'; '.join(problems[:3])}")


def damage(conn: sqlite3.Connection, *, full: bool = False) -> list[str]:
    """What SQLite's quick check (``full``: integrity check) finds wrong with the file; [] when it is sound.

    A page too damaged to check at all is one problem (SQLite raises "malformed" instead of reporting it).
    """
    try:
        rows = conn.execute(f"PRAGMA {'integrity_check' if full else 'quick_check'}").fetchall()
    except sqlite3.DatabaseError as exc:
        if not _is_damage(str(exc)):
            raise
        return [str(exc)]
    found = [" ".join(line for line in str(row[0]).splitlines() if not line.startswith("*** in database"))
             for row in rows]
    return [] if found == ["ok"] else found


DAMAGED = "the store is damaged or not a goldband store"


def is_damaged(error: StoreError) -> bool:
    """Whether ``error`` says the file is damaged (or not a goldband store), as ``corrupt`` words it."""
    return error.what.startswith(DAMAGED)


def _is_damage(text: str) -> bool:
    return any(k in text for k in ("not a database", "malformed", "disk image", "corrupt"))


def corrupt(path: Path, detail: str) -> StoreError:
    return StoreError(f"{DAMAGED}: {detail}", where=str(path),
                      expected="an SQLite database written by goldband",
                      fix=f"goldband leaves it untouched; move it aside (mv {path} {path}.bad) to start a new "
                          f"store there, restore it from a backup, or {FIX_PATH}")


@contextlib.contextmanager
def translate(path: Path, action: str) -> Iterator[None]:
    """SQLite errors become one StoreError each: locked, damaged, unwritable, full; so do PostgreSQL's, for a
    store whose path is a URL (``postgres.translate``)."""
    url = postgres.postgres_url(str(path))
    if url is not None:
        with postgres.translate(url, action):
            yield
        return
    try:
        yield
    except sqlite3.Error as exc:
        raise store_error(path, action, exc) from None


def store_error(path: Path, action: str, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError(f"the store is locked by another process (waited {busy_timeout():g} s): {text}",
                          where=str(path), fix="wait for the other goldband run or tool to finish, set "
                                               f"{TIMEOUT_ENV} to wait longer, or {FIX_PATH}")
    if _is_damage(text):
        return corrupt(path, text)
    if any(k in text for k in ("unable to open", "readonly", "read-only", "permission", "disk I/O")):
        return StoreError(f"cannot {action} the store: {text}", where=str(path),
                          expected="a writable file in a writable directory", fix=FIX_PATH)
    if "full" in text:
        return StoreError(f"cannot {action} the store: {text}", where=str(path),
                          fix="free disk space, or run `goldband store vacuum`")
    return StoreError(f"cannot {action} the store: {text}", where=str(path), fix=FIX_PATH)


def applied(conn: sqlite3.Connection) -> list[str]:
    """Names of goldband migrations applied to this database, in order (sqlite-utils' ``_sqlite_migrations``
    table, read as ``Migrations.applied`` reads it, without importing sqlite-utils)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'").fetchone():
        return []
    return [row[0] for row in conn.execute(  # applied_at too: the rows themselves are read, not just the index
        "SELECT name, applied_at FROM _sqlite_migrations WHERE migration_set = 'goldband' ORDER BY rowid")]


def check_schema(path: Path, conn: sqlite3.Connection) -> list[str]:
    """Refuse foreign and newer stores; return the pending migrations' names."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    done = applied(conn) if "_sqlite_migrations" in tables else []
    user_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    known = schema.names()
    if tables and not done and tables - {"_sqlite_migrations"}:
        raise corrupt(path, f"an SQLite database with other tables ({', '.join(sorted(tables)[:5])})")
    unknown = [name for name in done if name not in known]
    if unknown or user_version > len(known):
        version = max(len(done), user_version)
        raise StoreError(
            f"the store's schema version {version} is newer than this goldband {__version__} understands "
            f"({len(known)}; unknown migrations: {', '.join(unknown) or 'none recorded'})", where=str(path),
            expected=f"schema version <= {len(known)}",
            fix=f"upgrade goldband (pip install -U goldband) to read it, or {FIX_PATH}; the store is left untouched")
    return [name for name in known if name not in done]


def migrate(path: Path, db: Database) -> list[str]:
    """Apply pending migrations in one ``BEGIN IMMEDIATE`` transaction; return what was applied.

    Call it when ``check_schema`` found pending migrations (it takes the write
    lock). The check is repeated under the lock, so concurrent openers (xdist
    workers) never apply a migration twice.
    """
    with translate(path, "migrate"):
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            pending = check_schema(path, db.conn)
            schema.migrations().apply(db)
            db.conn.execute(f"PRAGMA user_version = {len(schema.names())}")
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")
    return pending
