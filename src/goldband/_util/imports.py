"""Importing a user's ``module:function`` from the project directory."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from goldband.errors import ConfigError


def import_callable(ref: str, base_dir: Path) -> Callable[..., Any]:
    """Import ``module:function``; the project directory ``base_dir`` is importable.

    A malformed reference, a module that cannot be imported or a name that is not
    callable is a ``ConfigError`` saying which (callers add where it was named)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"expected 'module:function', found {ref!r}")
    root = base_dir.resolve()
    _project_first(root, module_name.partition(".")[0])
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r}: {exc}") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise ConfigError(f"module {module_name!r} has no callable {attr!r}")
    return func  # type: ignore[no-any-return]


def _project_first(root: Path, top: str) -> None:
    """Make ``root`` the first place ``top`` is imported from.

    ``root`` goes to the front of ``sys.path``; and when the project defines ``top``
    itself but a module of that name is already loaded from elsewhere (another
    project run earlier in this process, e.g. two ``goldband.run`` calls on two
    projects that both have ``app.py``), that module and its submodules are
    forgotten, so the project's own is imported instead of the stale one; so are the
    stale project's other modules that this project has too (``helper.py`` beside
    ``app.py``: two checkouts of one repository, as ``goldband compare`` runs them),
    else the fresh ``app`` would import the other checkout's ``helper``.
    """
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    loaded = sys.modules.get(top)
    here = (root / f"{top}.py").is_file() or (root / top).is_dir()  # a module, a package or a namespace package
    if loaded is None or not here or _from(loaded, root):
        return
    stale = _root_of(loaded)
    for name in [n for n, m in list(sys.modules.items())
                 if n == top or n.startswith(f"{top}.") or (stale is not None and _shadowed(m, stale, root))]:
        del sys.modules[name]


def _root_of(module: ModuleType) -> Path | None:
    """The folder a top-level module (``app.py``) or package (``app/__init__.py``) was imported from."""
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    return path.parents[1] if path.name == "__init__.py" else path.parent


def _shadowed(module: ModuleType | None, stale: Path, root: Path) -> bool:
    """Whether ``module`` was loaded from the ``stale`` project and ``root`` has a file at the same place."""
    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = Path(file).resolve()
    return path.is_relative_to(stale) and not path.is_relative_to(root) and (root / path.relative_to(stale)).exists()


def _from(module: ModuleType, root: Path) -> bool:
    """Whether ``module`` was loaded from ``root`` (a namespace package: any of its folders)."""
    places = [module.__file__] if getattr(module, "__file__", None) else list(getattr(module, "__path__", []))
    return any(Path(p).resolve().is_relative_to(root) for p in places if p)
