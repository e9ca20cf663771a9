"""A user-written check: ``python: module:function``.

The function is called as ``function(output, ctx, **args)``:

- ``output`` is the trial's text (``""`` when the model answered with tool calls only);
- ``ctx`` is a ``goldband.checks.base.CheckContext``: ``ctx.trial`` (case id, target,
  sample index, ``ctx.trial.completion`` with ``tool_calls``, tokens, cost, latency),
  ``ctx.case_input`` (the case's ``input``: its variables, or its chat messages),
  ``ctx.reference`` (the case's ``reference``, or None), ``ctx.base_dir`` (the
  project root, for files the check reads) and ``ctx.tools`` (the tools offered to
  the model: the target's ``params: {tools: [...]}``);
- ``args`` are the check's ``args:`` mapping, as keyword arguments.

It returns a bool, a number in [0, 1] (pass at ``threshold``), a ``(passed, detail)``
pair or a ``CheckResult``. Anything else is an *error* score naming what came back;
so is an ``async def`` function: checks are pure and run synchronously, on the
engine's thread, so keep them quick (no network: use a rubric or a callable target).

An exception raised by the function is, with ``on_error: error`` (the default), an
*error* score: the trial is ERROR and leaves the pass rate (the harness broke, not the
model). With ``on_error: fail`` it is a *fail* score whose detail is the exception:
for checks that raise on bad output (``json.loads(output)``, an ``assert``), so that
the trial counts in the rate as the model's failure.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr

from goldband._util.imports import import_callable
from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.errors import CheckError, ConfigError


@register("python")
class PythonCheck(CheckSpec):
    """Call a user function ``module:function(output, ctx, **args)``; see the module docstring."""

    primary = "function"
    function: str
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    args: dict[str, Any] = Field(default_factory=dict)
    on_error: Literal["error", "fail"] = "error"  # what an exception raised by the function scores
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
        try:
            value = self._func(ctx.output, ctx, **self.args)
        except Exception as exc:
            if self.on_error == "fail":
                return CheckResult(False, 0.0, f"raised {type(exc).__name__}: {exc} (on_error: fail)")
            raise
        return self._coerce(value)

    def _coerce(self, value: Any) -> CheckResult:
        if isinstance(value, CheckResult):
            return value
        if inspect.iscoroutine(value):  # checks are pure and run synchronously: nothing would await it
            value.close()
            raise CheckError(f"{self.function} is async; a python check must be a plain function "
                             "(do slow or remote work in a callable target, or grade with a rubric)")
        if isinstance(value, bool):
            return CheckResult.of(value, "returned " + str(value))
        if isinstance(value, (int, float)):
            return CheckResult(value >= self.threshold, float(value), f"score {value:.2f}")
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
            return CheckResult.of(value[0], str(value[1]))
        raise CheckError(f"{self.function} returned {type(value).__name__}; "
                         "expected bool, float, (bool, str) or CheckResult")
