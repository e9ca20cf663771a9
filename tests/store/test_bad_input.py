"""Issue 12's bad input, through the real entry points (the pytest plugin and ``goldband`` commands, each in its
own process): an unreachable server, wrong credentials, a store of a newer schema, a database that is not
goldband's, a shard spec like ``3/2``, merging stores of different schema versions or of runs with conflicting
content. Each is one clear message naming the store (a password never shown) and the fix, with a usage exit
status, and nothing is written: not to the database, not to the files, and no ``postgresql:`` folder on disk."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlite_utils import Database

from damagekit import digest
from goldband.store import open_store, postgres, schema
from goldband.store.postgres import postgres_url
from pgkit import PostgresServer, free_port
from storefixtures import CaseSpec, demo_cases, write_run
from tests.session.test_recorder import goldenset, make_project

DAY1 = "2026-11-01T12:00:00.000+00:00"
FUTURE = "9999_from_the_future"


def goldband(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m goldband ARGS`` in ``cwd``, with this test's PGPASSFILE (and ``env`` over it)."""
    return subprocess.run([sys.executable, "-m", "goldband", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def state(location: str) -> object:
    """What "nothing written" is checked against: a database's tables and their rows, or a file's bytes."""
    if postgres_url(location) is None:
        return digest(Path(location)) if Path(location).exists() else None
    with psycopg.connect(location) as conn:
        return {name: sorted(map(repr, conn.execute(f'SELECT * FROM "{name}"'.encode()).fetchall()))
                for name in postgres.tables(conn)}


def files(folder: Path) -> set[str]:
    """The files under ``folder``, but Python's and pytest's caches, pytester's capture of a subprocess, and the
    golden set's lock file (the project's, beside its YAML: collection writes it on a first run, whatever the
    store; ``goldband.golden.lock``)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
            and p.name not in ("stdout", "stderr") and p.suffix != ".lock"}


def plugin(project: pytest.Pytester, store: str, *args: str) -> pytest.RunResult:
    """pytest with goldband in its own process, on the store ``store``."""
    return project.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider", f"--goldband-store={store}",
                                        *args)


# ---- the store's problems, each made on either backend ---------------------------------------------------------


def newer(location: str) -> tuple[str, str]:
    """A store one migration ahead of this goldband."""
    with open_store(location):
        pass
    if postgres_url(location) is None:
        with sqlite3.connect(location) as conn:
            conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                         f"VALUES ('goldband', '{FUTURE}', 'now')")
        conn.close()
    else:
        with psycopg.connect(location) as pg:
            pg.execute(f"INSERT INTO \"{postgres.MIGRATIONS_TABLE}\" (migration_set, name, applied_at) "
                       f"VALUES ('goldband', '{FUTURE}', 'now')".encode())
    return "is newer than this goldband", "upgrade goldband"


def foreign(location: str) -> tuple[str, str]:
    """Another program's database."""
    if postgres_url(location) is None:
        with sqlite3.connect(location) as conn:
            conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
            conn.execute("INSERT INTO customers VALUES (1)")
        conn.close()
        return "the store is damaged or not a goldband store: an SQLite database with other tables (customers)", "fix:"
    with psycopg.connect(location) as pg:
        pg.execute("CREATE TABLE customers (id BIGINT PRIMARY KEY)")
        pg.execute("INSERT INTO customers VALUES (1)")
    return "not a goldband store: the database has other tables (customers)", "point the URL at another"


PROBLEMS: dict[str, Callable[[str], tuple[str, str]]] = {"newer": newer, "foreign": foreign}
COMMANDS = (("history",), ("show", "latest"), ("store", "prune", "--older-than", "180d"), ("store", "info"))


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_a_newer_or_foreign_store_stops_every_entry_point_untouched(pytester: pytest.Pytester,
                                                                    monkeypatch: pytest.MonkeyPatch, store_at: str,
                                                                    problem: str) -> None:
    what, fix = PROBLEMS[problem](store_at)
    before = state(store_at)
    project = make_project(pytester, monkeypatch, goldenset(2, 1))
    project_files = files(project.path)
    result = plugin(project, store_at)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    err = result.stderr.str()
    assert f"{store_at}: " in err and what in err and fix in err and "Traceback" not in err
    for command in COMMANDS:
        done = goldband(project.path, *command, env={"GOLDBAND_STORE": store_at})
        assert done.returncode == 2, (command, done.stdout)
        assert done.stderr.startswith(f"Error: {store_at}: ") and what in done.stderr and fix in done.stderr
        assert done.stderr.count("\n") == 1, (command, done.stderr)
    assert state(store_at) == before
    assert files(project.path) == project_files


# ---- a server that cannot be used --------------------------------------------------------------------------------


@pytest.mark.parametrize("problem", ["unreachable", "credentials"])
def test_an_unusable_server_stops_every_entry_point(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                    postgres: PostgresServer, postgres_url: str, problem: str) -> None:
    if problem == "unreachable":
        url, env = f"postgresql://{postgres.user}@127.0.0.1:{free_port()}/goldband", {}
        what, fix = "the PostgreSQL server cannot be reached", "fix: start the server, or correct the host and port"
    else:
        url, env = postgres_url, {"PGPASSWORD": "wrong", "PGPASSFILE": str(pytester.path / "no-such-passfile")}
        what, fix = "the server refused the credentials", "fix: check the user in the URL and its password"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    project = make_project(pytester, monkeypatch, goldenset(2, 1))
    project_files = files(project.path)
    result = plugin(project, url)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    err = result.stderr.str()
    assert f"{url}: {what}" in err and fix in err and "Traceback" not in err and "wrong" not in err
    for command in (*COMMANDS, ("store", "migrate"), ("store", "export", "--out", "x")):
        done = goldband(project.path, *command, "--store", url, env=env)
        assert done.returncode == 2, (command, done.stdout)
        assert done.stderr.startswith(f"Error: {url}: {what}") and fix in done.stderr, (command, done.stderr)
        assert done.stderr.count("\n") == 1 and "wrong" not in done.stderr
    assert files(project.path) == project_files
    monkeypatch.delenv("PGPASSWORD", raising=False)  # this test's own connection uses the right password again
    monkeypatch.setenv("PGPASSFILE", str(postgres.passfile))
    assert state(postgres_url) == {}


def test_a_password_in_the_url_is_refused_masked_everywhere(pytester: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            postgres_url: str) -> None:
    url = postgres_url.replace("@", ":s3cret@", 1)
    masked = postgres_url.replace("@", ":***@", 1)
    project = make_project(pytester, monkeypatch, goldenset(2, 1))
    project_files = files(project.path)
    result = plugin(project, url)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    shown = result.stdout.str() + result.stderr.str()
    assert f"{masked}: the store URL carries a password" in shown and "s3cret" not in shown
    for command in (("history",), ("store", "prune", "--older-than", "180d"), ("store", "vacuum")):
        done = goldband(project.path, *command, env={"GOLDBAND_STORE": url})
        assert done.returncode == 2 and "s3cret" not in done.stdout + done.stderr, command
        assert f"{masked}: the store URL carries a password" in done.stderr and "PGPASSWORD" in done.stderr
    assert files(project.path) == project_files and state(postgres_url) == {}


# ---- a shard spec that cannot be ---------------------------------------------------------------------------------


def test_a_shard_spec_like_3_of_2_is_refused_before_the_store_is_touched(pytester: pytest.Pytester,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        store_at: str) -> None:
    project = make_project(pytester, monkeypatch, goldenset(2, 1))
    project_files = files(project.path)
    result = plugin(project, store_at, "--goldband-shard", "3/2", "--goldband-run-id", "r1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--goldband-shard*expected SHARD/TOTAL*found '3/2'*fix*"])
    assert "Traceback" not in result.stderr.str()
    assert state(store_at) in (None, {})  # no file made, no schema created
    assert files(project.path) == project_files


# ---- merging what cannot be merged ---------------------------------------------------------------------------------


def build(path: Path, cases: list[CaseSpec]) -> Path:
    with open_store(path) as store:
        write_run(store, "r1", DAY1, cases)
    return path


def test_merging_stores_of_different_schema_versions_is_refused(tmp_path: Path) -> None:
    shard = build(tmp_path / "a.db", demo_cases()[:3])
    old = tmp_path / "old.db"
    db = Database(sqlite3.connect(old, isolation_level=None), execute_plugins=False)
    schema.MIGRATIONS.apply(db, stop_before="0005_rendered_messages")
    db.close()
    target = build(tmp_path / "store.db", demo_cases()[3:])
    before = {p: digest(p) for p in (shard, old, target)}
    done = goldband(tmp_path, "store", "merge", str(shard), str(old), "--into", str(target))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"Error: {old}: the store's schema version 4 is older than this goldband's "
                                  f"({len(schema.names())}); stores of different schema versions cannot be merged")
    assert f"fix: run `goldband store migrate --store {old}` on it" in done.stderr
    assert {p: digest(p) for p in before} == before
    fresh = goldband(tmp_path, "store", "merge", str(shard), str(old), "--into", str(tmp_path / "new.db"))
    assert fresh.returncode == 2 and not list(tmp_path.glob("*new.db*"))


def test_merging_runs_with_conflicting_content_is_refused(tmp_path: Path) -> None:
    shard = build(tmp_path / "a.db", demo_cases()[:3])
    other = build(tmp_path / "other.db", [CaseSpec("refund-window", "ppppp", output="Never.")])
    target = tmp_path / "store.db"
    assert goldband(tmp_path, "store", "merge", str(shard), "--into", str(target)).returncode == 0
    before = digest(target)
    done = goldband(tmp_path, "store", "merge", str(other), "--into", str(target))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"Error: {other}: conflicting content: run r1: trials row (")
    assert "case_id='refund-window'" in done.stderr and "differs in output" in done.stderr
    assert "fix: merge only the shards of each run once" in done.stderr and "Nothing was written" in done.stderr
    assert digest(target) == before
    fresh = goldband(tmp_path, "store", "merge", str(shard), str(other), "--into", str(tmp_path / "new.db"))
    assert fresh.returncode == 2 and not list(tmp_path.glob("*new.db*"))
