"""Store upkeep for a team: merge shard stores, describe a store, prune old runs, back it up.

``merge`` folds per-shard SQLite stores (a CI matrix without a server) into one, keyed by each
table's natural key, never by the autoincrement ids a shard happened to assign: a trial is the
same trial in every file when its (run, golden set, case, target, sample) is; a score or a turn
follows its trial's new id. Merging is idempotent and order-independent: where two files hold
the same key with equal content, the kept row is chosen by a rule that does not depend on which
file came first (earliest ``first_seen``/``created_at``; for a run, the most recently updated
row, with the earliest start). Anything that cannot be merged (another schema version, a file
that is not a goldband store, the same trial with another output or score) is refused before a
byte of the target changes: all of it is one transaction, and a new target is built beside its
final path and renamed into place only when complete.

``prune`` bounds a store: runs older than a cutoff go (with their trials, scores, turns,
verdicts, series points, and the renderings and identities nothing references any more), or
with ``outputs_only`` only their raw outputs go while verdicts and series points stay.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from goldband.errors import MergeConflict, StoreError, UsageError
from goldband.store import Store, open_store, schema
from goldband.store.connection import TIMEOUT_ENV, busy_timeout, check_schema, connect, translate
from goldband.store.queries import effective_status
from goldband.store.series import run_points, stored_points
from goldband.store.writer import replace_series

Row = dict[str, Any]


@dataclass(frozen=True)
class TableRule:
    """How one table merges: its natural ``key``, the columns whose difference is a conflict
    (``strict``; empty: every column but the key, the id and ``loose``), the columns two equal
    rows may differ in (``loose``), and the autoincrement ``id`` whose value is remapped."""

    name: str
    key: tuple[str, ...]
    strict: tuple[str, ...] = ()
    loose: tuple[str, ...] = ()
    id: str | None = None
    parent: tuple[str, str] | None = None  # (column, table): a child's id column, remapped
    where: str = "1"  # which of the source's rows merge


RUN_TABLES = (  # parents before children; every table a run writes
    TableRule("runs", ("id",), strict=("kind",)),
    TableRule("goldensets", ("hash",), strict=("name", "version")),  # the hash is the content
    TableRule("cases", ("goldenset_hash", "case_id"), loose=("file", "line")),
    TableRule("prompts", ("hash",)),
    TableRule("targets", ("hash",), loose=("first_seen",)),
    TableRule("rubrics", ("hash",), loose=("first_seen",)),
    TableRule("judges", ("hash",), loose=("first_seen",)),
    TableRule("rendered_messages", ("hash",), loose=("first_seen",)),
    TableRule("run_items", ("run_id", "goldenset", "case_id", "target"), loose=("nodeid",)),
    TableRule("run_goldensets", ("run_id", "name")),
    TableRule("run_targets", ("run_id", "name")),
    TableRule("run_rubrics", ("run_id", "rubric_hash", "judge_hash")),
    TableRule("run_shards", ("run_id", "shard"), strict=("shards", "items")),
    TableRule("trials", ("run_id", "goldenset", "case_id", "target", "sample"),
              strict=("outcome", "score", "output", "tool_calls", "error"), id="id"),
    TableRule("scores", ("trial_id", "idx"), strict=("check_name", "outcome", "score"),
              parent=("trial_id", "trials")),
    TableRule("trial_turns", ("trial_id", "turn"), strict=("output", "tool_calls", "error"),
              parent=("trial_id", "trials")),
    TableRule("verdicts", ("run_id", "goldenset", "case_id", "target"),
              strict=("status", "n", "passes", "fails", "errors", "pass_rate", "mean_score")),
    # a run's own points are aggregates over all its trials: recomputed after the merge, never merged
    TableRule("series_points", ("source", "model", "metric", "labels_key", "time", "run_id"),
              strict=("value",), id="id", where="run_id IS NULL"),
    TableRule("drift_events", ("detector", "source", "model", "metric", "labels_key", "time", "run_id"),
              strict=("statistic", "p_value"), id="id"),
    TableRule("judge_cache", ("key",), loose=("value", "created_at")),
)
MERGED = {rule.name for rule in RUN_TABLES}
EARLIEST = ("first_seen", "created_at")
FIX_MIGRATE = "run `goldband store migrate --store {path}` on it (and on the others) first, then merge again"


@dataclass
class MergeReport:
    """What a merge added, per table, and what the target holds afterwards."""

    added: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    run_hashes: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # rows of tables a merge does not carry
    touched: set[str] = field(default_factory=set)  # runs that gained rows: their series points are recomputed


# ---- checking the inputs -------------------------------------------------------------------------------------


def check_sources(sources: list[Path], into: Path) -> int:
    """Refuse, before anything is written, any file that is not a current goldband store; the schema version.

    Every store must be at this goldband's schema version: rows of an older store lack columns a newer
    one has, so merging them would silently drop or invent values."""
    current = len(schema.names())
    if not sources:
        raise UsageError("nothing to merge", fix="name the shards: goldband store merge A.db B.db --into store.db")
    for path in [*sources, *([into] if into.exists() else [])]:
        conn = connect(path, create=False)
        try:
            pending = check_schema(path, conn)  # a foreign or newer file raises here
        finally:
            conn.close()
        if pending:
            raise StoreError(
                f"the store's schema version {current - len(pending)} is older than this goldband's ({current}); "
                "stores of different schema versions cannot be merged", where=str(path),
                expected=f"schema version {current}", fix=FIX_MIGRATE.format(path=path))
    if into.resolve() in {p.resolve() for p in sources}:
        raise UsageError(f"the target {into} is also a source", fix="merge into another file")
    return current


# ---- merging ---------------------------------------------------------------------------------------------------


def merge(sources: list[Path], into: Path) -> MergeReport:
    """Merge ``sources`` into ``into`` (created when missing) in one transaction; see the module doc."""
    check_sources(sources, into)
    report = MergeReport()
    if into.exists():
        _merge_into(sources, into, report)
    else:
        partial = into.with_name(f".{into.name}.merging-{os.getpid()}")
        try:
            _merge_into(sources, partial, report, self_contained=True)
            os.replace(partial, into)
        finally:
            for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
                leftover.unlink(missing_ok=True)
    with contextlib.closing(connect(into, create=False)) as conn:
        report.counts = {t: _count(conn, t) for t in sorted(MERGED)}
        report.run_hashes = {run: run_hash(conn, run) for run in
                             sorted(r[0] for r in conn.execute("SELECT id FROM runs"))}
    return report


def _merge_into(sources: list[Path], into: Path, report: MergeReport, *, self_contained: bool = False) -> None:
    store = open_store(into, create=True, check=True)
    try:
        with store.transaction() as conn:
            for source in sources:
                _attach_merge(conn, source, report)
            for run_id in sorted(report.touched):
                _recompute_series(store, conn, run_id)
        if self_contained:  # one file to rename into place: the WAL folded in (closing removes it)
            with translate(into, "checkpoint"):
                store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()


def _attach_merge(conn: sqlite3.Connection, source: Path, report: MergeReport) -> None:
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    src.row_factory = sqlite3.Row
    try:
        with translate(source, "read"):
            ids: dict[str, dict[int, int]] = {}
            present = set(_tables(src))
            for rule in (r for r in RUN_TABLES if r.name in present):
                added = _merge_table(conn, src, rule, ids, source, report.touched)
                report.added[rule.name] = report.added.get(rule.name, 0) + added
            for name in _tables(src):
                if name not in MERGED and not name.startswith(("_", "sqlite_")) and (n := _count(src, name)):
                    report.skipped[name] = report.skipped.get(name, 0) + n
    finally:
        src.close()


def _recompute_series(store: Store, conn: sqlite3.Connection, run_id: str) -> None:
    """A merged run's series points over all of its shards' trials and verdicts (as finishing a run writes)."""
    run = store.run(run_id)
    if run is not None:
        replace_series(conn, run_id, stored_points(run, run_points(store, run)))


def _merge_table(conn: sqlite3.Connection, src: sqlite3.Connection, rule: TableRule,
                 ids: dict[str, dict[int, int]], source: Path, touched: set[str]) -> int:
    added = 0
    remap = ids.setdefault(rule.name, {})
    for raw in src.execute(f'SELECT * FROM "{rule.name}" WHERE {rule.where}'):
        row = dict(raw)
        if rule.parent:
            column, parent = rule.parent
            if row[column] not in ids[parent]:
                raise StoreError(f"a {rule.name} row refers to {parent} id {row[column]}, which the store lacks",
                                 where=str(source), fix="run `goldband store check` on it; nothing was written")
            row[column] = ids[parent][row[column]]
        old = _find(conn, rule, row)
        if old is None:
            remap_id = _insert(conn, rule, row)
            added += 1
            if rule.name in ("trials", "verdicts", "runs"):
                touched.add(row["id" if rule.name == "runs" else "run_id"])
        else:
            _reconcile(conn, rule, old, row, source)
            remap_id = old.get(rule.id) if rule.id else None
        if rule.id:
            remap[row[rule.id]] = int(remap_id or 0)
    return added


def _find(conn: sqlite3.Connection, rule: TableRule, row: Row) -> Row | None:
    where = " AND ".join(f'"{c}" IS ?' for c in rule.key)
    cur = conn.execute(f'SELECT * FROM "{rule.name}" WHERE {where}', [row[c] for c in rule.key])
    found = cur.fetchone()
    return None if found is None else dict(zip([d[0] for d in cur.description], found, strict=True))


def _insert(conn: sqlite3.Connection, rule: TableRule, row: Row) -> int | None:
    values = {c: v for c, v in row.items() if c != rule.id}
    columns = ", ".join(f'"{c}"' for c in values)
    cur = conn.execute(f'INSERT INTO "{rule.name}" ({columns}) VALUES ({", ".join("?" * len(values))})',
                       list(values.values()))
    return cur.lastrowid


def _strict(rule: TableRule, row: Row) -> tuple[str, ...]:
    return rule.strict or tuple(c for c in row if c not in (*rule.key, *rule.loose, rule.id))


def _reconcile(conn: sqlite3.Connection, rule: TableRule, old: Row, new: Row, source: Path) -> None:
    """Refuse a conflict; else keep the row an order-independent rule prefers (only loose columns change)."""
    differ = [c for c in _strict(rule, old) if old[c] != new[c]]
    if differ:
        raise _conflict(conn, rule, old, differ, source)
    kept = _runs_pick(old, new) if rule.name == "runs" else _earliest(old, new)
    changes = {c: v for c, v in kept.items() if c != rule.id and c not in rule.key and old[c] != v}
    if changes:
        where = " AND ".join(f'"{c}" IS ?' for c in rule.key)
        sets = ", ".join(f'"{c}" = ?' for c in changes)
        conn.execute(f'UPDATE "{rule.name}" SET {sets} WHERE {where}', [*changes.values(), *(old[c] for c in rule.key)])


def _canonical(row: Row, drop: str | None = None) -> str:
    return json.dumps({k: v for k, v in row.items() if k != drop}, sort_keys=True, default=str)


def _earliest(old: Row, new: Row) -> Row:
    def rank(row: Row) -> tuple[str, str]:
        return (next((str(row[c]) for c in EARLIEST if row.get(c) is not None), ""), _canonical(row, "id"))
    return min(old, new, key=rank)


def _runs_pick(old: Row, new: Row) -> Row:
    """The shard that wrote a run last speaks for it; it started when the first shard did."""
    latest = max(old, new, key=lambda r: (str(r.get("finished_at") or ""), str(r.get("updated_at") or ""),
                                          _canonical(r)))
    return {**latest, "started_at": min(str(old["started_at"]), str(new["started_at"]))}


def _conflict(conn: sqlite3.Connection, rule: TableRule, old: Row, differ: list[str], source: Path) -> MergeConflict:
    if "trial_id" in old:  # a score or turn: name its trial by the trial's key, not by an id
        trial = conn.execute("SELECT run_id, goldenset, case_id, target, sample FROM trials WHERE id = ?",
                             [old["trial_id"]]).fetchone()
        old = {**old, **dict(zip(("run_id", "goldenset", "case_id", "target", "sample"), trial, strict=True))}
    names = [c for c in rule.key if c not in ("trial_id", "run_id")]
    names += ["case_id", "sample"] if "trial_id" in rule.key else []
    key = ", ".join(f"{c}={old[c]!r}" for c in names)
    run = old.get("run_id") or (old["id"] if rule.name == "runs" else None)
    what = (f"run {run}: " if run and rule.name != "runs" else "") + f"{rule.name} row ({key})"
    return MergeConflict(
        f"conflicting content: {what} differs in {', '.join(differ)} from the row already merged",
        where=str(source), expected="the same content for the same key in every store (shards of one run "
                                    "never record the same trial twice)",
        fix="merge only the shards of each run once; if two runs reused one run id, rerun one of them under "
            "another --goldband-run-id. Nothing was written")


# ---- verification ----------------------------------------------------------------------------------------------


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])


RUN_CONTENT = {  # what a run's content hash covers, keyed by natural keys only (never by ids)
    "trials": "SELECT goldenset, case_id, target, sample, outcome, score, output, tool_calls, error "
              "FROM trials WHERE run_id = ? ORDER BY goldenset, case_id, target, sample",
    "scores": "SELECT t.goldenset, t.case_id, t.target, t.sample, s.idx, s.check_name, s.outcome, s.score "
              "FROM scores s JOIN trials t ON t.id = s.trial_id WHERE t.run_id = ? "
              "ORDER BY t.goldenset, t.case_id, t.target, t.sample, s.idx",
    "verdicts": "SELECT goldenset, case_id, target, status, n, passes, fails, errors, pass_rate, mean_score "
                "FROM verdicts WHERE run_id = ? ORDER BY goldenset, case_id, target",
}


def run_hash(conn: sqlite3.Connection, run_id: str) -> str:
    """A content hash of one run's trials, scores and verdicts: equal in every store holding the same run."""
    digest = hashlib.sha256()
    for name, sql in RUN_CONTENT.items():
        digest.update(name.encode())
        for row in conn.execute(sql, (run_id,)):
            digest.update(json.dumps(list(row), default=str).encode() + b"\n")
    return "sha256:" + digest.hexdigest()[:16]


