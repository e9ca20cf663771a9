"""``goldband store info | check | migrate | vacuum | export``: look after the results store."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from goldband.cli.common import opened_store, resolve_store, store_option
from goldband.errors import CommandFailed, StoreError, UsageError
from goldband.report.fmt import table

if TYPE_CHECKING:
    from goldband.store import Store

RUN_FILTERS = {  # table -> rows of one run
    "runs": "id = :run",
    "scores": "trial_id IN (SELECT id FROM trials WHERE run_id = :run)",
    "goldensets": "hash IN (SELECT goldenset_hash FROM run_goldensets WHERE run_id = :run)",
    "cases": "goldenset_hash IN (SELECT goldenset_hash FROM run_goldensets WHERE run_id = :run)",
    "targets": "hash IN (SELECT target_hash FROM run_targets WHERE run_id = :run)",
    "prompts": "hash IN (SELECT prompt_hash FROM targets WHERE hash IN "
               "(SELECT target_hash FROM run_targets WHERE run_id = :run))",
    "rubrics": "hash IN (SELECT rubric_hash FROM run_rubrics WHERE run_id = :run)",
    "judges": "hash IN (SELECT judge_hash FROM run_rubrics WHERE run_id = :run)",
}


@click.group()
def store() -> None:
    """Look after the results store (SQLite): info, check, migrate, vacuum, export."""


@store.command()
@store_option
def info(store_path: Path | None) -> None:
    """Where the store is, its schema version, and how many rows each table holds."""
    with opened_store(store_path) as db:
        sizes = disk_sizes(db.path)
        click.echo(f"store   {db.path}: {_sizes_text(sizes, _unit(sum(sizes.values())))}")
        click.echo(f"schema  version {db.schema_version} ({', '.join(db.migrations)})")
        counts = db.table_counts()
        click.echo(table([[name, f"{n:,}"] for name, n in counts.items()], ["table", "rows"], right={1}))


@store.command()
@store_option
def check(store_path: Path | None) -> None:
    """Run SQLite's integrity check; exit status 1 when the file is damaged (nothing is written to it)."""
    from goldband.store import open_store
    from goldband.store.connection import DAMAGED, damage, is_damaged, translate

    path = resolve_store(store_path)
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
@store_option
def migrate(dry_run: bool, store_path: Path | None) -> None:
    """Apply pending schema migrations (creating the store if it does not exist); a damaged store is refused."""
    from goldband.store import open_store
    from goldband.store.connection import check_schema
    from goldband.store.connection import migrate as apply

    path = resolve_store(store_path)
    with open_store(path, create=not dry_run, migrate_schema=False, check=True) as db:
        pending = check_schema(path, db.conn)
        if dry_run:
            click.echo("\n".join(f"would apply {name}" for name in pending) or "up to date")
            return
        done = apply(path, db.db) if pending else []
        for name in done:
            click.echo(f"applied {name}")
        click.echo(f"{path}: schema version {db.schema_version}" + ("" if done else " (up to date)"))


@store.command()
@store_option
def vacuum(store_path: Path | None) -> None:
    """Checkpoint the WAL and rebuild the file to reclaim space (needs no other writer).

    Prints the size on disk before and after as the main file plus its WAL (and
    shared-memory index, when present), the same way on both sides. A damaged
    store is refused before anything is written to it (``goldband store check``).
    """
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
    so a damaged one exports what still reads."""
    from goldband.store import open_store
    from goldband.store.connection import translate

    path = resolve_store(store_path)
    with open_store(path, create=False, migrate_schema=False) as db, translate(path, "read"):
        known = [n for n in db.table_counts() if not n.startswith("_")]
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
    where, params = None, None
    if run_id is not None:
        columns = {c.name for c in db.db.table(name).columns}
        where = RUN_FILTERS.get(name) or ("run_id = :run" if "run_id" in columns else "0")
        params = {"run": run_id}
    yield from db.db.table(name).rows_where(where, params)


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
