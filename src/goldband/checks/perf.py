"""Budget checks on a trial's latency and cost."""

from __future__ import annotations

from pydantic import Field

from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.errors import CheckError


@register("latency_ms")
class LatencyMs(CheckSpec):
    """Pass when the call took at most ``max`` milliseconds (as recorded, in replay)."""

    primary = "max"
    max: float = Field(gt=0)

    def describe(self) -> str:
        return self.label or f"latency_ms <= {self.max:g}"

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        latency = ctx.trial.latency_ms
        if latency is None:
            raise CheckError("the trial has no latency measurement")
        ok = latency <= self.max
        score = 1.0 if ok else self.max / latency
        return CheckResult(ok, score, f"{latency:.0f} ms {'<=' if ok else '>'} {self.max:.0f} ms")


@register("cost_usd")
class CostUsd(CheckSpec):
    """Pass when the call cost at most ``max`` US dollars."""

    primary = "max"
    max: float = Field(gt=0)

    def describe(self) -> str:
        return self.label or f"cost_usd <= {self.max:g}"

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        cost = ctx.trial.completion.cost_usd if ctx.trial.completion else None
        if cost is None:
            raise CheckError(
                "cost unknown for this trial; set 'price' on the target or use a model litellm prices"
            )
        ok = cost <= self.max
        score = 1.0 if ok else self.max / cost
        return CheckResult(ok, score, f"${cost:.6f} {'<=' if ok else '>'} ${self.max:.6f}")
