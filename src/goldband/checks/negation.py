"""``not``: the negation of any deterministic check.

The inner check is written exactly as it would be on its own, as the value of
``not``; ``label`` and ``transform`` beside ``not`` belong to the negation::

    - not: {contains: "as an AI"}
    - not: {regex: "^Sorry", case_sensitive: false}
      label: does not open with an apology

The negation passes when the inner check *fails*, and fails when it passes. An
inner *error* stays an error (a check that could not look is no evidence
either way), and a judged check (``rubric``) cannot be negated: write its
rubric in the negative instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import PrivateAttr, field_validator

from goldband.checks.base import CheckContext, CheckResult, CheckSpec, build_check, register
from goldband.errors import CheckError, ConfigError


@register("not")
class Not(CheckSpec):
    """Pass when the inner check fails (an inner error stays an error).

    Example::

        - not: {contains: "as an AI"}
    """

    primary = "check"
    primary_takes_mapping = True
    check: dict[str, Any]
    _inner: CheckSpec | None = PrivateAttr(default=None)

    @field_validator("check", mode="before")
    @classmethod
    def _a_check(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("'not' takes the check to negate, e.g. 'not: {contains: \"as an AI\"}'")
        return value

    def prepare(self, base_dir: Path) -> None:
        try:
            inner = build_check(self.check, "", base_dir)
        except ConfigError as exc:
            parts = [exc.what, f"expected {exc.expected}" if exc.expected else "", f"fix: {exc.fix}" if exc.fix else ""]
            raise CheckError("inner check: " + "; ".join(p for p in parts if p)) from None
        if inner.judged:
            raise CheckError(f"'{inner.name}' is graded by the judge and cannot be negated; "
                             "write its rubric in the negative instead")
        self._inner = inner

    def inner(self, base_dir: Path) -> CheckSpec:
        if self._inner is None:  # rebuilt from its parameters, not through build_check
            self.prepare(base_dir)
        assert self._inner is not None
        return self._inner

    def waits(self) -> bool:
        return self._inner is not None and self._inner.waits()

    def describe(self) -> str:
        if self.label:
            return self.label
        if self._inner is None:
            return f"not {', '.join(map(str, self.check))}"
        return f"not {self._inner.describe()}"

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        score = self.inner(ctx.base_dir).run(ctx)
        if score.outcome == "error":
            raise CheckError(f"inner check {score.check} could not be evaluated: {score.detail}")
        passed = score.outcome == "fail"
        verdict = "failed, as required" if passed else "passed, but must not"
        return CheckResult.of(passed, f"{score.check} {verdict}" + (f" ({score.detail})" if score.detail else ""))
