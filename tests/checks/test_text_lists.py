"""List values for equals and starts_with: OpenAI Evals' list of ideals, any one a match."""

from __future__ import annotations

from tests.checks.test_checks import assert_fails, assert_passes, build, build_error, run


def test_equals_any_of_a_list() -> None:
    entry = {"equals": ["Paris", "Paris, France"]}
    assert_passes(run(entry, " Paris, France\n"))
    assert_fails(run(entry, "Lyon"), "output differs from each of 2 values")
    assert build(entry).describe() == "equals ['Paris', 'Paris, France']"


def test_equals_list_with_case_folding_and_without_strip() -> None:
    assert_passes(run({"equals": ["yes", "y"], "case_sensitive": False}, "YES"))
    assert_fails(run({"equals": ["yes"], "strip": False}, "yes "), "output differs from 'yes'")


def test_equals_single_value_is_unchanged() -> None:
    assert_fails(run({"equals": "30 days"}, "31 days"), "output differs from '30 days'")


def test_starts_with_any_of_a_list() -> None:
    entry = {"starts_with": ["Yes", "Sure"]}
    assert_passes(run(entry, "  Sure, here it is"))
    assert_fails(run(entry, "No."), "starts with 'No.'")
    assert_passes(run({"starts_with": ["yes"], "case_sensitive": False}, "YES!"))


def test_an_empty_list_is_refused_at_load() -> None:
    assert "an empty list matches nothing" in build_error({"equals": []})
    assert "an empty list matches nothing" in build_error({"starts_with": []})
    assert "parameter 'value'" in build_error({"starts_with": [1, 2]})
