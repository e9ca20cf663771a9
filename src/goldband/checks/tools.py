"""Tool-call checks: the model asked for the right tool with the right arguments.

The tools offered to the model are the target's ``params: {tools: [...]}`` in
OpenAI's format (``{"type": "function", "function": {"name", "parameters"}}``);
checks see them as ``CheckContext.tools``. ``tool_args_schema`` (or
``tool_call`` with ``validate_args: true``) validates each call's arguments
against its tool's ``parameters`` JSON Schema.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import ConfigDict, Field

from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.checks.structured import schema_errors
from goldband.errors import CheckError, shorten
from goldband.results import ToolCall


@register("tool_call")
class ToolCallCheck(CheckSpec):
    """Pass when a tool call named ``name`` was made whose arguments include ``arguments``.

    ``match: subset`` (default) accepts extra arguments; ``exact`` does not.
    ``validate_args: true`` also validates the matching calls' arguments against
    the tool's JSON Schema from the target's ``tools``. Example::

        - tool_call: get_weather
          arguments: {city: Paris}
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    primary = "name"
    tool: str | None = Field(None, alias="name")
    arguments: dict[str, Any] | None = None
    match: Literal["subset", "exact"] = "subset"
    validate_args: bool = False

    def describe(self) -> str:
        return self.label or f"tool_call {self.tool}"

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        calls = ctx.trial.completion.tool_calls if ctx.trial.completion else ()
        named = [c for c in calls if self.tool is None or c.name == self.tool]
        if not named:
            seen = ", ".join(c.name for c in calls) or "none"
            return CheckResult.of(False, f"no call to {self.tool}; calls made: {seen}")
        matching = [c for c in named if self.arguments is None or self._matches(c.arguments)]
        if not matching:
            got = json.dumps(named[0].arguments)[:80]
            return CheckResult.of(False, f"{named[0].name} called with {got}")
        if self.validate_args:
            problems = [p for c in matching if (p := argument_problem(c, ctx.tools))]
            if problems:
                return CheckResult.of(False, problems[0])
        how = "with expected arguments" if self.arguments is not None else ""
        return CheckResult.of(True, " ".join(filter(None, [f"called {matching[0].name}", how,
                                                          "valid" if self.validate_args else ""])))

    def _matches(self, args: dict[str, Any] | str) -> bool:
        if not isinstance(args, dict) or self.arguments is None:
            return False
        if self.match == "exact":
            return args == self.arguments
        return all(k in args and args[k] == v for k, v in self.arguments.items())


@register("tool_args_schema")
class ToolArgsSchema(CheckSpec):
    """Pass when every tool call's arguments are valid against its tool's JSON Schema (the target's ``tools``).

    A call to a tool the target does not offer fails; no call at all fails
    (``- not: {tool_call: {}}`` says "no call"); ``name`` limits it to one tool's
    calls. A target without ``tools`` is an *error*: there is nothing to validate
    against. Example::

        - tool_args_schema: get_weather
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    primary = "name"
    tool: str | None = Field(None, alias="name")

    def describe(self) -> str:
        return self.label or ("tool_args_schema" + (f" {self.tool}" if self.tool else ""))

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        if not ctx.tools:
            raise CheckError("the target offers no tools to validate against; "
                             "give the target 'params: {tools: [...]}' (OpenAI's tool format)")
        calls = ctx.trial.completion.tool_calls if ctx.trial.completion else ()
        named = [c for c in calls if self.tool is None or c.name == self.tool]
        if not named:
            seen = ", ".join(c.name for c in calls) or "none"
            return CheckResult.of(False, f"no call{f' to {self.tool}' if self.tool else ''}; calls made: {seen}")
        problems = [p for c in named if (p := argument_problem(c, ctx.tools))]
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            return CheckResult.of(False, problems[0] + more)
        return CheckResult.of(True, f"{len(named)} call(s) with valid arguments")


def tool_schema(name: str, tools: tuple[dict[str, Any], ...]) -> dict[str, Any] | None:
    """The ``parameters`` JSON Schema of the offered tool ``name`` ({} when it declares none), or None."""
    for tool in tools:
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("name") == name:
            params = function.get("parameters")
            return params if isinstance(params, dict) else {}
    return None


def argument_problem(call: ToolCall, tools: tuple[dict[str, Any], ...]) -> str | None:
    """Why ``call``'s arguments do not fit its tool's schema, or None when they do."""
    if not tools:
        raise CheckError("the target offers no tools to validate against; give the target 'params: {tools: [...]}'")
    schema = tool_schema(call.name, tools)
    if schema is None:
        offered = ", ".join(_names(tools)) or "none"
        return f"{call.name} is not among the offered tools ({offered})"
    if not isinstance(call.arguments, dict):
        return f"{call.name}: arguments are not a JSON object: {shorten(str(call.arguments), 60)}"
    try:
        error = schema_errors(schema, call.arguments)
    except Exception as exc:  # the target's own schema is broken: that is no verdict on the model
        raise CheckError(f"tool {call.name}'s parameters are not a usable JSON Schema: "
                         f"{type(exc).__name__}: {shorten(str(exc), 120)}") from None
    return None if error is None else f"{call.name}: {error}"


def _names(tools: tuple[dict[str, Any], ...]) -> list[str]:
    functions = [t.get("function", t) for t in tools if isinstance(t, dict)]
    return [str(f["name"]) for f in functions if isinstance(f, dict) and "name" in f]