# ---- describing a store ------------------------------------------------------------------------------------------


def table_bytes(conn: sqlite3.Connection) -> dict[str, int]:
    """Bytes each table holds with its indexes: SQLite's ``dbstat`` when compiled in, else {}."""
    try:
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:
        return {}
    owner = {r[0]: r[1] for r in conn.execute("SELECT name, tbl_name FROM sqlite_master")}
    sizes: dict[str, int] = {}
    for name, size in rows:
        table = owner.get(name, name)
        sizes[table] = sizes.get(table, 0) + int(size)
    return sizes


def run_range(conn: sqlite3.Connection) -> tuple[int, str | None, str | None]:
    """How many runs the store holds, and when the first and the last started."""
    n, first, last = conn.execute("SELECT COUNT(*), MIN(started_at), MAX(started_at) FROM runs").fetchone()
    return int(n), first, last


# ---- pruning -----------------------------------------------------------------------------------------------------


DURATION = re.compile(r"^\s*(\d+)\s*([dw])\s*$")


def parse_age(text: str) -> timedelta:
    """``180d`` or ``26w`` as a timedelta; anything else (``6m``: months or minutes?) is a UsageError.

    >>> parse_age("180d"), parse_age("2w")
    (datetime.timedelta(days=180), datetime.timedelta(days=14))
    """
    found = DURATION.match(text)
    if not found or int(found[1]) == 0:
        raise UsageError(f"--older-than {text!r} is not a duration", where="--older-than",
                         expected="a positive number of days or weeks: 180d, 26w",
                         fix="write the age in days (d) or weeks (w); months are ambiguous, so 6 months is 180d")
    return timedelta(days=int(found[1]) * (7 if found[2] == "w" else 1))


