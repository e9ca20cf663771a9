"""The ``goldband store`` commands on a PostgreSQL store, as real subprocesses: migrate, info (with retention),
prune (dry run, outputs only, VACUUM), export; each bad input gets one clear message (URL masked, a fix), exit
status 2 and nothing written; the commands about an SQLite file (check, vacuum, backup, merge) refuse a
PostgreSQL store naming what to do instead; the pytest plugin records a run into PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from goldband.store import open_store, postgres, schema
from goldband.store.copy import copy_store
from pgkit import PostgresServer, free_port
from storefixtures import demo_cases, write_run

FIRST, LAST = "2026-11-01T12:00:00.000+00:00", "2026-11-02T12:00:00.000+00:00"


def goldband(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m goldband ARGS`` in ``cwd`` (no project config there), with this test's PGPASSFILE."""
    return subprocess.run([sys.executable, "-m", "goldband", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def pg_state(url: str) -> dict[str, int]:
    """Every table of the database and its row count: what "nothing written" is checked against."""
    with psycopg.connect(url) as conn:
        return {name: int(conn.execute(f'SELECT COUNT(*) FROM "{name}"'.encode()).fetchone()[0])  # type: ignore[index]
                for name in postgres.tables(conn)}


def test_migrate_applies_every_migration_once_and_is_idempotent(postgres_url: str, tmp_path: Path) -> None:
    dry = goldband(tmp_path, "store", "migrate", "--dry-run", "--store", postgres_url)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [f"would apply {name}" for name in schema.names()]
    assert pg_state(postgres_url) == {}
    done = goldband(tmp_path, "store", "migrate", "--store", postgres_url)
    assert done.returncode == 0, done.stderr
    version = len(schema.names())
    assert done.stdout.splitlines() == [*(f"applied {n}" for n in schema.names()),
                                        f"{postgres_url}: schema version {version}"]
    state = pg_state(postgres_url)
    assert state[postgres.MIGRATIONS_TABLE] == version and state["runs"] == 0
    again = goldband(tmp_path, "store", "migrate", "--store", postgres_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"{postgres_url}: schema version {version} (up to date)"]
    assert pg_state(postgres_url) == state


def test_info_shows_server_schema_runs_and_tables(postgres_url: str, tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with open_store(path) as store:
        write_run(store, "20261101-120000-0001", FIRST, demo_cases())
        write_run(store, "20261102-120000-0002", LAST, demo_cases())
    copy_store(str(path), postgres_url)
    before = pg_state(postgres_url)
    done = goldband(tmp_path, "store", "info", "--store", postgres_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"store   {postgres_url}: ") and lines[0].endswith(" (database)")
    with psycopg.connect(postgres_url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    assert lines[1] == f"backend postgresql {server}"
    assert lines[2] == f"schema  version {len(schema.names())} ({', '.join(schema.names())})"
    assert lines[3] == f"runs    2 from {FIRST} to {LAST}"
    by_table = {line.split()[0]: line.split()[1:] for line in lines[6:]}
    assert by_table["runs"][0] == "2" and by_table["trials"][0] == str(before["trials"]) != "0"
    assert by_table["trials"][2] in ("kB", "MB") and float(by_table["trials"][1]) > 0
    assert set(before) <= set(by_table)
    assert pg_state(postgres_url) == before


def test_info_of_an_empty_database_says_to_migrate_and_writes_nothing(postgres_url: str, tmp_path: Path) -> None:
    done = goldband(tmp_path, "store", "info", "--store", postgres_url)
    assert done.returncode == 2 and done.stdout == ""
    assert "holds no goldband store yet" in done.stderr
    assert f"fix: create the schema with `goldband store migrate --store {postgres_url}`" in done.stderr
    assert "Traceback" not in done.stderr and pg_state(postgres_url) == {}


def test_a_password_in_the_url_is_refused_and_never_shown(postgres: PostgresServer, tmp_path: Path) -> None:
    url = f"postgresql://{postgres.user}:s3cret@{postgres.host}:{postgres.port}/{postgres.dbname}"
    for command in ("migrate", "info"):
        done = goldband(tmp_path, "store", command, "--store", url)
        assert done.returncode == 2 and "s3cret" not in done.stdout + done.stderr
        assert f"{url.replace(':s3cret@', ':***@')}: the store URL carries a password" in done.stderr
        assert "PGPASSWORD or a ~/.pgpass file" in done.stderr


def test_an_unreachable_server_and_wrong_credentials_are_refused(postgres: PostgresServer, postgres_url: str,
                                                                 tmp_path: Path) -> None:
    away = f"postgresql://{postgres.user}@127.0.0.1:{free_port()}/goldband"
    done = goldband(tmp_path, "store", "migrate", "--store", away)
    assert done.returncode == 2 and f"{away}: the PostgreSQL server cannot be reached" in done.stderr
    assert "fix: start the server, or correct the host and port" in done.stderr
    wrong = goldband(tmp_path, "store", "migrate", "--store", postgres_url,
                     env={"PGPASSWORD": "wrong", "PGPASSFILE": str(tmp_path / "none")})
    assert wrong.returncode == 2 and f"{postgres_url}: the server refused the credentials" in wrong.stderr
    assert "Traceback" not in done.stderr + wrong.stderr and pg_state(postgres_url) == {}


def test_a_foreign_database_is_refused_untouched(postgres_url: str, tmp_path: Path) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE customers (id BIGINT PRIMARY KEY)")
        conn.execute("INSERT INTO customers VALUES (1)")
    for command in ("migrate", "info"):
        done = goldband(tmp_path, "store", command, "--store", postgres_url)
        assert done.returncode == 2, done.stdout
        assert f"{postgres_url}: not a goldband store: the database has other tables (customers)" in done.stderr
        assert "fix: point the URL at another (empty) database" in done.stderr
    assert pg_state(postgres_url) == {"customers": 1}


def test_a_newer_schema_is_refused_untouched(postgres_url: str, tmp_path: Path) -> None:
    assert goldband(tmp_path, "store", "migrate", "--store", postgres_url).returncode == 0
    with psycopg.connect(postgres_url) as conn:
        conn.execute(f'INSERT INTO "{postgres.MIGRATIONS_TABLE}" (migration_set, name, applied_at) '
                     "VALUES ('goldband', '9999_from_the_future', 'now')".encode())
    before = pg_state(postgres_url)
    for command in ("migrate", "info"):
        done = goldband(tmp_path, "store", command, "--store", postgres_url)
        assert done.returncode == 2, done.stdout
        assert "newer than this goldband" in done.stderr and "9999_from_the_future" in done.stderr
        assert "fix: upgrade goldband" in done.stderr
    assert pg_state(postgres_url) == before


SQLITE_ONLY = {  # command -> the fix its refusal names
    ("store", "vacuum"): "VACUUM (ANALYZE)",
    ("store", "check"): "pg_amcheck",
    ("store", "backup", "{tmp}/backup.db"): "pg_dump -Fc (docs/store.md",
    ("store", "merge", "{tmp}/a.db", "--into", "{url}"): "goldband store copy FILE URL",
    ("store", "merge", "{url}", "--into", "{tmp}/merged.db"): "goldband store copy FILE URL",
}


@pytest.mark.parametrize("args", list(SQLITE_ONLY))
def test_sqlite_file_commands_refuse_a_postgresql_store_clearly(postgres_url: str, tmp_path: Path,
                                                                args: tuple[str, ...]) -> None:
    """A command about an SQLite file says so, names the store and what to do on PostgreSQL; nothing is written."""
    assert goldband(tmp_path, "store", "migrate", "--store", postgres_url).returncode == 0
    before = pg_state(postgres_url)
    argv = [a.format(tmp=tmp_path, url=postgres_url) for a in args]
    for how in ({"argv": ["--store", postgres_url], "env": {}}, {"argv": [], "env": {"GOLDBAND_STORE": postgres_url}}):
        if "merge" in args and how["argv"]:
            continue  # merge names its stores as arguments
        done = goldband(tmp_path, *argv, *how["argv"], env=how["env"])  # type: ignore[arg-type]
        assert done.returncode == 2, (args, how, done.stdout)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith(f"Error: {postgres_url}: `goldband store {args[1]}` works on an SQLite store "
                                      "file; this store is a PostgreSQL database; fix: "), done.stderr
        assert SQLITE_ONLY[args] in done.stderr
    assert pg_state(postgres_url) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no backup, no merged file, no postgresql: folder


@pytest.fixture
def old_and_new(postgres_url: str, tmp_path: Path) -> str:
    """A PostgreSQL store with a run from January 2025 and one from now."""
    path = tmp_path / "seed" / "a.db"
    recent = datetime.now(UTC).isoformat(timespec="milliseconds")
    with open_store(path) as store:
        write_run(store, "20250101-120000-0001", "2025-01-01T12:00:00.000+00:00", demo_cases())
        write_run(store, "20261101-120000-0002", recent, demo_cases())
    copy_store(str(path), postgres_url)
    shutil.rmtree(path.parent)
    return postgres_url


def test_prune_on_postgresql_dry_run_then_prune_and_vacuum(old_and_new: str, tmp_path: Path) -> None:
    url = old_and_new
    before = pg_state(url)
    info = goldband(tmp_path, "store", "info", "--store", url)
    assert info.returncode == 0, info.stderr
    assert info.stdout.splitlines()[4] == ("retain  everything (no retention set); 1 of 2 runs is older than 180d: "
                                           "`goldband store prune --older-than 180d --dry-run` lists what a prune "
                                           "removes")
    dry = goldband(tmp_path, "store", "prune", "--older-than", "180d", "--dry-run", "--store", url)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[:2] == ["would prune 1 run older than 180d", "  20250101-120000-0001"]
    assert pg_state(url) == before
    done = goldband(tmp_path, "store", "prune", "--older-than", "180d", "--vacuum", "--store", url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["pruned 1 run older than 180d", "  20250101-120000-0001"]
    assert dry.stdout.splitlines()[2:] == lines[2:-1]  # the dry run printed exactly what the prune removed
    assert lines[-1].startswith(f"{url}: VACUUM (ANALYZE) of ") and "trials" in lines[-1]
    after = pg_state(url)
    assert after["runs"] == 1 and after["trials"] == before["trials"] // 2
    assert after["verdicts"] == before["verdicts"] // 2
    info = goldband(tmp_path, "store", "info", "--store", url)
    assert "no run is older than 180d" in info.stdout.splitlines()[4]


def test_prune_outputs_only_on_postgresql_keeps_verdicts(old_and_new: str, tmp_path: Path) -> None:
    before = pg_state(old_and_new)
    done = goldband(tmp_path, "store", "prune", "--older-than", "26w", "--outputs-only", "--store", old_and_new)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pruned the outputs of 1 run older than 26w")
    assert pg_state(old_and_new) == before  # rows stay; only outputs are cleared
    with psycopg.connect(old_and_new) as conn:
        outputs = dict(conn.execute("SELECT run_id, COUNT(output) FROM trials GROUP BY run_id").fetchall())
    assert outputs["20250101-120000-0001"] == 0 and outputs["20261101-120000-0002"] > 0


def test_export_reads_a_postgresql_store(old_and_new: str, tmp_path: Path) -> None:
    done = goldband(tmp_path, "store", "export", "--store", old_and_new, "--table", "verdicts",
                    "--run", "20261101", "--format", "csv", "--out", "-")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == len(demo_cases()) and {r["run_id"] for r in rows} == {"20261101-120000-0002"}
    done = goldband(tmp_path, "store", "export", "--store", old_and_new, "--out", str(tmp_path / "x"))
    assert done.returncode == 0, done.stderr
    trials = [json.loads(line) for line in (tmp_path / "x" / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == pg_state(old_and_new)["trials"] and {"run_id", "output", "score"} <= set(trials[0])
    assert not (tmp_path / "x" / "_goldband_migrations.jsonl").exists()


def test_the_pytest_plugin_records_a_run_into_postgresql(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                         postgres: PostgresServer, postgres_url: str) -> None:
    """A URL given to the plugin is a PostgreSQL store: the run lands in the database, never in an SQLite file
    named after it (``postgresql:`` folders), and the password (from PGPASSFILE) never shows."""
    from tests.session.test_recorder import goldenset, make_project

    project = make_project(pytester, monkeypatch, goldenset(2, 1))
    result = project.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider",
                                          "--goldband-store", postgres_url)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    state = pg_state(postgres_url)
    assert state["runs"] == 1 and state["trials"] == 2 and state["verdicts"] == 2
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT status FROM runs").fetchone() == ("complete",)
    assert not any(p.name.startswith("postgres") for p in project.path.rglob("*"))
    shown = result.stdout.str() + result.stderr.str() + "".join(
        p.read_text(errors="replace") for p in project.path.rglob("*") if p.is_file())
    assert postgres.password not in shown
    refused = project.runpytest_subprocess("-p", "no:randomly", "--goldband-store",
                                           postgres_url.replace("@", ":s3cret@", 1))
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    err = refused.stdout.str() + refused.stderr.str()
    assert "the store URL carries a password" in err and "s3cret" not in err and ":***@" in err
    assert pg_state(postgres_url) == state
    assert not any(p.name.startswith("postgres") for p in project.path.rglob("*"))
