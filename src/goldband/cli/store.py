"""``goldband store info | check | migrate | vacuum | export | merge | prune | backup | copy``: look after the store."""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from goldband.cli.common import opened_store, resolve_store, resolve_store_url, store_option, store_url_option
from goldband.errors import CommandFailed, StoreError, UsageError
from goldband.report.fmt import table

if TYPE_CHECKING:
    from goldband.store import Store

RUN_FILTERS = {  # table -> rows of one run (the run id is the one parameter)
    "runs": "id = ?",
    "scores": "trial_id IN (SELECT id FROM trials WHERE run_id = ?)",
    "trial_turns": "trial_id IN (SELECT id FROM trials WHERE run_id = ?)",
    "goldensets": "hash IN (SELECT goldenset_hash FROM run_goldensets WHERE run_id = ?)",
    "cases": "goldenset_hash IN (SELECT goldenset_hash FROM run_goldensets WHERE run_id = ?)",
    "targets": "hash IN (SELECT target_hash FROM run_targets WHERE run_id = ?)",
    "prompts": "hash IN (SELECT prompt_hash FROM targets WHERE hash IN "
               "(SELECT target_hash FROM run_targets WHERE run_id = ?))",
    "rubrics": "hash IN (SELECT rubric_hash FROM run_rubrics WHERE run_id = ?)",
    "judges": "hash IN (SELECT judge_hash FROM run_rubrics WHERE run_id = ?)",
}
SQLITE_ONLY = {  # command -> what to do instead on a PostgreSQL store
    "check": "the server checks its own pages: run PostgreSQL's pg_amcheck on the database (and see its log); "
             "`goldband store info --store URL` reads every table",
    "vacuum": "the server's autovacuum reclaims deleted rows' space on its own; to do it now, run "
              "VACUUM (ANALYZE) in psql or prune with `goldband store prune --older-than 180d --vacuum`",
    "backup": "back it up with pg_dump -Fc (docs/store.md, 'Backup and restore (PostgreSQL)'), or make a verified "
              "SQLite copy with `goldband store copy URL FILE`",
    "merge": "shards write into a PostgreSQL store directly (--goldband-store URL and one --goldband-run-id), so "
             "nothing needs merging; merge SQLite shard files into a file, then load it into an empty database "
             "with `goldband store copy FILE URL`",
}


@click.group()
def store() -> None:
    """Look after the results store: info, check, migrate, vacuum, export, merge, prune, backup, copy."""


@store.command()
@store_url_option
def info(store_path: str | None) -> None:
    """The backend and where the store is, its size, schema version, rows and bytes per table, runs, retention.

    A PostgreSQL store (``postgresql://user@host:port/db``) is only read, in one read-only snapshot."""
    where = resolve_store_url(store_path)
    if isinstance(where, str):
        _info_postgres(where)
        return
    from goldband.store.maintenance import run_range, table_bytes

    with opened_store(where) as db:
        sizes = disk_sizes(db.path)
        click.echo(f"store   {db.path}: {_sizes_text(sizes, _unit(sum(sizes.values())))}")
        click.echo(f"backend sqlite {sqlite3.sqlite_version} ({_journal(db)} journal)")
        click.echo(f"schema  version {db.schema_version} ({', '.join(db.migrations)})")
        n, first, last = run_range(db.conn)
        click.echo(f"runs    {n:,}" + (f" from {first} to {last}" if n else ""))
        click.echo(_retention(db, n))
        counts, size = db.table_counts(), table_bytes(db.conn)
        rows = [[name, f"{count:,}", _bytes_text(size[name]) if name in size else "?"]
                for name, count in counts.items()]
        click.echo(table(rows, ["table", "rows", "bytes"], right={1, 2}))


