"""``goldband store migrate`` and ``goldband store info`` on a PostgreSQL store, as real subprocesses; each bad
input gets one clear message (URL masked, a fix), exit status 2 and nothing written; every other store command
says the PostgreSQL backend does not serve it yet."""

from __future__ import annotations

import os
import subprocess
import sys
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


@pytest.mark.parametrize("args", [("history",), ("store", "vacuum"), ("store", "export"),
                                  ("store", "prune", "--older-than", "180d"), ("show", "latest")])
def test_other_commands_say_postgres_is_not_served_yet(postgres_url: str, tmp_path: Path,
                                                       args: tuple[str, ...]) -> None:
    for how in ({"argv": ["--store", postgres_url], "env": {}}, {"argv": [], "env": {"GOLDBAND_STORE": postgres_url}}):
        done = goldband(tmp_path, *args, *how["argv"], env=how["env"])  # type: ignore[arg-type]
        assert done.returncode == 2, (args, how, done.stdout)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert (f"{postgres_url}: the PostgreSQL backend serves only `goldband store migrate`, "
                "`goldband store info` and `goldband store copy` so far") in done.stderr
        assert f"goldband store copy {postgres_url} FILE" in done.stderr
    assert pg_state(postgres_url) == {}


def test_the_pytest_plugin_refuses_a_postgresql_store_and_writes_no_file(pytester: pytest.Pytester,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the backend serves runs, a URL given to the plugin is one usage error, never an SQLite file named
    after it (``postgresql:`` folders), and the password never shows."""
    from tests.session.test_recorder import goldenset, make_project

    project = make_project(pytester, monkeypatch, goldenset(2, 1))
    result = project.runpytest("-p", "no:randomly", "--goldband-store", "postgresql://me:s3cret@127.0.0.1:1/gb")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "the PostgreSQL backend serves only `goldband store migrate`" in err and "s3cret" not in err
    assert not any(p.name.startswith("postgres") for p in project.path.rglob("*"))
