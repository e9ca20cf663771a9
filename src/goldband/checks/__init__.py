"""Deterministic checks, one small module per family, registered by name.

Importing this package registers every built-in check in ``REGISTRY``.
"""

from goldband.checks import perf, python, similarity, structured, text, tools
from goldband.checks.base import REGISTRY, CheckContext, CheckResult, CheckSpec, build_check, register
from goldband.errors import CheckError

__all__ = [
    "REGISTRY",
    "CheckContext",
    "CheckError",
    "CheckResult",
    "CheckSpec",
    "build_check",
    "perf",
    "python",
    "register",
    "similarity",
    "structured",
    "text",
    "tools",
]
