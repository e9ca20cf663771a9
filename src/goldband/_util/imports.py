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
    forgotten, so the project's own is imported instead of the stale one.
    """
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    loaded = sys.modules.get(top)
    here = (root / f"{top}.py").is_file() or (root / top).is_dir()  # a module, a package or a namespace package
    if loaded is None or not here or _from(loaded, root):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
        del sys.modules[name]


def _from(module: ModuleType, root: Path) -> bool:
    """Whether ``module`` was loaded from ``root`` (a namespace package: any of its folders)."""
    places = [module.__file__] if getattr(module, "__file__", None) else list(getattr(module, "__path__", []))
    return any(Path(p).resolve().is_relative_to(root) for p in places if p)
