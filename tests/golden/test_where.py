"""The ``--where`` filter: parsing, clear errors, matching, and its laws (round trip, De Morgan)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldband.errors import ConfigError
from goldband.golden.where import MAX_DEPTH, And, Compare, Node, Not, Or, Truthy, parse_where

FIELDS = {"feedback": "text", "judge_score": "number", "check_failed": "bool", "version": "text",
          "latency.ms": "number"}


def matches(text: str, record: dict[str, Any]) -> bool:
    return parse_where(text, fields=FIELDS).matches(record)


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_where(text, fields=FIELDS)
    return str(info.value)


# --- matching ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "record", "expected"), [
    ("feedback=negative OR check_failed OR judge_score<3", {"feedback": "negative"}, True),
    ("feedback=negative OR check_failed OR judge_score<3", {"check_failed": True}, True),
    ("feedback=negative OR check_failed OR judge_score<3", {"judge_score": 2.5}, True),
    ("feedback=negative OR check_failed OR judge_score<3", {"judge_score": 3, "check_failed": False}, False),
    ("feedback=negative", {"feedback": ["positive", "negative"]}, True),  # a list: any item
    ("feedback=negative", {"feedback": "Negative"}, False),  # = is exact
    ("feedback ~ NEGAT", {"feedback": "negative"}, True),  # ~ is a case-insensitive substring
    ("feedback ~ 'late refund'", {"feedback": ["ok", "A LATE REFUND"]}, True),
    ("judge_score >= 3 AND judge_score <= 4", {"judge_score": 4}, True),
    ("judge_score > 4.5", {"judge_score": 4.5}, False),
    ("judge_score != 3", {}, False),  # a missing value never matches a comparison ...
    ("NOT judge_score = 3", {}, True),  # ... and NOT is plain negation
    ("judge_score = null", {"judge_score": None}, True),
    ("judge_score != null", {"judge_score": 0}, True),
    ("judge_score", {"judge_score": 0}, False),  # bare field: truthy
    ("feedback", {"feedback": []}, False),
    ("check_failed = false", {"check_failed": False}, True),
    ("check_failed = false", {}, False),
    ("judge_score < 3", {"judge_score": "2"}, False),  # a value of another type never matches
    ("judge_score < 3", {"judge_score": True}, False),
    ("judge_score < 3", {"judge_score": float("nan")}, False),
    ("version = 3", {"version": "3"}, True),  # on a text field an unquoted number is text
    ("version = 3", {"version": 3}, True),
    ("version >= 2026-01-01", {"version": "2026-02-01"}, True),
    ("latency.ms > 1e3", {"latency.ms": 1500}, True),
    ("not (feedback = negative and check_failed)", {"feedback": "negative", "check_failed": True}, False),
    ('feedback = "say \\"hi\\"\\n"', {"feedback": 'say "hi"\n'}, True),
])
def test_matches(text: str, record: dict[str, Any], expected: bool) -> None:
    assert matches(text, record) is expected


def test_keeps_the_text_and_the_fields_it_reads() -> None:
    where = parse_where("feedback=negative OR NOT (judge_score<3 AND check_failed)", fields=FIELDS)
    assert where.text == "feedback=negative OR NOT (judge_score<3 AND check_failed)"
    assert where.fields == {"feedback", "judge_score", "check_failed"}
    assert str(where) == 'feedback = "negative" OR NOT (judge_score < 3 AND check_failed)'


def test_keywords_are_case_insensitive_and_and_binds_tighter() -> None:
    where = parse_where("check_failed or feedback=a AnD judge_score<1", fields=FIELDS)
    assert where.tree == Or((Truthy("check_failed"), And((Compare("feedback", "=", "a"),
                                                            Compare("judge_score", "<", 1)))))


# --- errors -----------------------------------------------------------------------------------------------


def test_unknown_field_names_the_column_the_closest_field_and_the_list() -> None:
    message = error("feedback=negative OR judge_scor<3")
    assert message.startswith("--where, column 22: unknown field 'judge_scor'")
    assert "did you mean 'judge_score'?" in message
    assert "one of: check_failed, feedback, judge_score, latency.ms, version" in message


@pytest.mark.parametrize(("text", "start", "part"), [
    ("judge_score<abc", "--where, column 13: field 'judge_score' is number, but 'abc' is not", "a number"),
    ("check_failed = 3", "--where, column 16: field 'check_failed' is bool", "true or false"),
    ("check_failed < true", "--where, column 14: '<' cannot compare true and false", "= or !="),
    ("judge_score ~ 3", "--where, column 13: '~' (contains) needs a text field", "=, !="),
    ("judge_score < null", "--where, column 13: null can only be compared with = or !=", "= null"),
    ("", "--where, column 1: empty expression", "a condition"),
    ("feedback =", "--where, column 11: expected a value after '=', found end of expression", "a number"),
    ("(check_failed", "--where, column 14: unexpected end of expression", "')' to close the '(' at column 1"),
    ("check_failed feedback", "--where, column 14: unexpected 'feedback'", "OR, AND"),
    ("feedback = 'open", "--where, column 12: unterminated quoted text", "a closing quote"),
    ("feedback ! x", "--where, column 10: unexpected '!'", "an operator"),
    ("OR check_failed", "--where, column 1: unexpected 'OR'", "a field name"),
    ('feedback = "\\q"', "--where, column 12: bad escape", "JSON escapes"),
])
def test_errors_name_the_column(text: str, start: str, part: str) -> None:
    message = error(text)
    assert message.startswith(start)
    assert part in message


def test_nesting_is_bounded() -> None:
    assert "nested" in error("(" * (MAX_DEPTH + 1) + "check_failed" + ")" * (MAX_DEPTH + 1))
    assert "nested" in error("NOT " * (MAX_DEPTH + 1) + "check_failed")
    assert matches("(" * MAX_DEPTH + "check_failed" + ")" * MAX_DEPTH, {"check_failed": True})


def test_field_types_are_checked() -> None:
    with pytest.raises(ValueError, match="field types"):
        parse_where("a", fields={"a": "date"})


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('()"\'=!<>~ .-_0123456789aeNOTRDfeedbackjudge_score\\')) ,
               max_size=40) | st.text(max_size=40))
def test_any_text_parses_or_is_a_config_error(text: str) -> None:
    try:
        where = parse_where(text, fields=FIELDS)
    except ConfigError as exc:
        assert str(exc).startswith("--where, column ")
    else:
        assert parse_where(str(where), fields=FIELDS).tree == where.tree


# --- laws -------------------------------------------------------------------------------------------------

TEXTS = st.text(max_size=12)
NUMBERS = st.integers(-1000, 1000) | st.floats(allow_nan=False, allow_infinity=False, width=32)


def _compare(field: str) -> st.SearchStrategy[Node]:
    kind = FIELDS[field]
    if kind == "number":
        ops, values = st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), NUMBERS
    elif kind == "text":
        ops, values = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "~"]), TEXTS
    else:
        ops, values = st.sampled_from(["=", "!="]), st.booleans()
    nulls = st.builds(Compare, st.just(field), st.sampled_from(["=", "!="]), st.none())
    return st.builds(Compare, st.just(field), ops, values) | nulls


LEAVES = st.sampled_from(sorted(FIELDS)).flatmap(lambda f: _compare(f) | st.just(Truthy(f)))
TREES = st.recursive(LEAVES, lambda children: st.one_of(
    st.builds(Not, children),
    st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
    st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
), max_leaves=6)
VALUES = st.none() | st.booleans() | NUMBERS | TEXTS | st.lists(TEXTS, max_size=3)
RECORDS = st.dictionaries(st.sampled_from(sorted(FIELDS)), VALUES)


@settings(max_examples=100, deadline=None)
@given(TREES)
def test_the_text_of_a_tree_parses_back_to_it(tree: Node) -> None:
    assert parse_where(str(tree), fields=FIELDS).tree == tree


@settings(max_examples=80, deadline=None)
@given(TREES, TREES, RECORDS)
def test_de_morgan(a: Node, b: Node, record: dict[str, Any]) -> None:
    def m(text: str) -> bool:
        return parse_where(text, fields=FIELDS).matches(record)

    assert m(f"NOT (({a}) OR ({b}))") == m(f"NOT ({a}) AND NOT ({b})")
    assert m(f"NOT (({a}) AND ({b}))") == m(f"NOT ({a}) OR NOT ({b})")
    assert m(f"({a}) OR ({b})") == (m(str(a)) or m(str(b)))
