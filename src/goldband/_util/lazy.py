"""Import heavy modules on first use, not at import time.

``goldband.bands.decide`` pulls in scipy (~1.3 s). The session warms it on a side
thread while pytest collects; modules that only *reference* it use this proxy
so that collection never waits for scipy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for a module; the first attribute access imports it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


def lazy_exports(package: str, where: Mapping[str, str], namespace: dict[str, Any],
                 exported: Sequence[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module-level ``__getattr__`` and ``__dir__``: ``name`` is imported from
    ``package.where[name]`` (or from ``where[name]`` itself when it is an absolute
    ``goldband.`` module) on first use, then kept in the package namespace."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = where[name] if where[name].startswith("goldband.") else f"{package}.{where[name]}"
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exported))

    return __getattr__, __dir__
