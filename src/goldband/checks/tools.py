"""Tool-call checks: the model asked for the right tool with the right arguments."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import ConfigDict, Field

from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register


@register("tool_call")
class ToolCallCheck(CheckSpec):
    """Pass when a tool call named ``name`` was made whose arguments include ``arguments``.

    ``match: subset`` (default) accepts extra arguments; ``exact`` does not.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    primary = "name"
    tool: str | None = Field(None, alias="name")
    arguments: dict[str, Any] | None = None
    match: Literal["subset", "exact"] = "subset"

    def describe(self) -> str:
        return self.label or f"tool_call {self.tool}"

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        calls = ctx.trial.completion.tool_calls if ctx.trial.completion else ()
        named = [c for c in calls if self.tool is None or c.name == self.tool]
        if not named:
            seen = ", ".join(c.name for c in calls) or "none"
            return CheckResult.of(False, f"no call to {self.tool}; calls made: {seen}")
        if self.arguments is None:
            return CheckResult.of(True, f"called {named[0].name}")
        for call in named:
            if self._matches(call.arguments):
                return CheckResult.of(True, f"called {call.name} with expected arguments")
        got = json.dumps(named[0].arguments)[:80]
        return CheckResult.of(False, f"{named[0].name} called with {got}")

    def _matches(self, args: dict[str, Any] | str) -> bool:
        if not isinstance(args, dict) or self.arguments is None:
            return False
        if self.match == "exact":
            return args == self.arguments
        return all(k in args and args[k] == v for k, v in self.arguments.items())