def baseline_runs(conn: sqlite3.Connection) -> set[str]:
    """The runs ``--keep-baselines`` keeps: what ``latest:BRANCH@KIND`` would pick for each branch and kind
    (the newest complete non-draft run), and every run a kept verdict was compared against."""
    latest = {r[0] for r in conn.execute(
        "SELECT id FROM runs r WHERE status = 'complete' AND COALESCE(draft, 0) = 0 AND started_at = ("
        " SELECT MAX(started_at) FROM runs o WHERE o.status = 'complete' AND COALESCE(o.draft, 0) = 0"
        " AND o.kind = r.kind AND o.git_branch IS NOT DISTINCT FROM r.git_branch)")}
    compared = {r[0] for r in conn.execute(
        "SELECT DISTINCT baseline_run FROM verdicts WHERE baseline_run IS NOT NULL")}
    return latest | compared


def old_runs(conn: sqlite3.Connection, cutoff: str) -> list[str]:
    """Runs started before ``cutoff`` (ISO text), oldest first, except those still running: what a prune takes
    (before ``--keep-baselines``) and what ``store info`` counts."""
    return [run for run, status, host, pid in conn.execute(
        "SELECT id, status, host, pid FROM runs WHERE started_at < ? ORDER BY started_at, id", (cutoff,))
            if effective_status(status, host, pid) != "running"]


