"""json_path operators (beside equality) and contains_json (JSON inside prose, optionally a schema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from goldband.checks.structured import MAX_STARTS, json_values
from tests.checks.test_checks import assert_fails, assert_passes, build, build_error, run

ORDER = json.dumps({"status": "refunded", "note": "Refund sent on Monday", "tags": ["vip", "eu"],
                    "total": 42.5, "items": [{"price": 10}, {"price": 32.5}], "meta": {"channel": "web"},
                    "flag": True})


@pytest.mark.parametrize(("entry", "ok"), [
    ({"contains": "Refund"}, True), ({"contains": "refund"}, False),
    ({"in": ["refunded", "closed"]}, True), ({"in": ["open"]}, False),
    ({"matches": r"^Refund sent on \w+day$"}, True), ({"matches": "Tuesday"}, False),
])
def test_text_operators(entry: dict[str, Any], ok: bool) -> None:
    path = "$.note" if "in" not in entry else "$.status"
    score = run({"json_path": path, **entry}, ORDER)
    assert score.outcome == ("pass" if ok else "fail"), score


def test_contains_on_a_list_and_on_a_mapping() -> None:
    assert_passes(run({"json_path": "$.tags", "contains": "vip"}, ORDER))
    assert_fails(run({"json_path": "$.tags", "contains": "us"}, ORDER), 'does not contain "us"')
    assert_passes(run({"json_path": "$.meta", "contains": "channel"}, ORDER))


@pytest.mark.parametrize(("op", "bound", "ok"), [
    ("gt", 42, True), ("gt", 42.5, False), ("gte", 42.5, True), ("lt", 50, True), ("lte", 42.4, False),
])
def test_numeric_comparisons(op: str, bound: float, ok: bool) -> None:
    score = run({"json_path": "$.total", op: bound}, ORDER)
    assert score.outcome == ("pass" if ok else "fail"), score


def test_a_range_combines_operators_and_every_match_must_hold() -> None:
    entry = {"json_path": "$.items[*].price", "gte": 0, "lt": 100}
    assert_passes(run(entry, ORDER), "$.items[*].price = [10, 32.5]")
    assert_fails(run({**entry, "lt": 20}, ORDER), "32.5 is not < 20")
    assert build(entry).describe() == 'json_path "$.items[*].price" gte 0 lt 100'


def test_comparisons_on_non_numbers_fail_and_booleans_are_not_numbers() -> None:
    assert_fails(run({"json_path": "$.status", "gt": 1}, ORDER), '"refunded" is not > 1')
    assert_fails(run({"json_path": "$.flag", "gte": 0}, ORDER), "true is not >= 0")
    assert_fails(run({"json_path": "$.total", "matches": "42"}, ORDER), "does not match")


def test_exists_false_requires_an_absent_path() -> None:
    assert_passes(run({"json_path": "$.error", "exists": False}, ORDER), "$.error absent")
    assert_fails(run({"json_path": "$.status", "exists": False}, ORDER), "$.status present")
    assert_passes(run({"json_path": "$.status", "exists": True}, ORDER), "present")


def test_value_and_operators_together() -> None:
    entry = {"json_path": "$.status", "value": "refunded", "in": ["refunded"]}
    assert_passes(run(entry, ORDER))
    score = run({"json_path": "$.status", "value": "open", "contains": "x"}, ORDER)
    assert_fails(score, 'expected "open"; does not contain "x"')


def test_the_old_forms_are_unchanged() -> None:
    assert_passes(run({"json_path": "$.status"}, ORDER), "$.status present")
    assert build({"json_path": "$.status", "value": "x"}).describe() == 'json_path "$.status"'
    assert_fails(run({"json_path": "$.nope", "gt": 1}, ORDER), "$.nope not found")


@pytest.mark.parametrize(("entry", "message"), [
    ({"json_path": "$.a", "matches": "(oops"}, "parameter 'matches': invalid regular expression"),
    ({"json_path": "$.a", "gt": "big"}, "parameter 'gt'"),
    ({"json_path": "$.a", "in": "abc"}, "parameter 'in'"),
    ({"json_path": "$.a", "exists": False, "value": 1}, "'exists: false' asks for an absent path"),
    ({"json_path": "$.a", "greater": 1}, "unknown parameter 'greater'"),
])
def test_bad_operators_are_named_at_load(entry: dict[str, Any], message: str) -> None:
    assert message in build_error(entry)


# --- contains_json -------------------------------------------------------------------------------

PROSE = 'Sure! Here is the order:\n```json\n{"city": "Paris", "days": 3}\n```\nAnything else?'


def test_json_values_are_found_in_fences_and_in_prose() -> None:
    assert json_values(PROSE) == [({"city": "Paris", "days": 3}, "fenced block 1")]
    found = json_values('Totals {"a": 1} then [1, {"b": [2]}] and {broken')
    assert [v for v, _ in found] == [{"a": 1}, [1, {"b": [2]}]]
    assert json_values("no json {here} [or here") == []


def test_brackets_inside_strings_do_not_confuse_the_search() -> None:
    assert [v for v, _ in json_values('x {"t": "a } b { c"} y')] == [{"t": "a } b { c"}]


def test_the_search_is_bounded_on_bracket_heavy_prose() -> None:
    text = "{" * (MAX_STARTS * 5) + '{"late": 1}'
    assert json_values(text) == []  # past the bounded number of starts: not searched


def test_contains_json_passes_on_json_in_prose() -> None:
    assert_passes(run({"contains_json": None}, PROSE), "JSON dict fenced block 1")
    assert_passes(run({"contains_json": None}, 'The list: [1, 2, 3].'))
    assert_fails(run({"contains_json": None}, "No JSON, only {curly} words."), "no JSON object or array")


def test_contains_json_with_a_schema_passes_when_any_value_is_valid() -> None:
    schema = {"type": "object", "required": ["city"], "properties": {"days": {"type": "integer"}}}
    assert_passes(run({"contains_json": schema}, 'First {"x": 1}, then {"city": "Rome", "days": 2}'))
    score = run({"contains_json": schema}, 'Only {"days": "three"}')
    assert_fails(score, "1 JSON value(s), none valid; at character 5: 2 schema error(s)")


def test_contains_json_schema_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "city.json").write_text('{"type": "object", "required": ["city"]}', encoding="utf-8")
    check = build({"contains_json": "city.json"}, tmp_path)
    assert check.describe() == "contains_json city.json"
    assert_passes(run({"contains_json": "city.json"}, PROSE, base_dir=tmp_path))


def test_contains_json_bad_schemas_are_named_at_load(tmp_path: Path) -> None:
    assert "check 'contains_json': invalid JSON Schema" in build_error({"contains_json": {"type": "nope"}})
    assert "cannot read schema file" in build_error({"contains_json": "missing.json"}, tmp_path)
