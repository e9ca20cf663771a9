"""Tool-call arguments validated against the JSON Schema of the tools the target offers."""

from __future__ import annotations

from pathlib import Path

from goldband.checks import CheckContext, build_check
from goldband.results import Score, ToolCall
from tests.checks.test_checks import CALLS, TOOLS, WHERE, assert_error, assert_fails, assert_passes, make_trial


def grade(entry: dict[str, object], calls: tuple[ToolCall, ...], tools: tuple[dict[str, object], ...] = TOOLS
          ) -> Score:
    check = build_check(entry, WHERE, Path("."))
    return check.run(CheckContext(make_trial("", tool_calls=calls), tools=tools))  # type: ignore[arg-type]


def test_every_call_valid_against_its_tool_passes() -> None:
    assert_passes(grade({"tool_args_schema": None}, CALLS), "2 call(s) with valid arguments")


def test_an_invalid_argument_fails_with_the_schema_error() -> None:
    calls = (ToolCall("refund", {"order_id": "A1", "amount": -5}),)
    assert_fails(grade({"tool_args_schema": None}, calls), "refund: 1 schema error(s); at amount: -5 is less than")


def test_missing_and_extra_arguments_fail() -> None:
    assert_fails(grade({"tool_args_schema": None}, (ToolCall("refund", {"order_id": "A1"}),)),
                 "'amount' is a required property")
    extra = (ToolCall("refund", {"order_id": "A1", "amount": 1, "reason": "x"}),)
    assert_fails(grade({"tool_args_schema": None}, extra), "Additional properties are not allowed")


def test_a_call_to_a_tool_not_offered_fails() -> None:
    score = grade({"tool_args_schema": None}, (ToolCall("delete_account", {}),))
    assert_fails(score, "delete_account is not among the offered tools (lookup_order, refund)")


def test_arguments_that_are_not_json_fail() -> None:
    assert_fails(grade({"tool_args_schema": None}, (ToolCall("refund", "{oops"),)), "arguments are not a JSON object")


def test_name_limits_the_check_to_one_tools_calls() -> None:
    calls = (ToolCall("lookup_order", {"order_id": 7}), ToolCall("refund", {"order_id": "A1", "amount": 1}))
    assert_passes(grade({"tool_args_schema": "refund"}, calls))
    assert_fails(grade({"tool_args_schema": None}, calls), "lookup_order: 1 schema error(s)")
    assert_fails(grade({"tool_args_schema": "cancel"}, calls), "no call to cancel; calls made: lookup_order, refund")


def test_no_call_at_all_fails() -> None:
    assert_fails(grade({"tool_args_schema": None}, ()), "no call; calls made: none")


def test_a_target_without_tools_is_an_error_not_a_verdict() -> None:
    assert_error(grade({"tool_args_schema": None}, CALLS, tools=()), "the target offers no tools")


def test_a_tool_without_parameters_accepts_any_object() -> None:
    tools = ({"type": "function", "function": {"name": "ping"}},)
    assert_passes(grade({"tool_args_schema": None}, (ToolCall("ping", {"x": 1}),), tools))


def test_a_broken_tool_schema_is_an_error() -> None:
    tools = ({"type": "function", "function": {"name": "ping", "parameters": {"type": 12}}},)
    assert_error(grade({"tool_args_schema": None}, (ToolCall("ping", {}),), tools), "not a usable JSON Schema")


def test_tool_call_with_validate_args() -> None:
    entry = {"tool_call": "refund", "arguments": {"order_id": "A1"}, "validate_args": True}
    assert_passes(grade(entry, CALLS), "called refund with expected arguments valid")
    bad = (ToolCall("refund", {"order_id": "A1", "amount": "lots"}),)
    assert_fails(grade(entry, bad), "at amount: 'lots' is not of type 'number'")
    assert_error(grade(entry, CALLS, tools=()), "the target offers no tools")
