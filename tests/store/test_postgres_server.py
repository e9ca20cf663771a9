"""The real PostgreSQL server of tests/pgkit.py: it starts, logs in the way a team's store does, and takes writes
from many processes at once without losing any (the ground the PostgreSQL store backend stands on)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

import pgkit
from pgkit import PostgresServer, PostgresUnavailable, find_bin_dir, start_postgres, unavailable

psycopg = pytest.importorskip("psycopg")  # in the `test` extra; CI always has it


@pytest.fixture
def passfile_env(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> PostgresServer:
    """The password only in this server's .pgpass file (PGPASSFILE), none in PGPASSWORD."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(postgres.passfile))
    return postgres


def no_passfile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point libpq at an empty .pgpass, so neither ours nor the user's ~/.pgpass can supply a password."""
    empty = tmp_path / "pgpass"
    empty.write_text("")
    empty.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(empty))


def current_user(url: str) -> str:
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    assert row is not None
    return str(row[0])


# --------------------------------------------------------------------------- logging in


def test_the_url_names_user_host_port_and_database_but_never_the_password(postgres: PostgresServer) -> None:
    assert postgres.url("runs") == f"postgresql://goldband@127.0.0.1:{postgres.port}/runs"
    assert postgres.url() == f"postgresql://goldband@127.0.0.1:{postgres.port}/postgres"
    assert postgres.password not in postgres.url() and len(postgres.password) >= 24
    assert postgres.password not in repr(postgres)  # a failing test's output shows the fixture, not the password


