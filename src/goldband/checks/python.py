"""A user-written check: ``python: module:function``.

The function receives ``(output, ctx)`` and returns a bool, a float score in
[0, 1] (pass at ``threshold``), a ``(passed, detail)`` pair or a CheckResult.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr

from goldband.checks.base import CheckContext, CheckError, CheckResult, CheckSpec, register


def import_callable(ref: str, base_dir: Path) -> Callable[..., Any]:
    """Import ``module:function``; the project directory is importable."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise CheckError(f"expected 'module:function', found {ref!r}")
    root = str(base_dir.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CheckError(f"cannot import module {module_name!r}: {exc}") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise CheckError(f"module {module_name!r} has no callable {attr!r}")
    return func  # type: ignore[no-any-return]


@register("python")
class PythonCheck(CheckSpec):
    """Call a user function ``module:function(output, ctx)``; see the module docstring."""

    primary = "function"
    function: str
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    args: dict[str, Any] = Field(default_factory=dict)
    _func: Callable[..., Any] | None = PrivateAttr(default=None)

    def prepare(self, base_dir: Path) -> None:
        self._func = import_callable(self.function, base_dir)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        if self._func is None:
            self.prepare(ctx.base_dir)
        assert self._func is not None
        return self._coerce(self._func(ctx.output, ctx, **self.args))

    def _coerce(self, value: Any) -> CheckResult:
        if isinstance(value, CheckResult):
            return value
        if isinstance(value, bool):
            return CheckResult.of(value, "returned " + str(value))
        if isinstance(value, (int, float)):
            return CheckResult(value >= self.threshold, float(value), f"score {value:.2f}")
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
            return CheckResult.of(value[0], str(value[1]))
        raise CheckError(f"{self.function} returned {type(value).__name__}; "
                         "expected bool, float, (bool, str) or CheckResult")