def _info_postgres(url: str) -> None:
    """``store info`` of a PostgreSQL store, in the SQLite store's shape."""
    from goldband.store import open_store
    from goldband.store.postgres import describe, mask

    found = describe(url)
    click.echo(f"store   {mask(url)}: {_bytes_text(found.size)} (database)")
    click.echo(f"backend postgresql {found.server}")
    pending = f"; {len(found.pending)} pending: run `goldband store migrate`" if found.pending else ""
    click.echo(f"schema  version {len(found.migrations)} ({', '.join(found.migrations)}{pending})")
    n, first, last = found.runs
    click.echo(f"runs    {n:,}" + (f" from {first} to {last}" if n else ""))
    with open_store(url, create=False, migrate_schema=False) as db:  # only read: nothing is migrated or written
        click.echo(_retention(db, n))
    rows = [[name, f"{count:,}", _bytes_text(size)] for name, (count, size) in found.tables.items()]
    click.echo(table(rows, ["table", "rows", "bytes"], right={1, 2}))


RETENTION_AGE = "180d"  # the age ``store info`` counts against: the prune the docs suggest


def _retention(db: Store, runs: int) -> str:
    """What the store keeps (everything: no automatic retention) and what a prune of old runs would take."""
    from goldband.store.connection import translate
    from goldband.store.maintenance import cutoff_of, old_runs, parse_age

    with translate(db.path, "read"):
        old = len(old_runs(db.conn, cutoff_of(parse_age(RETENTION_AGE))))
    prune = f"goldband store prune --older-than {RETENTION_AGE}"
    if not old:
        return f"retain  everything (no retention set); no run is older than {RETENTION_AGE} (prune with `{prune}`)"
    return (f"retain  everything (no retention set); {old:,} of {runs:,} run{'s' * (runs != 1)} "
            f"{'are' if old != 1 else 'is'} older than {RETENTION_AGE}: `{prune} --dry-run` lists what a prune "
            "removes")


def _journal(db: Store) -> str:
    return str(db.conn.execute("PRAGMA journal_mode").fetchone()[0]).upper()


def _bytes_text(n: int) -> str:
    unit, scale = _unit(n)
    return f"{n / scale:.1f} {unit}"


def sqlite_only(path: Path, command: str) -> None:
    """Refuse a PostgreSQL store, before anything is opened, for a command that works on an SQLite file."""
    from goldband.store.postgres import mask, postgres_url

    url = postgres_url(str(path))
    if url is not None:
        raise UsageError(f"`goldband store {command}` works on an SQLite store file; this store is a PostgreSQL "
                         "database", where=mask(url), fix=SQLITE_ONLY[command])


@store.command()
@store_option
def check(store_path: Path | None) -> None:
    """Run SQLite's integrity check; exit status 1 when the file is damaged (nothing is written to it)."""
    from goldband.store import open_store
    from goldband.store.connection import DAMAGED, damage, is_damaged, translate

    path = resolve_store(store_path)
    sqlite_only(path, "check")
    try:  # no migration: the integrity check reads every page before anything could be written
        with open_store(path, create=False, migrate_schema=False) as db, translate(path, "check"):
            problems = [f"SQLite's integrity check found: {'; '.join(found[:5])}"
                        for found in [damage(db.conn, full=True)] if found]
    except StoreError as exc:
        if not is_damaged(exc):
            raise
        problems = [exc.what.removeprefix(f"{DAMAGED}: ")]
    if problems:
        raise CommandFailed(f"{path}: the store is damaged: {problems[0]}; fix: goldband leaves it "
                            f"untouched; restore it from a backup, or move it aside (mv {path} {path}.bad) and "
                            "export what still reads with `goldband store export --store FILE`")
    click.echo(f"{path}: ok")