def cutoff_of(older_than: timedelta, now: datetime | None = None) -> str:
    """The ``started_at`` text before which a run is older than ``older_than`` (as runs store it)."""
    return ((now or datetime.now(UTC)) - older_than).isoformat(timespec="milliseconds")


@dataclass
class PrunePlan:
    """The runs a prune touches and the rows it removes (or would), per table."""

    runs: list[str]
    kept_baselines: list[str]
    rows: dict[str, int] = field(default_factory=dict)


PRUNED = "(SELECT id FROM prune_runs)"  # the runs being pruned (a temp table: both dialects, any number of runs)
PRUNED_TRIALS = f"(SELECT id FROM trials WHERE run_id IN {PRUNED})"
RUN_ROWS = {  # table -> rows of the runs in temp table prune_runs; children first
    "scores": f"trial_id IN {PRUNED_TRIALS}",
    "trial_turns": f"trial_id IN {PRUNED_TRIALS}",
    "trials": f"run_id IN {PRUNED}",
    "verdicts": f"run_id IN {PRUNED}",
    "run_items": f"run_id IN {PRUNED}",
    "run_goldensets": f"run_id IN {PRUNED}",
    "run_targets": f"run_id IN {PRUNED}",
    "run_rubrics": f"run_id IN {PRUNED}",
    "run_shards": f"run_id IN {PRUNED}",
    "series_points": f"run_id IN {PRUNED}",
    "drift_events": f"run_id IN {PRUNED}",
    "runs": f"id IN {PRUNED}",
}
ORPHANS = {  # identities no remaining row references, in an order that respects foreign keys
    "cases": "goldenset_hash NOT IN (SELECT goldenset_hash FROM run_goldensets WHERE goldenset_hash IS NOT NULL)",
    "goldensets": "hash NOT IN (SELECT goldenset_hash FROM run_goldensets WHERE goldenset_hash IS NOT NULL)",
    "targets": "hash NOT IN (SELECT target_hash FROM run_targets WHERE target_hash IS NOT NULL)",
    "prompts": "hash NOT IN (SELECT prompt_hash FROM targets WHERE prompt_hash IS NOT NULL)",
    "rubrics": "hash NOT IN (SELECT rubric_hash FROM run_rubrics WHERE rubric_hash IS NOT NULL) AND hash NOT IN "
               "(SELECT rubric_hash FROM scores WHERE rubric_hash IS NOT NULL)",
    "judges": "hash NOT IN (SELECT judge_hash FROM run_rubrics WHERE judge_hash IS NOT NULL)",
}
UNREFERENCED_RENDERINGS = ("hash NOT IN (SELECT messages_hash FROM trials WHERE messages_hash IS NOT NULL) AND hash "
                           "NOT IN (SELECT messages_hash FROM trial_turns WHERE messages_hash IS NOT NULL)")
