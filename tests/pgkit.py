"""A real PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` into a temp folder, on a free loopback port.

The session fixture ``postgres`` (registered in tests/conftest.py) starts one server per test process (one per
xdist worker) and stops it at the end; ``postgres_url`` gives a test a fresh database of its own on it. The
server uses password auth (SCRAM) on 127.0.0.1 only, so the tests exercise what a team's store does: the URL
carries no password, and libpq takes it from ``PGPASSWORD`` or a ``.pgpass`` file (``PGPASSFILE``; the server
writes one for itself, see ``PostgresServer.env``).

Where the binaries come from: ``initdb``/``pg_ctl`` on PATH, else Debian's ``/usr/lib/postgresql/NN/bin``
(newest NN). ``.ci/run`` installs Debian's ``postgresql`` package when they are missing and sets
``GOLDBAND_REQUIRE_POSTGRES=1``: then a missing server fails the tests instead of skipping them.

initdb refuses to run as root, so as root the server runs as the ``postgres`` user (Debian's package creates it)
or else ``nobody``, through ``runuser``; as anyone else it runs as the current user.

``start_postgres`` is the same server as a context manager, for scripts (bench/) that run outside pytest.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

REQUIRE_ENV = "GOLDBAND_REQUIRE_POSTGRES"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SERVER_USERS = ("postgres", "nobody")  # who runs the server when we are root (initdb refuses root)
SUPERUSER = "goldband"
# For tests only: durability off. A crash loses the throwaway cluster, never data anyone keeps.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresUnavailable(RuntimeError):
    """The server cannot be started here: no binaries, no non-root user to run them as, or a failed start."""


@dataclass(frozen=True)
class PostgresServer:
    """A running server: where it listens, who to log in as, and the password (kept out of every URL)."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)  # kept out of reprs, so a failing test's output never shows it
    dbname: str
    passfile: Path  # a .pgpass for this server (mode 0600), for PGPASSFILE
    socket_dir: Path  # the server's temp folder: its unix socket, data/ and server.log
    bin_dir: Path

    def url(self, db: str | None = None) -> str:
        """``postgresql://user@host:port/db``: no password, as a user writes it in goldband.yaml."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{db or self.dbname}"

    def env(self) -> dict[str, str]:
        """Environment variables that let libpq find the password in this server's .pgpass file."""
        return {"PGPASSFILE": str(self.passfile)}

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` (lower-case letters, digits, _) and return its URL."""
        if not NAME.fullmatch(name):
            raise ValueError(f"database name {name!r}: expected lower-case letters, digits and _ "
                             f"(starting with a letter or _, at most 63); fix: pick such a name")
        run([str(self.bin_dir / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user, name],
            env=client_env(self.env()))
        return self.url(name)


# --------------------------------------------------------------------------- finding the binaries


def find_bin_dir(path: str | None = None, roots: Sequence[Path] | None = None) -> Path | None:
    """The folder holding initdb and pg_ctl: PATH first, else the newest ``<root>/NN/bin``; None if neither."""
    roots = (DEBIAN_ROOT,) if roots is None else roots
    on_path = [shutil.which(name, path=path) for name in ("initdb", "pg_ctl")]
    if all(on_path):
        return Path(os.path.realpath(str(on_path[0]))).parent
    found = [bin_dir for root in roots for bin_dir in root.glob("*/bin") if has_server(bin_dir)]
    return max(found, key=version_key, default=None)


def has_server(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in ("initdb", "pg_ctl"))


def version_key(bin_dir: Path) -> tuple[int, ...]:
    """``/usr/lib/postgresql/15/bin`` -> (15,), so 15 sorts after 9.6."""
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when GOLDBAND_REQUIRE_POSTGRES is set (CI: PostgreSQL must never be skipped)."""
    if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
        pytest.fail(f"PostgreSQL is required here ({REQUIRE_ENV} is set) but {reason}; fix: install Debian's "
                    f"postgresql package (.ci/run does) or unset {REQUIRE_ENV} to skip these tests", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason} (set {REQUIRE_ENV}=1 to make this an error)")


# --------------------------------------------------------------------------- running as a non-root user


def server_user() -> str | None:
    """Who runs the server: None (ourselves) unless we are root, then the first of SERVER_USERS that exists."""
    if os.geteuid() != 0:
        return None
    for name in SERVER_USERS:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailable(f"running as root and none of the users {', '.join(SERVER_USERS)} exists "
                              "(initdb refuses root)")


def as_user(user: str | None, argv: list[str]) -> list[str]:
    if user is None:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and `runuser` (util-linux) is missing")
    return [runuser, "-u", user, "--", *argv]


def give(paths: Sequence[Path], user: str | None) -> None:
    """Hand the server's folders and files to the user that runs it."""
    if user is not None:
        for path in paths:
            shutil.chown(path, user=user, group=pwd.getpwnam(user).pw_gid)


def client_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without the caller's PG* settings (PGHOST, PGDATA, PGSERVICE...), plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    return env | (extra or {})


def run(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    """Run a PostgreSQL tool; on failure raise with its own output (which says what went wrong)."""
    done = subprocess.run(argv, env=env or client_env(), cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise PostgresUnavailable(f"`{' '.join(argv)}` exited with {done.returncode}:\n{done.stdout}{done.stderr}")


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def init_cluster(bin_dir: Path, root: Path, user: str | None, password: str) -> Path:
    """``initdb`` a cluster under ``root`` whose superuser SUPERUSER logs in with ``password`` (SCRAM)."""
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    give([root, pwfile], user)
    data = root / "data"
    run(as_user(user, [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=scram-sha-256",
                       f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]),
        cwd=root)
    pwfile.unlink()
    return data


def start_server(bin_dir: Path, root: Path, user: str | None, settings: Sequence[str]) -> int:
    """``pg_ctl start`` on a free port (retried: another process may take the port first); return the port."""
    options = ["-c listen_addresses=127.0.0.1", f"-k {root}", *(f"-c {setting}" for setting in settings)]
    for attempt in range(3):
        port = free_port()
        argv = [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "server.log"), "-w", "-t", "60",
                "-o", " ".join([f"-p {port}", *options]), "start"]
        try:
            run(as_user(user, argv), cwd=root)
            return port
        except PostgresUnavailable as exc:
            if attempt == 2:
                log = root / "server.log"
                raise PostgresUnavailable(f"{exc}\nserver.log:\n{log.read_text() if log.exists() else ''}") from None
    raise AssertionError("unreachable")


def write_passfile(folder: Path, port: int, password: str) -> Path:
    """A .pgpass line for this server, mode 0600 (libpq ignores a file others can read)."""
    passfile = folder / "pgpass"
    passfile.write_text(f"127.0.0.1:{port}:*:{SUPERUSER}:{password}\n")
    passfile.chmod(0o600)
    return passfile


def stop_server(bin_dir: Path, root: Path, user: str | None) -> None:
    """``pg_ctl stop -m fast`` if a postmaster runs (also after a start that timed out half-way)."""
    if (root / "data" / "postmaster.pid").exists():
        run(as_user(user, [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "-w", "stop"]),
            cwd=root)


@contextlib.contextmanager
def start_postgres(bin_dir: Path, *, fast: bool = True) -> Iterator[PostgresServer]:
    """A throwaway server in a temp folder; stopped (``pg_ctl stop -m fast``) and deleted on exit.

    ``fast`` turns durability off (fsync, synchronous_commit, full_page_writes) for tests; a benchmark that
    wants a real server's numbers passes ``fast=False``.
    """
    user = server_user()
    root = Path(tempfile.mkdtemp(prefix="goldband-pg-"))
    client = Path(tempfile.mkdtemp(prefix="goldband-pgclient-"))
    password = secrets.token_urlsafe(24)
    try:
        init_cluster(bin_dir, root, user, password)
        port = start_server(bin_dir, root, user, FAST_SETTINGS if fast else ())
        yield PostgresServer("127.0.0.1", port, SUPERUSER, password, "postgres",
                             write_passfile(client, port, password), root, bin_dir)
    finally:
        stop_server(bin_dir, root, user)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(client, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole test session (per xdist worker); skipped where none can run."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        unavailable(f"initdb/pg_ctl are neither on PATH nor in {DEBIAN_ROOT}/NN/bin")
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(start_postgres(bin_dir))
        except PostgresUnavailable as exc:
            unavailable(f"the server did not start: {exc}")
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty database for this test; libpq finds the password in the server's .pgpass (PGPASSFILE)."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(postgres.passfile))
    return postgres.create_database(database_name(request.node.name))


def database_name(test_name: str) -> str:
    """A valid, unique database name that still says which test made it: ``t_<test name>_<random>``."""
    readable = re.sub(r"[^a-z0-9_]+", "_", test_name.lower())[:40]
    return f"t_{readable}_{secrets.token_hex(4)}"


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def store_at(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store-facing test keeps its store, once per backend: an SQLite file, then a fresh database on
    the session's PostgreSQL server (``postgres_url``). The test opens it with ``open_store`` as users do."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return str(request.getfixturevalue("postgres_url"))