@store.command()
@click.option("--dry-run", is_flag=True, help="Only list the migrations that would run.")
@store_url_option
def migrate(dry_run: bool, store_path: str | None) -> None:
    """Apply pending schema migrations (creating the store if it does not exist); a damaged store is refused.

    On PostgreSQL (``postgresql://user@host:port/db``, an empty database or one goldband set up) all pending
    migrations go in one transaction: a refusal or failure leaves the database as it was."""
    from goldband.store import open_store
    from goldband.store.connection import check_schema
    from goldband.store.connection import migrate as apply

    path = resolve_store_url(store_path)
    if isinstance(path, str):
        _migrate_postgres(path, dry_run)
        return
    with open_store(path, create=not dry_run, migrate_schema=False, check=True) as db:
        pending = check_schema(path, db.conn)
        if dry_run:
            click.echo("\n".join(f"would apply {name}" for name in pending) or "up to date")
            return
        done = apply(path, db.db) if pending else []
        for name in done:
            click.echo(f"applied {name}")
        click.echo(f"{path}: schema version {db.schema_version}" + ("" if done else " (up to date)"))


def _migrate_postgres(url: str, dry_run: bool) -> None:
    """``store migrate`` of a PostgreSQL store, printed as for SQLite (the URL with its password masked)."""
    from goldband.store.postgres import apply, mask

    names, version = apply(url, dry_run=dry_run)
    if dry_run:
        click.echo("\n".join(f"would apply {name}" for name in names) or "up to date")
        return
    for name in names:
        click.echo(f"applied {name}")
    click.echo(f"{mask(url)}: schema version {version}" + ("" if names else " (up to date)"))


@store.command()
@store_option
def vacuum(store_path: Path | None) -> None:
    """Checkpoint the WAL and rebuild the file to reclaim space (needs no other writer).

    Prints the size on disk before and after as the main file plus its WAL (and
    shared-memory index, when present), the same way on both sides. A damaged
    store is refused before anything is written to it (``goldband store check``).
    """
    sqlite_only(resolve_store(store_path), "vacuum")
    with opened_store(store_path, check=True) as db:
        before = disk_sizes(db.path)
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.execute("VACUUM")  # in WAL mode the rebuilt pages land in the WAL ...
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # ... so move them into the main file
        db.conn.execute("PRAGMA optimize")
        after = disk_sizes(db.path)
    unit = _unit(max(sum(before.values()), sum(after.values())))
    click.echo(f"{db.path}: {_sizes_text(before, unit)} -> {_sizes_text(after, unit)}")


def disk_sizes(path: Path) -> dict[str, int]:
    """The store's bytes on disk: the main file, its WAL, and the shared-memory index when present."""
    sizes = {"main": path.stat().st_size}
    for part, suffix in (("WAL", "-wal"), ("shm", "-shm")):
        other = Path(f"{path}{suffix}")
        if other.exists() or part == "WAL":
            sizes[part] = other.stat().st_size if other.exists() else 0
    return sizes


def _unit(n: int) -> tuple[str, float]:
    return next(((u, scale) for u, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)) if n >= scale), ("kB", 1e3))


def _sizes_text(sizes: dict[str, int], unit: tuple[str, float]) -> str:
    """``1.23 MB (main 1.10 MB + WAL 0.13 MB)``: every number in one unit, so the parts add up on the page."""
    name, scale = unit
    parts = " + ".join(f"{part} {n / scale:.2f} {name}" for part, n in sizes.items())
    return f"{sum(sizes.values()) / scale:.2f} {name} ({parts})"


@store.command()
@click.option("--table", "tables", multiple=True, help="Export only this table (repeatable; default: all).")
@click.option("--run", "run_ref", help="Only the rows of this run (id, prefix or latest).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--out", default="goldband-export", show_default=True,
              help="Directory for TABLE.jsonl / TABLE.csv files, or - for stdout (one table).")
