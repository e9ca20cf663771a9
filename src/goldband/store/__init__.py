"""The shared drift-and-eval store: one SQLite file (sqlite-utils), documented in docs/store.md.

Open it with ``open_store``; it checks, migrates and returns a ``Store``::

    >>> import tempfile, pathlib
    >>> from goldband.store import open_store, SeriesPoint
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "store.db"
    >>> with open_store(path) as store:
    ...     store.append_series([SeriesPoint("classic-ml", "churn", "accuracy", 0.91, labels={"segment": "eu"})])
    ...     [p.value for p in store.series(model="churn", metric="accuracy", labels={"segment": "eu"})]
    1
    [0.91]

Reads (``goldband.store.queries``): ``run``, ``resolve_run``, ``runs``,
``latest_run``, ``case_counts``, ``case_history``, ``verdicts``,
``scored_trials``, ``renderings``, ``series``, ``drift_events``, ``judge_cache_get``.
Writes (``goldband.store.writer``): ``append_series``, ``replace_run_series``,
``record_drift_event``, ``judge_cache_put``; runs, trials, verdicts and the
rubrics that scored them are written by the run recorder (``goldband.session.recorder``)
during a pytest session. Schema and migrations: ``goldband.store.schema``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import cast

from goldband._util.runid import RUN_KINDS
from goldband.store import postgres
from goldband.store.connection import (
    StoreBase,
    check_schema,
    check_sound,
    configure,
    connect,
    migrate,
    translate,
)
from goldband.store.models import (
    CaseCounts,
    CaseKey,
    DriftEvent,
    HistoryPoint,
    Rendering,
    RunRow,
    SeriesPoint,
    StoredVerdict,
)
from goldband.store.queries import Queries
from goldband.store.writer import Writes


class Store(StoreBase, Queries, Writes):
    """An open goldband store: reads, writes, and ``transaction()`` for grouped writes.

    One ``Store`` belongs to one thread at a time; open one per thread (they
    share the file safely through WAL and the busy timeout).
    """


def open_store(path: str | Path, *, create: bool = True, timeout_s: float | None = None,
               migrate_schema: bool = True, check: bool = False) -> Store:
    """Open (creating when ``create``) and migrate the store at ``path``; StoreError otherwise.

    Refuses, without touching the file: a file that is not SQLite or whose header
    or schema is damaged, an SQLite file with someone else's tables, and a schema
    newer than this goldband; with ``check`` (and always before migrating it),
    also a file damaged anywhere past its header (SQLite's quick check: every
    page is read, ~0.1 s per 100,000 trials; a run checks its store once, before
    any call). ``timeout_s``: how long a write waits for another process's lock.
    """
    url = postgres.postgres_url(str(path))
    if url is not None:  # a PostgreSQL store: the same Store over a PgConnection
        served = postgres.open_connection(url, create=create, migrate_schema=migrate_schema)
        return Store(Path(url), cast("sqlite3.Connection", served))  # driven as one (goldband.store.pgconn)
    path = Path(path)
    conn = connect(path, create=create, timeout_s=timeout_s)
    store = Store(path, conn)
    try:
        if check:
            check_sound(path, conn)
        with translate(path, "read"):
            pending = check_schema(path, conn)  # refuse foreign and newer files before writing anything
            if migrate_schema and pending and not check:
                check_sound(path, conn)  # never migrate a damaged file
            configure(path, conn)
            if migrate_schema and pending:
                migrate(path, store.db)
    except BaseException:
        store.close()
        raise
    return store


__all__ = [
    "RUN_KINDS",
    "CaseCounts",
    "CaseKey",
    "DriftEvent",
    "HistoryPoint",
    "Rendering",
    "RunRow",
    "SeriesPoint",
    "Store",
    "StoredVerdict",
    "new_run_id",
    "now",
    "open_store",
]
