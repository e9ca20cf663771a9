"""The documented import path of the monitoring application, kept working: it lives in ``goldband.watch``.

``from goldband.monitor import PredictionLogger, check, status`` gives the same
objects as ``from goldband.watch import ...``; names load on first use, so this
import stays cheap.
"""

from __future__ import annotations

from typing import Any

from goldband import watch

__all__ = list(watch.__all__)


def __getattr__(name: str) -> Any:
    if name in watch.__all__:
        return getattr(watch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