OUTPUTS = {  # raw outputs of the runs in prune_runs: what --outputs-only clears
    "trials": ("output, tool_calls, messages_hash", f"run_id IN {PRUNED}"),
    "trial_turns": ("output, tool_calls, messages_hash", f"trial_id IN {PRUNED_TRIALS}"),
}


def prune(location: str | Path, older_than: timedelta, *, keep_baselines: bool = False, outputs_only: bool = False,
          dry_run: bool = False, now: datetime | None = None) -> PrunePlan:
    """Remove runs started before ``now - older_than`` (or only their raw outputs) in one transaction.

    ``location``: an SQLite file or a ``postgresql://`` URL; the same statements serve both. A run still
    running (its process exists, or runs on another host) is never pruned; a killed one is. With ``dry_run``
    the same statements run and are rolled back, so the counts printed are exactly what a real prune removes."""
    cutoff = cutoff_of(older_than, now)
    store = open_store(location, create=False, check=not dry_run)
    try:
        with store.transaction(commit=not dry_run, action="prune") as conn:
            _hold_identities(store)
            keep = baseline_runs(conn) if keep_baselines else set()
            old = old_runs(conn, cutoff)
            plan = PrunePlan([r for r in old if r not in keep], sorted(set(old) & keep))
            conn.execute("CREATE TEMP TABLE prune_runs (id TEXT PRIMARY KEY)")
            conn.executemany("INSERT INTO prune_runs VALUES (?)", [(r,) for r in plan.runs])
            plan.rows = _clear_outputs(conn) if outputs_only else _delete_runs(conn)
            conn.execute("DROP TABLE prune_runs")
    finally:
        store.close()
    return plan


IDENTITIES = ("goldensets", "cases", "targets", "prompts", "rubrics", "judges", "rendered_messages")
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a NOWAIT lock another transaction holds


