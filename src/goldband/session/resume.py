"""Reaping killed runs, and checking that a resume is safe.

A resumed run reuses the trials it already has, so it may only continue with
exactly the golden sets and targets (by content hash) it started with;
anything else would mix results of two different experiments under one id.
"""

from __future__ import annotations

from pathlib import Path

from goldband.engine.plan import CasePlan
from goldband.errors import ConfigError, GoldbandError, StoreError
from goldband.golden.goldenset import GoldenSet
from goldband.store import RunRow, Store, open_store
from goldband.store.connection import translate
from goldband.store.models import process_alive
from goldband.store.postgres import postgres_url
from goldband.store.writer import mark_dead_runs


def reap_dead_runs(store: Store) -> None:
    """Runs still marked running whose process is gone were killed: record them as incomplete."""
    rows = store.conn.execute("SELECT id, host, pid FROM runs WHERE status = 'running'").fetchall()
    dead = [run_id for run_id, host, pid in rows if not process_alive(host, pid)]
    if dead:
        with store.transaction() as conn:
            mark_dead_runs(conn, dead)


def check_stopped(run: RunRow, owner: tuple[str, int]) -> None:
    """Refuse to resume a run whose process (another than ``owner``, this session's) still runs."""
    if run.alive and (run.host, run.pid) != owner:
        raise StoreError(f"run {run.id} is still running (pid {run.pid} on {run.host})",
                         where=f"--goldband-resume {run.id}",
                         fix="wait for it to finish or stop it; a stopped or killed run can then be resumed")


def check_resumable(store: Store, run: RunRow, items: list[tuple[str, CasePlan]],
                    goldensets: dict[str, GoldenSet], owner: tuple[str, int]) -> None:
    """Refuse to resume a run that is still running, or with changed golden sets or targets."""
    check_stopped(run, owner)
    where = f"--goldband-resume {run.id}"
    used = {"golden set": store.run_goldensets(run.id), "target": store.run_targets(run.id)}
    now = {"golden set": {name: gs.content_hash for name, gs in goldensets.items()
                          if any(p.goldenset == name for _, p in items)},
           "target": {p.target.name: p.target.content_hash for _, p in items}}
    for kind in ("golden set", "target"):
        for name, digest in sorted(now[kind].items()):
            if used[kind].get(name) != digest:
                raise _mismatch(run, kind, name, used[kind], digest, where)


def _mismatch(run: RunRow, kind: str, name: str, used: dict[str, str], digest: str, where: str) -> ConfigError:
    if name not in used:
        what = f"run {run.id} did not include {kind} '{name}' (it ran: {', '.join(sorted(used)) or 'nothing'})"
    else:
        what = (f"{kind} '{name}' changed since run {run.id} started (it used {used[name][:19]}…, "
                f"now {digest[:19]}…)")
    sha = f" (git checkout {run.git_sha[:12]})" if run.git_sha else ""
    return ConfigError(what, where=where, expected=f"the {kind}s the run started with, unchanged",
                       fix=f"start a new run (drop --goldband-resume), select only the run's items with -k, "
                           f"or restore the files the run used{sha}")


def complete_run(path: Path | None, ref: str) -> str | None:
    """The id of the run ``ref`` names in the store at ``path`` when it is complete: nothing to resume.

    None otherwise, and the resume goes ahead (an unknown run, or a missing, turned-off or unusable store,
    is then reported as it always is). Reads without writing: no migration, no reaping of dead runs.
    ``path`` may fold a PostgreSQL URL (``goldband.store.postgres.postgres_url``): its database is read."""
    if path is None or (postgres_url(str(path)) is None and not path.is_file()):
        return None
    try:
        with open_store(path, create=False, migrate_schema=False) as db, translate(path, "read"):
            run = db.resolve_run(ref)
    except GoldbandError:
        return None
    return run.id if run.status == "complete" else None


def nothing_to_resume(run_id: str) -> str:
    return f"run {run_id} is complete: nothing to resume (nothing ran or changed; drop --resume to start a new run)"