@store_option
def export(tables: tuple[str, ...], run_ref: str | None, fmt: str, out: str, store_path: Path | None) -> None:
    """Export tables as JSON Lines or CSV (JSON columns stay JSON text); nothing is written to the store,
    so a damaged one exports what still reads. Serves SQLite files and PostgreSQL stores alike."""
    from goldband.store import open_store
    from goldband.store.connection import translate

    path = resolve_store(store_path)
    with open_store(path, create=False, migrate_schema=False) as db, translate(path, "read"):
        known = [n for n in db.table_names() if not n.startswith("_")]
        chosen = list(tables) or known
        unknown = [t for t in chosen if t not in known]
        if unknown:
            raise UsageError(f"unknown table {', '.join(unknown)}; expected one of: {', '.join(known)}")
        if out == "-" and len(chosen) != 1:
            raise UsageError("--out - writes one table to stdout; add exactly one --table")
        run_id = db.resolve_run(run_ref).id if run_ref else None
        for name in chosen:
            count = _export_table(db, name, run_id, fmt, out)
            if out != "-":
                click.echo(f"wrote {count:,} rows to {Path(out) / f'{name}.{fmt}'}")


def _export_table(db: Store, name: str, run_id: str | None, fmt: str, out: str) -> int:
    rows = _rows(db, name, run_id)
    if out == "-":
        return _write(rows, sys.stdout, fmt)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{name}.{fmt}").open("w", encoding="utf-8", newline="") as f:
        return _write(rows, f, fmt)


def _rows(db: Store, name: str, run_id: str | None) -> Iterator[dict[str, Any]]:
    """The table's rows (of one run when ``run_id``) as dicts, in the SQL both backends accept."""
    where, params = "1 = 1", []
    if run_id is not None:
        columns = {d[0] for d in db.conn.execute(f'SELECT * FROM "{name}" LIMIT 0').description}
        where = RUN_FILTERS.get(name) or ("run_id = ?" if "run_id" in columns else "1 = 0")
        params = [run_id]
    cursor = db.conn.execute(f'SELECT * FROM "{name}" WHERE {where}', params)
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def _write(rows: Iterator[dict[str, Any]], stream: IO[str], fmt: str) -> int:
    count = 0
    writer: csv.DictWriter[str] | None = None
    for row in rows:
        if fmt == "jsonl":
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            if writer is None:
                writer = csv.DictWriter(stream, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
        count += 1
    return count


@store.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", "into", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The store to merge into (created when missing).")
def merge(sources: tuple[Path, ...], into: Path) -> None:
    """Merge shard stores into one, with no duplicates (merging a file twice adds nothing).

    Everything is refused, with nothing written, when a file is not a goldband store, the schema versions
    differ, or two files hold the same trial (or verdict) with different content."""
    from goldband.store.maintenance import merge as merge_stores

    for path in (*sources, into):
        sqlite_only(path, "merge")
    report = merge_stores(list(sources), into)
    added = sum(report.added.values())
    click.echo(f"merged {len(sources)} store{'s' * (len(sources) != 1)} into {into}: {added:,} rows added")
    click.echo(table([[t, f"{report.added.get(t, 0):,}", f"{n:,}"] for t, n in report.counts.items()],
                     ["table", "added", "rows"], right={1, 2}))
    if report.touched:
        click.echo(f"series points computed again over the merged trials of: {', '.join(sorted(report.touched))}")
    for run, digest in report.run_hashes.items():
        click.echo(f"run {run}: {digest}")
    for name, n in sorted(report.skipped.items()):
        click.echo(f"not merged: {name} ({n:,} rows; monitoring, registry and trace tables are not per-run)")


@store.command()
@click.option("--older-than", "older_than", required=True, help="Age of the runs to prune: 180d, 26w.")
@click.option("--keep-baselines", is_flag=True,
              help="Keep the newest complete run of each branch and kind, and every run a verdict compared with.")
@click.option("--outputs-only", is_flag=True,
              help="Drop only raw outputs (trial outputs, tool calls, rendered messages); verdicts and series stay.")
@click.option("--dry-run", is_flag=True, help="Only print what would be deleted.")
@click.option("--vacuum", "then_vacuum", is_flag=True,
              help="Afterwards rebuild an SQLite file to return the space; VACUUM (ANALYZE) on PostgreSQL.")