def _hold_identities(store: Store) -> None:
    """PostgreSQL: keep runs from (re)using an identity the prune is about to find unreferenced.

    A run that is writing may have just inserted (``ON CONFLICT DO NOTHING``: found it there) a golden set,
    target or rendering that no committed run references; deleting it would fail that run at its commit (or
    leave its trials naming a missing rendering). So the prune holds these tables against writers (``SHARE ROW
    EXCLUSIVE``: readers go on) once every writer in them has committed. The locks are taken all at once with
    NOWAIT and released (``ROLLBACK TO SAVEPOINT``) when one is busy, then tried again, so the prune never
    waits while holding a lock a writer waits on (no deadlock). On SQLite, ``BEGIN IMMEDIATE`` already holds
    the whole file."""
    if store.url is None:
        return
    deadline = time.monotonic() + busy_timeout()
    while True:
        store.conn.execute("SAVEPOINT hold_identities")
        try:
            store.conn.execute(f"LOCK TABLE {', '.join(IDENTITIES)} IN SHARE ROW EXCLUSIVE MODE NOWAIT")
        except Exception as exc:  # psycopg's LockNotAvailable (psycopg is imported only with a PostgreSQL store)
            if getattr(exc, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            store.conn.execute("ROLLBACK TO SAVEPOINT hold_identities")
            if time.monotonic() >= deadline:
                raise StoreError(f"the store is busy: runs are writing into it (waited {busy_timeout():g} s for them "
                                 "to commit)", where=store.where,
                                 fix=f"prune again when they finish, or set {TIMEOUT_ENV} to wait longer; "
                                     "nothing was pruned") from None
            time.sleep(0.05)
            continue
        store.conn.execute("RELEASE SAVEPOINT hold_identities")
        return


def _delete_runs(conn: sqlite3.Connection) -> dict[str, int]:
    rows = {t: conn.execute(f"DELETE FROM {t} WHERE {where}").rowcount for t, where in RUN_ROWS.items()}
    rows |= {t: conn.execute(f"DELETE FROM {t} WHERE {where}").rowcount for t, where in ORPHANS.items()}
    rows["rendered_messages"] = conn.execute(f"DELETE FROM rendered_messages WHERE {UNREFERENCED_RENDERINGS}").rowcount
    return {t: n for t, n in rows.items() if n}


def _clear_outputs(conn: sqlite3.Connection) -> dict[str, int]:
    rows: dict[str, int] = {}
    for table, (columns, where) in OUTPUTS.items():
        nulls = ", ".join(f"{c} = NULL" for c in columns.split(", "))
        present = " OR ".join(f"{c} IS NOT NULL" for c in columns.split(", "))
        rows[f"{table} (outputs cleared)"] = conn.execute(
            f"UPDATE {table} SET {nulls} WHERE {where} AND ({present})").rowcount
    rows["rendered_messages"] = conn.execute(f"DELETE FROM rendered_messages WHERE {UNREFERENCED_RENDERINGS}").rowcount
    return {t: n for t, n in rows.items() if n}


def vacuum_postgres(store: Store, tables: list[str]) -> list[str]:
    """``VACUUM (ANALYZE)`` of ``tables`` on a PostgreSQL store, outside any transaction (VACUUM refuses one):
    the pruned rows' space becomes free for new rows and the planner's statistics are fresh. The server's
    autovacuum would do the same later; ``VACUUM FULL`` (which returns space to the disk but locks each table
    while it rewrites it) is left to the database's owner."""
    done = []
    with store.lock, translate(store.path, "vacuum"):
        for name in tables:
            store.conn.execute(f'VACUUM (ANALYZE) "{name}"')
            done.append(name)
    return done


# ---- backup ------------------------------------------------------------------------------------------------------


def backup(path: Path, dest: Path, progress: Callable[[int, int, int], object] | None = None) -> int:
    """Copy the store to ``dest`` with SQLite's online backup API (safe while runs write); its size in bytes.

    ``dest`` must not exist: a backup never overwrites a file."""
    if dest.exists():
        raise UsageError(f"{dest} already exists", where=str(dest), expected="a new file",
                         fix="name a new backup file, or move the old one aside")
    store = open_store(path, create=False, migrate_schema=False)
    try:
        with translate(dest, "back up to"), contextlib.closing(sqlite3.connect(dest)) as target:
            store.conn.backup(target, pages=4096, progress=progress)
            target.execute("PRAGMA journal_mode=DELETE")
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    finally:
        store.close()
    return dest.stat().st_size
