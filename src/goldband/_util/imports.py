"""Importing a user's ``module:function`` from the project directory."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


class CallableNotFound(ImportError):
    """``module:function`` is malformed, its module cannot be imported, or it names no callable.

    The message says which; callers turn it into their own error (a check error,
    a config error naming the target).
    """


def import_callable(ref: str, base_dir: Path) -> Callable[..., Any]:
    """Import ``module:function``; the project directory ``base_dir`` is importable."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise CallableNotFound(f"expected 'module:function', found {ref!r}")
    root = str(base_dir.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CallableNotFound(f"cannot import module {module_name!r}: {exc}") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise CallableNotFound(f"module {module_name!r} has no callable {attr!r}")
    return func  # type: ignore[no-any-return]
