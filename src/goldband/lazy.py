"""Import heavy modules on first use, not at import time.

``goldband.stats`` pulls in scipy (~1.3 s). The harness warms it on a side
thread while pytest collects; modules that only *reference* it use this proxy
so that collection never waits for scipy.
"""

from __future__ import annotations

import importlib
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