def test_the_password_comes_from_pgpassword(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    no_passfile(monkeypatch, tmp_path)
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    assert current_user(postgres.url()) == "goldband"


def test_the_password_comes_from_a_pgpass_file(passfile_env: PostgresServer) -> None:
    assert oct(passfile_env.passfile.stat().st_mode & 0o777) == "0o600"  # libpq ignores a file others can read
    assert current_user(passfile_env.url()) == "goldband"


def test_without_a_password_the_server_refuses(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    no_passfile(monkeypatch, tmp_path)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        current_user(postgres.url())


def test_a_wrong_password_gives_psycopgs_authentication_error(postgres: PostgresServer,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    no_passfile(monkeypatch, tmp_path)
    monkeypatch.setenv("PGPASSWORD", "not-" + postgres.password)
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "goldband"'):
        current_user(postgres.url())


def test_a_wrong_user_with_the_right_password_is_refused_too(postgres: PostgresServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    url = postgres.url().replace("goldband@", "intruder@")
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "intruder"'):
        current_user(url)


def test_the_server_listens_on_loopback_only(passfile_env: PostgresServer) -> None:
    with psycopg.connect(passfile_env.url(), connect_timeout=10) as conn:
        row = conn.execute("SHOW listen_addresses").fetchone()
    assert row == ("127.0.0.1",)


# --------------------------------------------------------------------------- databases


def test_create_database_gives_an_empty_database_to_build_tables_in(passfile_env: PostgresServer) -> None:
    url = passfile_env.create_database("created_here")
    assert url == passfile_env.url("created_here")
    with psycopg.connect(url, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE scores (case_id text PRIMARY KEY, score double precision)")
        conn.execute("INSERT INTO scores VALUES ('refund-window', 0.5)")
        assert conn.execute("SELECT current_database(), count(*) FROM scores").fetchone() == ("created_here", 1)


def test_create_database_twice_says_it_exists(passfile_env: PostgresServer) -> None:
    passfile_env.create_database("made_twice")
    with pytest.raises(PostgresUnavailable, match='database "made_twice" already exists'):
        passfile_env.create_database("made_twice")


def test_postgres_url_gives_each_test_a_fresh_database_reachable_through_pgpassfile(postgres_url: str) -> None:
    assert os.environ["PGPASSFILE"] and "PGPASSWORD" not in os.environ
    with psycopg.connect(postgres_url, connect_timeout=10) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert name is not None and name[0].startswith("t_test_postgres_url_gives_each_test_a_")
    assert tables == (0,)


def test_database_names_are_valid_unique_and_readable() -> None:
    names = {pgkit.database_name("test_copy[sqlite->Postgres-3]") for _ in range(50)}
    assert len(names) == 50
    assert all(pgkit.NAME.fullmatch(name) and name.startswith("t_test_copy_sqlite_postgres_3__") for name in names)


@pytest.mark.parametrize("name", ["Upper", "with-dash", "1st", "x; DROP DATABASE postgres", "a" * 64, ""])
def test_create_database_refuses_a_name_that_would_need_quoting(postgres: PostgresServer, name: str) -> None:
    with pytest.raises(ValueError, match="expected lower-case letters, digits and _"):
        postgres.create_database(name)


# --------------------------------------------------------------------------- concurrent writers


WRITERS, ROWS, SHARED = 8, 150, 20


def write_rows(url: str, passfile: str, writer: int) -> None:
    """One writer process, its own connection: ROWS rows of its own, one transaction each, plus the SHARED keys
    that every writer inserts (idempotently, as the store keys its rows)."""
    os.environ.pop("PGPASSWORD", None)
    os.environ["PGPASSFILE"] = passfile
    with psycopg.connect(url, connect_timeout=30, autocommit=True) as conn:
        for i in range(ROWS):
            with conn.transaction():
                conn.execute("INSERT INTO trials (writer, i) VALUES (%s, %s)", (writer, i))
                conn.execute("INSERT INTO cases (case_id) VALUES (%s) ON CONFLICT DO NOTHING",
                             (f"case-{i % SHARED}",))


def test_eight_processes_inserting_at_once_lose_nothing(passfile_env: PostgresServer) -> None:
    url = passfile_env.create_database("eight_writers")
    with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
        conn.execute("CREATE TABLE trials (writer int, i int, PRIMARY KEY (writer, i))")
        conn.execute("CREATE TABLE cases (case_id text PRIMARY KEY)")
    context = multiprocessing.get_context("spawn")  # no fork of a process that may run threads
    writers = [context.Process(target=write_rows, args=(url, str(passfile_env.passfile), w)) for w in range(WRITERS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0] * WRITERS
    with psycopg.connect(url, connect_timeout=10) as conn:
        counts = conn.execute("SELECT writer, count(*) FROM trials GROUP BY writer ORDER BY writer").fetchall()
        cases = conn.execute("SELECT count(*) FROM cases").fetchone()
    assert counts == [(w, ROWS) for w in range(WRITERS)]
    assert cases == (SHARED,)


# --------------------------------------------------------------------------- stopping


def test_a_server_is_stopped_and_its_folders_removed_on_exit(postgres: PostgresServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with start_postgres(postgres.bin_dir) as other:
        monkeypatch.setenv("PGPASSFILE", str(other.passfile))
        assert other.port != postgres.port and current_user(other.url()) == "goldband"
        assert (other.socket_dir / "data" / "postmaster.pid").exists()
    assert not other.socket_dir.exists() and not other.passfile.exists()
    with pytest.raises(psycopg.OperationalError, match="Connection refused"):
        current_user(other.url())


# --------------------------------------------------------------------------- finding the binaries


def executable(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)


def test_the_binaries_are_found_on_path_first(tmp_path: Path) -> None:
    for name in ("initdb", "pg_ctl"):
        executable(tmp_path / "path" / name)
        executable(tmp_path / "debian" / "15" / "bin" / name)
    assert find_bin_dir(str(tmp_path / "path"), [tmp_path / "debian"]) == tmp_path / "path"


def test_else_the_newest_debian_version_is_taken(tmp_path: Path) -> None:
    for version in ("9.6", "15", "13"):
        for name in ("initdb", "pg_ctl"):
            executable(tmp_path / version / "bin" / name)
    executable(tmp_path / "17" / "bin" / "pg_ctl")  # a client-only install: no initdb, not a server
    assert find_bin_dir(str(tmp_path / "empty"), [tmp_path]) == tmp_path / "15" / "bin"
    assert find_bin_dir(str(tmp_path / "empty"), [tmp_path / "nothing"]) is None


def test_missing_binaries_skip_outside_ci_and_fail_in_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOLDBAND_REQUIRE_POSTGRES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no initdb here"):
        unavailable("no initdb here")
    monkeypatch.setenv("GOLDBAND_REQUIRE_POSTGRES", "1")
    with pytest.raises(pytest.fail.Exception, match=r"PostgreSQL is required here .* but no initdb here; fix: "):
        unavailable("no initdb here")


@pytest.mark.parametrize(("required", "outcome"), [("", {"skipped": 1}), ("1", {"errors": 1})])
def test_a_test_using_the_fixture_skips_without_binaries_unless_required(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, required: str,
        outcome: dict[str, int]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(pgkit, "DEBIAN_ROOT", tmp_path / "no-debian")
    monkeypatch.setenv("GOLDBAND_REQUIRE_POSTGRES", required)
    pytester.makeconftest('pytest_plugins = ["pgkit"]')
    pytester.makepyfile("def test_needs_a_server(postgres):\n    assert postgres.port\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(**outcome)
    expected = "PostgreSQL is required here" if required else "PostgreSQL tests skipped: initdb/pg_ctl are neither"
    result.stdout.fnmatch_lines([f"*{expected}*"])
