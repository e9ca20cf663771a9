"""``number``: a number read from the output, within an absolute or relative tolerance."""

from __future__ import annotations

import pytest

from goldband.checks.numeric import numbers
from tests.checks.test_checks import assert_fails, assert_passes, build, build_error, run


@pytest.mark.parametrize(("text", "found"), [
    ("42", [42.0]),
    ("It costs $1,234.50 today", [1234.5]),
    ("down -3.5% or \u22122", [-3.5, -2.0]),
    ("1e3 and .5", [1000.0, 0.5]),
    ("on 2024-01-05", [2024.0, 1.0, 5.0]),  # a hyphen after a digit is no minus sign
    ("GPT4 has none of its own", []),
    ("The answer is 7.", [7.0]),
])
def test_numbers_are_read_with_signs_separators_and_exponents(text: str, found: list[float]) -> None:
    assert numbers(text) == found


def test_exact_match_by_default() -> None:
    assert_passes(run({"number": 42}, "The answer is 42."), "found 42 (first number), within ±0 of 42")
    assert_fails(run({"number": 42}, "The answer is 42.5"), "off by 0.5 from 42")


def test_absolute_tolerance() -> None:
    entry = {"number": 3.14, "tolerance": 0.01}
    assert_passes(run(entry, "pi is about 3.1416"))
    assert_fails(run(entry, "pi is about 3.2"))


def test_relative_tolerance_is_a_fraction_of_the_expected_value() -> None:
    entry = {"number": 1000, "rel_tolerance": 0.05}
    assert_passes(run(entry, "roughly 1,040 users"))
    assert_fails(run(entry, "roughly 1,060 users"))
    assert build(entry).describe() == "number 1000 ±50"


def test_first_or_last_number() -> None:
    text = "Step 1: add 2 and 3. Final answer: 5"
    assert_fails(run({"number": 5}, text), "found 1 (first number)")
    assert_passes(run({"number": 5, "pick": "last"}, text), "found 5 (last number)")


def test_a_pattern_group_picks_the_number() -> None:
    text = "Working: 12 * 3 = 36. Answer: 36.0 apples"
    assert_passes(run({"number": 36, "pattern": r"Answer:\s*(\S+)"}, text), "first match of the pattern")
    assert_passes(run({"number": 36, "pattern": r"Answer: (?P<number>[\d.]+)"}, text))


def test_no_number_or_no_match_fails_with_the_reason() -> None:
    assert_fails(run({"number": 1}, "none at all"), "no number in the output")
    assert_fails(run({"number": 1, "pattern": "Answer: (.*)"}, "no answer"), "pattern /Answer: (.*)/ not found")
    assert_fails(run({"number": 1, "pattern": "Answer: (.*)"}, "Answer: many"), "holds no number")


def test_a_transform_can_cut_the_output_first() -> None:
    entry = {"number": 5, "transform": "output.split('Final answer:')[-1]"}
    assert_passes(run(entry, "Step 1: 2 + 3. Final answer: 5"))


@pytest.mark.parametrize(("entry", "message"), [
    ({"number": "many"}, "check 'number': parameter 'value'"),
    ({"number": 1, "tolerance": -1}, "parameter 'tolerance'"),
    ({"number": float("nan")}, "the expected value must be a finite number"),
    ({"number": 1, "pattern": "(unclosed"}, "parameter 'pattern': invalid regular expression"),
    ({"number": 1, "pick": "middle"}, "parameter 'pick'"),
])
def test_bad_parameters_are_named_at_load(entry: dict[str, object], message: str) -> None:
    assert message in build_error(entry)
