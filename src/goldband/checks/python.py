"""A user-written check: ``python: module:function``.

The function receives ``(output, ctx)`` and returns a bool, a float score in
[0, 1] (pass at ``threshold``), a ``(passed, detail)`` pair or a CheckResult.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr

from goldband._util.imports import import_callable
from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.errors import CheckError, ConfigError


@register("python")
class PythonCheck(CheckSpec):
    """Call a user function ``module:function(output, ctx)``; see the module docstring."""

    primary = "function"
    function: str
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    args: dict[str, Any] = Field(default_factory=dict)
    _func: Callable[..., Any] | None = PrivateAttr(default=None)

    def prepare(self, base_dir: Path) -> None:
        try:
            self._func = import_callable(self.function, base_dir)
        except ConfigError as exc:
            raise CheckError(str(exc)) from None

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
