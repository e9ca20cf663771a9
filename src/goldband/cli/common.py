"""What the store-facing commands share: finding the project and its store.

The store path follows the plugin's precedence: ``--store`` (relative to the
current directory), then ``GOLDBAND_STORE``, the ini key ``goldband_store``
(pytest.ini, pyproject.toml, tox.ini, setup.cfg), ``store:`` in the project
config (``goldband.config.load_config``), whose default is ``.goldband/store.db``;
all but ``--store`` relative to the project root (the nearest directory up with
a project config, goldband.yaml or pyproject.toml with ``[tool.goldband]``; else
the current directory). Reports likewise with ``GOLDBAND_REPORT``,
``goldband_report`` and ``reports:``.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from goldband.errors import GoldbandError, UsageError

if TYPE_CHECKING:
    from goldband.config.project import ProjectConfig
    from goldband.store import Store

F = TypeVar("F", bound=Callable[..., Any])
CONFIG_KEYS = {"store": "store", "report": "reports"}  # the option's name -> its key in the project config


def store_option(fn: F) -> F:
    return click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="The store file (default: GOLDBAND_STORE, goldband.yaml 'store:', "
                             ".goldband/store.db).")(fn)


def store_url_option(fn: F) -> F:
    """``--store`` for the commands that serve a PostgreSQL store too (a URL must reach them unmangled: a Path
    would fold its ``//``)."""
    return click.option("--store", "store_path", type=str,
                        help="The store file, or postgresql://user@host:port/db (default: GOLDBAND_STORE, "
                             "goldband.yaml 'store:', .goldband/store.db).")(fn)


def find_root(start: Path | None = None) -> Path:
    """The nearest directory up with a project config; else ``start`` (the current directory)."""
    from goldband.config.project import find_config_file

    def has_config(folder: Path) -> bool:
        with contextlib.suppress(GoldbandError):  # a malformed pyproject.toml on the way up is not ours
            return find_config_file(folder) is not None
        return False

    here = (start or Path.cwd()).resolve()
    return next((folder for folder in (here, *here.parents) if has_config(folder)), here)


def project() -> tuple[ProjectConfig, Path]:
    """The project's configuration and its root folder (the nearest folder up with a goldband.yaml)."""
    from goldband.config.project import load_config

    root = find_root()
    return load_config(root)[0], root


def project_path(root: Path, value: str) -> Path:
    """A configured path: relative to the project root unless absolute."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def configured(name: str, option: Path | None) -> Path | None:
    """``store`` or ``report``: the option, else env, ini, project config (the plugin's precedence);
    None when it is turned off (``off``, ``none``, ``false``, ``0``, as the run's recorder reads them)."""
    from goldband.config.settings import OFF
    from goldband.store.postgres import locate

    value, root = setting(name, option)
    if value.strip().lower() in OFF:
        return None
    if name == "store":  # a PostgreSQL URL, or a file
        return locate(value, root or Path())
    return Path(value) if root is None else project_path(root, value)


def setting(name: str, option: Path | str | None) -> tuple[str, Path | None]:
    """``store`` or ``report`` as given (option, env, ini, project config), and the root a relative value is
    taken from (None: the option, relative to the current directory)."""
    if option is not None:
        return str(option), None
    from goldband.config.project import load_config

    root = find_root()
    value = (os.environ.get(f"GOLDBAND_{name.upper()}") or _ini(root, f"goldband_{name}")
             or getattr(load_config(root)[0], CONFIG_KEYS[name]))
    return str(value), root


def store_or_off(option: Path | None) -> Path | None:
    """The configured store, or None when the project turned it off."""
    return configured("store", option)


def resolve_store(option: Path | None) -> Path:
    """The configured store, for a command that needs one: an error when it is turned off."""
    path = configured("store", option)
    if path is None:
        raise UsageError("the store is turned off (store: off, GOLDBAND_STORE or --store); this command needs it",
                         fix="point --store (or GOLDBAND_STORE, or 'store:' in goldband.yaml) at a store file")
    return path


def resolve_store_url(option: str | None) -> Path | str:
    """The configured store for ``store migrate|info``: a checked PostgreSQL URL (no password in it), else the
    SQLite file as ``resolve_store`` finds it."""
    from goldband.store.postgres import check_url, postgres_url

    url = postgres_url(setting("store", option)[0])
    if url is None:
        return resolve_store(Path(option) if option is not None else None)

    check_url(url)
    return url


def resolve_reports(option: Path | None) -> Path:
    path = configured("report", option)
    if path is None:
        raise UsageError("reports are turned off (reports: off, GOLDBAND_REPORT or --report)",
                         fix="give --report DIR")
    return path


@contextlib.contextmanager
def opened_store(option: Path | None, *, create: bool = False, check: bool = False) -> Iterator[Store]:
    """The project's store, for a command; a clear error when it is missing or unusable, or when a read
    reaches a damaged page (never a traceback). ``check``: refuse a store damaged anywhere, before any write."""
    from goldband.store import open_store
    from goldband.store.connection import translate

    store = open_store(resolve_store(option), create=create, check=check)
    try:
        with translate(store.path, "read"):
            yield store
    finally:
        store.close()


def _ini(root: Path, key: str) -> str | None:
    """The ini key from the first pytest config file present (pytest's own order)."""
    for name in ("pytest.ini", ".pytest.ini"):
        if (root / name).is_file():
            return _cfg(root / name, "pytest", key)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and "ini_options" in (pytest_cfg := _toml(pyproject).get("tool", {}).get("pytest", {})):
        value = pytest_cfg["ini_options"].get(key)
        return str(value) if value else None
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        if (root / name).is_file():
            return _cfg(root / name, section, key)
    return None


def _cfg(path: Path, section: str, key: str) -> str | None:
    parser = configparser.ConfigParser(interpolation=None)
    with contextlib.suppress(configparser.Error, OSError, UnicodeDecodeError):  # the config loader says what
        parser.read(path, encoding="utf-8")
        return parser.get(section, key, fallback=None) or None
    return None


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):  # the config loader reports it, located
        return {}
