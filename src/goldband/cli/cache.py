"""``goldband cache clear``: forget cached samples and judgements (never cassettes or results).

Only goldband's own cache files are removed: the ``cached`` mode's sample
files (``CACHE/**/*.jsonl``) and the judge's judgements (rows of
``CACHE/judge.sqlite`` and of the store's ``judge_cache`` table, on either backend). Cassettes
(committed recordings) and the results store are left alone, so a mistyped
``cache:`` path can never delete anything else.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import click

from goldband.cli.common import find_root, project_path, store_option, store_or_off


def cache_dir(root: Path) -> Path:
    """``cache:`` of the project config (default ``.goldband/cache``)."""
    from goldband.config.project import load_config

    return project_path(root, load_config(root)[0].cache)


@click.group()
def cache() -> None:
    """Manage goldband's caches (samples of the `cached` mode, judge verdicts)."""


@cache.command()
@click.option("--samples/--no-samples", default=True, show_default=True, help="Cached provider samples.")
@click.option("--judge/--no-judge", default=True, show_default=True, help="Cached judge verdicts.")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@store_option
def clear(samples: bool, judge: bool, dry_run: bool, store_path: Path | None) -> None:
    """Remove cached samples and judgements, so the next `cached` run calls the providers again."""
    folder = cache_dir(find_root())
    verb = "would remove" if dry_run else "removed"
    if samples:
        files = sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []
        for path in files if not dry_run else []:
            path.unlink()
        _prune(folder, dry_run)
        click.echo(f"{verb} {len(files)} sample cache file(s) from {folder}")
    if judge:
        rows = _clear_table(folder / "judge.sqlite", "judgements", dry_run)
        store = store_or_off(store_path)
        rows += _clear_store(store, dry_run) if store is not None else 0
        click.echo(f"{verb} {rows} cached judgement(s)")


def _prune(folder: Path, dry_run: bool) -> None:
    """Remove directories the sample files left empty (deepest first)."""
    if dry_run or not folder.is_dir():
        return
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            path.rmdir()


def _clear_table(path: Path, name: str, dry_run: bool) -> int:
    if not path.is_file():
        return 0
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]).fetchone():
            return 0
        if dry_run:
            return int(conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])
        return conn.execute(f'DELETE FROM "{name}"').rowcount
    finally:
        conn.close()


def _clear_store(path: Path, dry_run: bool) -> int:
    """The store's ``judge_cache`` rows: an SQLite store not created yet has none; a PostgreSQL store is
    always asked (``path`` is its URL, folded: it is no file)."""
    from goldband.store import open_store
    from goldband.store.postgres import postgres_url

    if postgres_url(str(path)) is None and not path.is_file():
        return 0

    with open_store(path, create=False) as db:
        if dry_run:
            return int(db.conn.execute("SELECT COUNT(*) FROM judge_cache").fetchone()[0])
        return db.judge_cache_clear()
