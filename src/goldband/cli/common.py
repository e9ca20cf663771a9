"""What the store-facing commands share: finding the project, the store, and showing errors.

The store path follows the plugin's precedence: ``--store`` (relative to the
current directory), then ``GOLDBAND_STORE``, the ini key ``goldband_store``
(pytest.ini, pyproject.toml, tox.ini, setup.cfg), ``store:`` in goldband.yaml,
and the default ``.goldband/store.db``; all but ``--store`` relative to the
project root (the nearest directory up with goldband.yaml, or pyproject.toml
with ``[tool.goldband]``; else the current directory). Reports likewise with
``GOLDBAND_REPORT``, ``goldband_report`` and ``reports:``.
"""

from __future__ import annotations

import configparser
import contextlib
import functools
import os
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from goldband.errors import GoldbandError

if TYPE_CHECKING:
    from goldband.store import Store

F = TypeVar("F", bound=Callable[..., Any])
DEFAULTS = {"store": ".goldband/store.db", "report": "reports/"}
YAML_KEYS = {"store": "store", "report": "reports"}


class CliError(click.ClickException):
    """A goldband error shown as one line on stderr (``Error: ...``), exit status 1, no traceback."""


def handles_errors(fn: F) -> F:
    """Turn GoldbandError (and OSError on files) into a clean CLI error."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GoldbandError as exc:
            raise CliError(str(exc)) from None
    return wrapper  # type: ignore[return-value]


def store_option(fn: F) -> F:
    return click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="The store file (default: GOLDBAND_STORE, goldband.yaml 'store:', "
                             ".goldband/store.db).")(fn)


def find_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "goldband.yaml").is_file() or (folder / "goldband.yml").is_file():
            return folder
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "goldband" in _toml(pyproject).get("tool", {}):
            return folder
    return here


def configured(name: str, root: Path) -> str:
    """``store`` or ``report``: env, ini, goldband.yaml, default (the plugin's order below its option)."""
    env = os.environ.get(f"GOLDBAND_{name.upper()}")
    return env or _ini(root, f"goldband_{name}") or project_value(root, YAML_KEYS[name]) or DEFAULTS[name]


def resolve_store(option: Path | None) -> Path:
    if option is not None:
        return option
    root = find_root()
    path = Path(configured("store", root)).expanduser()
    return path if path.is_absolute() else root / path


def resolve_reports(option: Path | None) -> Path:
    if option is not None:
        return option
    root = find_root()
    path = Path(configured("report", root)).expanduser()
    return path if path.is_absolute() else root / path


@contextlib.contextmanager
def opened_store(option: Path | None, *, create: bool = False) -> Iterator[Store]:
    """The project's store, for a command; a clear error when it is missing or unusable."""
    from goldband.store import open_store

    path = resolve_store(option)
    try:
        store = open_store(path, create=create)
    except GoldbandError as exc:
        raise CliError(str(exc)) from None
    try:
        yield store
    finally:
        store.close()


def project_value(root: Path, key: str) -> str | None:
    for name in ("goldband.yaml", "goldband.yml"):
        if (root / name).is_file():
            import yaml

            with contextlib.suppress(yaml.YAMLError, OSError):
                data = yaml.safe_load((root / name).read_text(encoding="utf-8"))
                return str(data[key]) if isinstance(data, dict) and data.get(key) else None
            return None
    if (root / "pyproject.toml").is_file():
        value = _toml(root / "pyproject.toml").get("tool", {}).get("goldband", {}).get(key)
        return str(value) if value else None
    return None


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
    with contextlib.suppress(configparser.Error, OSError):
        parser.read(path, encoding="utf-8")
        return parser.get(section, key, fallback=None) or None
    return None


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError):
        return {}


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def spark(values: list[float | None]) -> str:
    """A text sparkline for values in [0, 1]; a gap for a missing value."""
    blocks = "▁▂▃▄▅▆▇█"
    return "".join(" " if v is None else blocks[min(7, max(0, int(v * 7.999)))] for v in values)


def table(rows: list[list[str]], header: list[str], right: set[int] | None = None) -> str:
    """A plain aligned text table."""
    right = right or set()
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    return "\n".join([line(header), *(line(r) for r in rows)])