@store_url_option
def prune(older_than: str, keep_baselines: bool, outputs_only: bool, dry_run: bool, then_vacuum: bool,
          store_path: str | None) -> None:
    """Delete runs started longer ago than --older-than (a running run is never pruned), in one transaction.

    Serves an SQLite file and a PostgreSQL store (``postgresql://user@host:port/db``) alike."""
    from goldband.store.maintenance import parse_age
    from goldband.store.maintenance import prune as prune_store

    age = parse_age(older_than)
    path = resolve_store_url(store_path)
    plan = prune_store(path, age, keep_baselines=keep_baselines, outputs_only=outputs_only, dry_run=dry_run)
    verb = "would prune" if dry_run else "pruned"
    what = "the outputs of " if outputs_only else ""
    click.echo(f"{verb} {what}{len(plan.runs):,} run{'s' * (len(plan.runs) != 1)} older than {older_than}"
               + (f" (kept {len(plan.kept_baselines)} baseline run(s): {', '.join(plan.kept_baselines)})"
                  if plan.kept_baselines else ""))
    for run in plan.runs:
        click.echo(f"  {run}")
    if plan.rows:
        click.echo(table([[t, f"{n:,}"] for t, n in plan.rows.items()], ["table", "rows"], right={1}))
    if then_vacuum and not dry_run:
        if isinstance(path, str):
            _vacuum_postgres(path, sorted({name.split()[0] for name in plan.rows}))
        else:
            vacuum.callback(store_path=path)  # type: ignore[misc]


def _vacuum_postgres(url: str, tables: list[str]) -> None:
    """``prune --vacuum`` on PostgreSQL: VACUUM (ANALYZE) of the tables the prune changed, after its commit."""
    from goldband.store import open_store
    from goldband.store.maintenance import vacuum_postgres
    from goldband.store.postgres import mask

    with open_store(url, create=False, migrate_schema=False) as db:
        done = vacuum_postgres(db, tables)
    click.echo(f"{mask(url)}: VACUUM (ANALYZE) of {len(done)} table{'s' * (len(done) != 1)}"
               + (f" ({', '.join(done)})" if done else "") + ": their free space is reused by new rows (the "
               "server's autovacuum does this too; VACUUM FULL returns it to the disk, locking each table)")


@store.command()
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@store_option
def backup(dest: Path, store_path: Path | None) -> None:
    """Copy the store to DEST with SQLite's online backup API (safe while runs write); never overwrites."""
    from goldband.store.maintenance import backup as backup_store

    path = resolve_store(store_path)
    sqlite_only(path, "backup")
    size = backup_store(path, dest)
    click.echo(f"backed up {path} to {dest} ({_bytes_text(size)}); to restore it, stop every writer, move {path} "
               f"and its -wal and -shm files aside, and copy {dest} to {path}")


@store.command("copy")
@click.argument("src")
@click.argument("dst")
def copy_command(src: str, dst: str) -> None:
    """Copy a whole store from SRC to DST (each an SQLite path or postgresql://user@host:port/db), keeping ids.

    The password comes from PGPASSWORD or ~/.pgpass (PGPASSFILE), never from the URL. DST must be empty (an absent
    file or an empty database); everything is written in one transaction and verified (rows and a content hash
    per table) before it is committed; on any problem nothing is written."""
    from goldband.store.copy import copy_store

    report = copy_store(src, dst)
    rate = report.rows / report.seconds if report.seconds > 0 else 0.0
    click.echo(f"copied {report.src} to {report.dst}: {report.rows:,} rows in {report.seconds:.2f} s "
               f"({rate:,.0f} rows/s)")
    click.echo(table([[t.name, f"{t.rows:,}", t.digest[:16]] for t in report.tables],
                     ["table", "rows", "sha256"], right={1}))
    click.echo(f"verified: the row count and content hash of each of {len(report.tables)} tables read back equal")
