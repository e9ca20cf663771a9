"""Importing a user's ``module:function`` from the project directory."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from goldband.errors import ConfigError


def import_callable(ref: str, base_dir: Path) -> Callable[..., Any]:
    """Import ``module:function``; the project directory ``base_dir`` is importable.

    A malformed reference, a module that cannot be imported or a name that is not
    callable is a ``ConfigError`` saying which (callers add where it was named)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"expected 'module:function', found {ref!r}")
    root = str(base_dir.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r}: {exc}") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise ConfigError(f"module {module_name!r} has no callable {attr!r}")
    return func  # type: ignore[no-any-return]
