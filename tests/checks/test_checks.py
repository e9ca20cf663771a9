"""Built-in checks: pass, fail, score and detail; options; errors as a third outcome.

Checks are built exactly as golden sets write them, through ``build_check``, and
evaluated through ``run`` (which turns exceptions into *error* scores). A generic
contract test runs every registered check through the same protocol.
"""

from __future__ import annotations

import json
import pickle
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rapidfuzz import distance, fuzz

from goldband.checks import REGISTRY, CheckContext, CheckResult, CheckSpec, build_check
from goldband.errors import ConfigError
from goldband.results import Completion, Score, ToolCall, Trial

WHERE = "goldensets/support.yaml:12: case 'refund'"


def make_trial(output: str | None = "", *, latency_ms: float | None = None,
               cost_usd: float | None = None, tool_calls: tuple[ToolCall, ...] = ()) -> Trial:
    completion = Completion(output, tool_calls=tool_calls, cost_usd=cost_usd, latency_ms=latency_ms)
    return Trial("refund", "support-v1", 0, completion)


def build(entry: Any, base_dir: Path = Path(".")) -> CheckSpec:
    return build_check(entry, WHERE, base_dir)


def run(entry: Any, output: str | None = "", *, reference: str | None = None,
        base_dir: Path = Path("."), **trial: Any) -> Score:
    check = build(entry, base_dir)
    ctx = CheckContext(trial=make_trial(output, **trial), reference=reference, base_dir=base_dir)
    score = check.run(ctx)
    assert score.outcome in ("pass", "fail", "error")
    assert 0.0 <= score.score <= 1.0
    if score.outcome == "error":
        assert score.score == 0.0
    return score


def build_error(entry: Any, base_dir: Path = Path(".")) -> str:
    with pytest.raises(ConfigError) as info:
        build(entry, base_dir)
    message = str(info.value)
    assert message.startswith(WHERE + ": "), message
    return message


def assert_passes(score: Score, detail: str = "") -> None:
    assert (score.outcome, score.score) == ("pass", 1.0), score
    assert detail in score.detail


def assert_fails(score: Score, detail: str = "", value: float = 0.0) -> None:
    assert score.outcome == "fail", score
    assert score.score == pytest.approx(value)
    assert detail in score.detail, score.detail


def assert_error(score: Score, detail: str) -> None:
    assert (score.outcome, score.score) == ("error", 0.0), score
    assert detail in score.detail, score.detail


# --- user code for the python check --------------------------------------------------------------

USER_CHECKS = '''
from goldband.checks import CheckResult


def is_short(output, ctx):
    return len(output) < 10


def polite(output, ctx):
    return "please" in output.lower()


def fraction_upper(output, ctx):
    letters = [c for c in output if c.isalpha()]
    return sum(c.isupper() for c in letters) / len(letters) if letters else 0.0


def with_reason(output, ctx):
    return ("sorry" not in output, "apologised" if "sorry" in output else "no apology")


def as_result(output, ctx):
    return CheckResult(True, 0.75, "custom detail")


def sees_context(output, ctx):
    return ctx.reference is not None and ctx.reference in output


def mentions(output, ctx, word, times=1):
    return output.count(word) >= times


def explodes(output, ctx):
    raise ValueError("user code broke")


def wrong_type(output, ctx):
    return "yes"


not_callable = 42
'''


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module of user check functions in ``tmp_path``; its name, removed afterwards."""
    name = f"gb_user_checks_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER_CHECKS), encoding="utf-8")
    monkeypatch.setattr(sys, "path", list(sys.path))  # import_callable inserts tmp_path
    yield name
    sys.modules.pop(name, None)


# --- equals --------------------------------------------------------------------------------------


def test_equals_passes_after_stripping_whitespace() -> None:
    assert_passes(run({"equals": "Yes"}, "  Yes\n"), "equal")


def test_equals_fails_and_shows_the_expected_value() -> None:
    assert_fails(run({"equals": "Yes"}, "No"), "output differs from 'Yes'")


def test_equals_without_strip_compares_whitespace() -> None:
    assert run({"equals": "Yes", "strip": False}, " Yes").outcome == "fail"
    assert run({"equals": "Yes", "strip": False}, "Yes").outcome == "pass"


def test_equals_case_insensitive() -> None:
    assert run({"equals": "Yes"}, "yes").outcome == "fail"
    assert_passes(run({"equals": "Yes", "case_sensitive": False}, "YES"))


def test_equals_on_a_trial_without_output_compares_empty_text() -> None:
    check = build({"equals": "x"})
    trial = Trial("refund", "support-v1", 0, None, error="timeout: no reply", error_kind="timeout")
    assert check.run(CheckContext(trial=trial)).outcome == "fail"


# --- contains / not_contains ---------------------------------------------------------------------


def test_contains_single_value() -> None:
    assert_passes(run({"contains": "30 days"}, "Returns within 30 days."), "found")
    assert_fails(run({"contains": "30 days"}, "Returns within a month."), "not found: '30 days'")


def test_contains_all_scores_the_fraction_found() -> None:
    score = run({"contains": ["refund", "30 days", "receipt"]}, "A refund within 30 days.")
    assert_fails(score, "not found: 'receipt'", value=2 / 3)
    assert "refund" not in score.detail


def test_contains_all_passes_when_every_value_is_present() -> None:
    assert_passes(run({"contains": ["a", "b"]}, "b then a"))


def test_contains_any_passes_with_one_hit_and_scores_one() -> None:
    assert_passes(run({"contains": ["30 days", "thirty days"], "mode": "any"}, "thirty days"))


def test_contains_any_fails_with_no_hit() -> None:
    score = run({"contains": ["30 days", "thirty days"], "mode": "any"}, "a month")
    assert_fails(score, "not found: '30 days', 'thirty days'")


def test_contains_is_case_sensitive_by_default() -> None:
    assert run({"contains": "Refund"}, "refund granted").outcome == "fail"
    assert_passes(run({"contains": "Refund", "case_sensitive": False}, "REFUND granted"))


def test_contains_case_folding_handles_non_ascii() -> None:
    assert_passes(run({"contains": "STRASSE", "case_sensitive": False}, "die Straße"))


def test_not_contains_passes_when_absent() -> None:
    assert_passes(run({"not_contains": "As an AI"}, "Sure, here it is."), "absent")


def test_not_contains_fails_and_names_what_was_found() -> None:
    score = run({"not_contains": ["As an AI", "I cannot"]}, "As an AI, I cannot say.")
    assert_fails(score, "found forbidden: 'As an AI', 'I cannot'")


def test_not_contains_all_mode_fails_on_any_single_hit() -> None:
    assert run({"not_contains": ["a", "b"]}, "only a").outcome == "fail"


def test_not_contains_any_mode_fails_only_when_all_are_present() -> None:
    assert_passes(run({"not_contains": ["a", "b"], "mode": "any"}, "only a"))
    assert_fails(run({"not_contains": ["a", "b"], "mode": "any"}, "a and b"), "found forbidden")


def test_not_contains_case_insensitive() -> None:
    assert run({"not_contains": "as an ai"}, "As an AI").outcome == "pass"
    assert run({"not_contains": "as an ai", "case_sensitive": False}, "As an AI").outcome == "fail"


# --- starts_with ---------------------------------------------------------------------------------


def test_starts_with_passes_after_leading_whitespace() -> None:
    assert_passes(run({"starts_with": "Hello"}, "\n  Hello there"))


def test_starts_with_fails_and_shows_the_start() -> None:
    assert_fails(run({"starts_with": "Hello"}, "Goodbye and thanks"), "starts with 'Goodbye")


def test_starts_with_without_strip() -> None:
    assert run({"starts_with": "Hello", "strip": False}, " Hello").outcome == "fail"


def test_starts_with_case_insensitive() -> None:
    assert run({"starts_with": "hello"}, "Hello").outcome == "fail"
    assert_passes(run({"starts_with": "hello", "case_sensitive": False}, "HELLO there"))


# --- regex ---------------------------------------------------------------------------------------


def test_regex_search_finds_a_match_anywhere() -> None:
    assert_passes(run({"regex": r"\d+ days"}, "within 30 days."), "matched")
    assert_fails(run({"regex": r"\d+ days"}, "within a month."), "no match")


def test_regex_fullmatch_needs_the_whole_output() -> None:
    assert run({"regex": r"\d+", "match": "fullmatch"}, "order 123").outcome == "fail"
    assert_passes(run({"regex": r"\d+", "match": "fullmatch"}, "123"))


def test_regex_case_insensitive() -> None:
    assert run({"regex": "refund"}, "REFUND").outcome == "fail"
    assert_passes(run({"regex": "refund", "case_sensitive": False}, "REFUND"))


def test_regex_negate_fails_when_the_forbidden_pattern_matches() -> None:
    assert_fails(run({"regex": r"(?i)as an ai", "negate": True}, "As an AI model"), "matched")
    assert_passes(run({"regex": r"(?i)as an ai", "negate": True}, "Sure."), "absent")


def test_regex_describe_names_the_pattern_and_negation() -> None:
    assert "/a+/" in build({"regex": "a+"}).describe()
    assert "not" in build({"regex": "a+", "negate": True}).describe()
    assert build({"regex": "a+", "label": "has a"}).describe() == "has a"


# --- length --------------------------------------------------------------------------------------


def test_length_in_chars_by_default() -> None:
    assert_passes(run({"length": {"max": 5}}, "12345"), "5 chars")
    assert_fails(run({"length": {"max": 5}}, "123456"), "6 chars")


def test_length_minimum() -> None:
    assert_fails(run({"length": {"min": 3}}, "ab"), "2 chars")
    assert run({"length": {"min": 3}}, "abc").outcome == "pass"


def test_length_in_words() -> None:
    entry = {"length": {"min": 2, "max": 3, "unit": "words"}}
    assert_passes(run(entry, "one  two\nthree"), "3 words")
    assert_fails(run(entry, "one two three four"), "4 words")
    assert_fails(run(entry, "one"), "1 words")


def test_length_in_lines() -> None:
    assert_passes(run({"length": {"max": 2, "unit": "lines"}}, "a\nb\n"), "2 lines")
    assert_fails(run({"length": {"max": 2, "unit": "lines"}}, "a\nb\nc"), "3 lines")


def test_length_parameters_may_sit_beside_the_key() -> None:
    assert run({"length": None, "max": 3}, "abcd").outcome == "fail"


# --- json_valid ----------------------------------------------------------------------------------


def test_json_valid_passes_on_json() -> None:
    assert_passes(run({"json_valid": None}, '{"a": [1, 2]}'), "valid JSON")


def test_json_valid_fails_with_the_parse_position() -> None:
    assert_fails(run({"json_valid": None}, '{"a": 1,}'), "not valid JSON:")
    assert "line 1 column 9" in run({"json_valid": None}, '{"a": 1,}').detail


def test_json_valid_accepts_a_fenced_block_by_default() -> None:
    fenced = '```json\n{"a": 1}\n```'
    assert_passes(run({"json_valid": None}, fenced))
    assert_passes(run({"json_valid": {}}, '```\n[1]\n```\n'))
    assert run({"json_valid": {"allow_fence": False}}, fenced).outcome == "fail"


def test_json_valid_does_not_unfence_text_around_a_fence() -> None:
    assert run({"json_valid": None}, 'Here you go:\n```json\n{"a": 1}\n```').outcome == "fail"


# --- json_schema ---------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "required": ["answer", "confidence"],
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number", "maximum": 1}},
}


def test_json_schema_inline_passes() -> None:
    assert_passes(run({"json_schema": SCHEMA}, '{"answer": "yes", "confidence": 0.9}'), "valid")


def test_json_schema_inline_fails_with_the_first_error_location() -> None:
    score = run({"json_schema": SCHEMA}, '{"answer": "yes", "confidence": 3}')
    assert_fails(score, "1 schema error(s); at confidence: 3 is greater than the maximum of 1")


def test_json_schema_counts_errors_and_names_the_root() -> None:
    score = run({"json_schema": SCHEMA}, "[1]")
    assert_fails(score, "at (root):")


def test_json_schema_fails_on_output_that_is_not_json() -> None:
    assert_fails(run({"json_schema": SCHEMA}, "yes, confident"), "not valid JSON")


def test_json_schema_accepts_fenced_json_unless_disabled() -> None:
    fenced = '```json\n{"answer": "yes", "confidence": 1}\n```'
    assert_passes(run({"json_schema": SCHEMA}, fenced))
    assert run({"json_schema": SCHEMA, "allow_fence": False}, fenced).outcome == "fail"


def test_json_schema_from_a_file_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "answer.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    entry = {"json_schema": "schemas/answer.json"}
    assert_passes(run(entry, '{"answer": "a", "confidence": 0}', base_dir=tmp_path))
    assert_fails(run(entry, '{"answer": 1, "confidence": 0}', base_dir=tmp_path), "at answer:")
    assert build(entry, tmp_path).describe() == "json_schema schemas/answer.json"


def test_json_schema_rebuilt_from_its_parameters_still_evaluates() -> None:
    check = build({"json_schema": SCHEMA})
    again = type(check).model_validate(check.model_dump(by_alias=True))
    ctx = CheckContext(trial=make_trial('{"answer": "a", "confidence": 0.5}'))
    assert again.run(ctx) == check.run(ctx)


# --- json_path -----------------------------------------------------------------------------------


def test_json_path_without_value_checks_presence() -> None:
    assert_passes(run({"json_path": "$.order.id"}, '{"order": {"id": 7}}'), "$.order.id present")
    assert_fails(run({"json_path": "$.order.id"}, '{"order": {}}'), "$.order.id not found")


def test_json_path_with_value_checks_equality() -> None:
    entry = {"json_path": "$.status", "value": "refunded"}
    assert_passes(run(entry, '{"status": "refunded"}'), '$.status = "refunded"')
    assert_fails(run(entry, '{"status": "open"}'), '$.status = "open", expected "refunded"')


def test_json_path_with_several_matches_compares_the_list() -> None:
    entry = {"json_path": "$.items[*].sku", "value": ["a", "b"]}
    assert_passes(run(entry, '{"items": [{"sku": "a"}, {"sku": "b"}]}'))
    assert run(entry, '{"items": [{"sku": "a"}]}').outcome == "fail"


def test_json_path_explicit_null_value_means_equals_null() -> None:
    entry = {"json_path": "$.error", "value": None}
    assert_passes(run(entry, '{"error": null}'))
    assert run(entry, '{"error": "boom"}').outcome == "fail"


def test_json_path_filter_expressions() -> None:
    entry = {"json_path": "$.items[?(@.qty > 1)].sku", "value": "b"}
    assert_passes(run(entry, '{"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}'))


def test_json_path_on_fenced_and_invalid_output() -> None:
    assert_passes(run({"json_path": "$.a", "value": 1}, '```json\n{"a": 1}\n```'))
    assert_fails(run({"json_path": "$.a"}, "not json"), "not valid JSON")


# --- similarity ----------------------------------------------------------------------------------


def test_similarity_identical_text_scores_one() -> None:
    assert_passes(run({"similarity": "Returns within 30 days."}, "returns within 30 days. "))


def test_similarity_score_is_the_normalised_levenshtein_similarity() -> None:
    score = run({"similarity": "kitten", "threshold": 0.5}, "sitting")
    expected = distance.Levenshtein.normalized_similarity("sitting", "kitten")
    assert score.score == pytest.approx(expected)
    assert score.outcome == "pass"
    assert score.detail == f"similarity {expected:.2f} >= 0.5"


def test_similarity_fails_below_the_threshold_with_partial_score() -> None:
    score = run({"similarity": "kitten", "threshold": 0.9}, "sitting")
    assert score.outcome == "fail"
    assert 0.0 < score.score < 0.9
    assert "< 0.9" in score.detail


def test_similarity_defaults_to_the_case_reference() -> None:
    assert_passes(run({"similarity": None}, "Thirty days.", reference="thirty days."))
    assert_passes(run({"similarity": {"threshold": 0.9}}, "Thirty days.", reference="thirty days."))


def test_similarity_explicit_text_wins_over_the_reference() -> None:
    assert run({"similarity": "abc"}, "abc", reference="xyz").outcome == "pass"


def test_similarity_without_text_or_reference_is_an_error() -> None:
    assert_error(run({"similarity": None}, "anything"), "give 'to:' or a case 'reference'")


def test_similarity_token_set_ignores_word_order() -> None:
    a, b = "refund within thirty days", "thirty days within refund"
    assert_passes(run({"similarity": a, "method": "token_set"}, b))
    assert run({"similarity": a, "method": "levenshtein"}, b).outcome == "fail"


def test_similarity_ratio_matches_rapidfuzz() -> None:
    score = run({"similarity": "hello world", "method": "ratio", "threshold": 0.1}, "hello there")
    assert score.score == pytest.approx(fuzz.ratio("hello there", "hello world") / 100)


def test_similarity_case_sensitive() -> None:
    assert run({"similarity": "ABC", "threshold": 1.0}, "abc").outcome == "pass"
    entry = {"similarity": "ABC", "threshold": 1.0, "case_sensitive": True}
    assert run(entry, "abc").outcome == "fail"


# --- latency_ms / cost_usd -----------------------------------------------------------------------


def test_latency_within_budget_passes() -> None:
    assert_passes(run({"latency_ms": 500}, "x", latency_ms=120.0), "120 ms <= 500 ms")


def test_latency_over_budget_scores_the_ratio() -> None:
    assert_fails(run({"latency_ms": 500}, "x", latency_ms=2000.0), "2000 ms > 500 ms", value=0.25)


def test_latency_unknown_is_an_error() -> None:
    assert_error(run({"latency_ms": 500}, "x"), "no latency measurement")


def test_latency_describe() -> None:
    assert build({"latency_ms": 1500}).describe() == "latency_ms <= 1500"


def test_cost_within_budget_passes() -> None:
    assert_passes(run({"cost_usd": 0.01}, "x", cost_usd=0.002), "$0.002000 <= $0.010000")


def test_cost_over_budget_scores_the_ratio() -> None:
    assert_fails(run({"cost_usd": 0.01}, "x", cost_usd=0.04), "$0.040000 > $0.010000", value=0.25)


def test_cost_unknown_is_an_error_never_a_pass() -> None:
    assert_error(run({"cost_usd": 0.01}, "x"), "cost unknown for this trial")


def test_cost_of_a_failed_call_is_an_error() -> None:
    check = build({"cost_usd": 0.01})
    trial = Trial("refund", "support-v1", 0, None, error="http: 500", error_kind="http")
    assert check.run(CheckContext(trial=trial)).outcome == "error"


# --- tool_call -----------------------------------------------------------------------------------

CALLS = (
    ToolCall("lookup_order", {"order_id": "A1", "verbose": True}),
    ToolCall("refund", {"order_id": "A1", "amount": 20}),
)
# The tools a target offers (its params 'tools', OpenAI's format), matching CALLS.
TOOLS = (
    {"type": "function", "function": {"name": "lookup_order", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}, "verbose": {"type": "boolean"}},
        "required": ["order_id"]}}},
    {"type": "function", "function": {"name": "refund", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}, "amount": {"type": "number", "minimum": 0}},
        "required": ["order_id", "amount"], "additionalProperties": False}}},
)


def test_tool_call_by_name_passes() -> None:
    assert_passes(run({"tool_call": "refund"}, "", tool_calls=CALLS), "called refund")


def test_tool_call_missing_names_the_calls_made() -> None:
    score = run({"tool_call": "cancel"}, "", tool_calls=CALLS)
    assert_fails(score, "no call to cancel; calls made: lookup_order, refund")
    assert_fails(run({"tool_call": "cancel"}, "no tools"), "calls made: none")


def test_tool_call_arguments_subset_accepts_extra_arguments() -> None:
    entry = {"tool_call": "lookup_order", "arguments": {"order_id": "A1"}}
    assert_passes(run(entry, "", tool_calls=CALLS), "with expected arguments")


def test_tool_call_arguments_exact_rejects_extra_arguments() -> None:
    entry = {"tool_call": "lookup_order", "arguments": {"order_id": "A1"}, "match": "exact"}
    assert_fails(run(entry, "", tool_calls=CALLS), 'lookup_order called with {"order_id": "A1"')
    exact = {**entry, "arguments": {"order_id": "A1", "verbose": True}}
    assert_passes(run(exact, "", tool_calls=CALLS))


def test_tool_call_wrong_argument_value_fails() -> None:
    entry = {"tool_call": "refund", "arguments": {"amount": 25}}
    assert_fails(run(entry, "", tool_calls=CALLS), "refund called with")


def test_tool_call_any_of_several_calls_may_match() -> None:
    calls = (ToolCall("search", {"q": "shoes"}), ToolCall("search", {"q": "returns"}))
    assert_passes(run({"tool_call": "search", "arguments": {"q": "returns"}}, "", tool_calls=calls))


def test_tool_call_with_unparsed_arguments_fails() -> None:
    calls = (ToolCall("refund", '{"amount": 20'),)
    entry = {"tool_call": "refund", "arguments": {"amount": 20}}
    assert run(entry, "", tool_calls=calls).outcome == "fail"


def test_tool_call_mapping_form_and_any_tool() -> None:
    entry = {"tool_call": {"name": "refund", "arguments": {"amount": 20}}}
    assert_passes(run(entry, "", tool_calls=CALLS))
    any_tool = {"tool_call": {"arguments": {"amount": 20}}}
    assert_passes(run(any_tool, "", tool_calls=CALLS))


# --- python --------------------------------------------------------------------------------------


def py(user_module: str, func: str, output: str, tmp_path: Path, **extra: Any) -> Score:
    return run({"python": f"{user_module}:{func}", **extra}, output, base_dir=tmp_path)


def test_python_bool_result(user_module: str, tmp_path: Path) -> None:
    assert_passes(py(user_module, "is_short", "ok", tmp_path), "returned True")
    assert_fails(py(user_module, "is_short", "far too long an answer", tmp_path), "returned False")


def test_python_float_result_passes_at_the_threshold(user_module: str, tmp_path: Path) -> None:
    score = py(user_module, "fraction_upper", "ABcd", tmp_path)
    assert (score.outcome, score.score, score.detail) == ("pass", 0.5, "score 0.50")
    strict = py(user_module, "fraction_upper", "ABcd", tmp_path, threshold=0.75)
    assert (strict.outcome, strict.score) == ("fail", 0.5)


def test_python_pair_and_check_result(user_module: str, tmp_path: Path) -> None:
    assert_fails(py(user_module, "with_reason", "sorry!", tmp_path), "apologised")
    assert_passes(py(user_module, "with_reason", "fine", tmp_path), "no apology")
    score = py(user_module, "as_result", "x", tmp_path)
    assert (score.outcome, score.score, score.detail) == ("pass", 0.75, "custom detail")


def test_python_receives_the_context_and_args(user_module: str, tmp_path: Path) -> None:
    ref = {"python": f"{user_module}:sees_context"}
    assert run(ref, "see 30 days", reference="30 days", base_dir=tmp_path).outcome == "pass"
    args = {"python": f"{user_module}:mentions", "args": {"word": "ok", "times": 2}}
    assert run(args, "ok ok", base_dir=tmp_path).outcome == "pass"
    assert run(args, "ok", base_dir=tmp_path).outcome == "fail"


def test_python_function_that_raises_is_an_error(user_module: str, tmp_path: Path) -> None:
    assert_error(py(user_module, "explodes", "x", tmp_path), "ValueError: user code broke")


def test_python_function_returning_a_wrong_type_is_an_error(
    user_module: str, tmp_path: Path
) -> None:
    score = py(user_module, "wrong_type", "x", tmp_path)
    assert_error(score, f"{user_module}:wrong_type returned str; expected bool, float")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no_colon", "expected 'module:function', found 'no_colon'"),
        ("gb_no_such_module_xyz:f", "cannot import module 'gb_no_such_module_xyz'"),
        ("{mod}:missing", "module '{mod}' has no callable 'missing'"),
        ("{mod}:not_callable", "module '{mod}' has no callable 'not_callable'"),
    ],
)
def test_python_bad_reference_is_a_config_error(
    user_module: str, tmp_path: Path, ref: str, message: str
) -> None:
    text = build_error({"python": ref.format(mod=user_module)}, tmp_path)
    assert "check 'python': " + message.format(mod=user_module) in text


# --- errors at build time ------------------------------------------------------------------------


def test_misspelled_check_name_suggests_the_right_one() -> None:
    message = build_error({"contians": "30 days"})
    assert "unknown check 'contians'" in message
    assert "did you mean 'contains'" in message
    assert "expected one of: " + ", ".join(sorted(REGISTRY)) in message


def test_unknown_check_name_without_a_close_match() -> None:
    message = build_error({"zzzzzz": 1})
    assert "unknown check 'zzzzzz'" in message
    assert "did you mean" not in message


def test_invalid_regex_is_named_with_the_pattern() -> None:
    message = build_error({"regex": "(unclosed"})
    assert "check 'regex': parameter 'pattern': invalid regular expression: missing )" in message
    assert '(found "(unclosed")' in message
    assert "Value error" not in message


def test_empty_regex_is_rejected() -> None:
    assert "empty pattern" in build_error({"regex": ""})


def test_invalid_inline_json_schema() -> None:
    message = build_error({"json_schema": {"type": "nope"}})
    assert "check 'json_schema': invalid JSON Schema:" in message


def test_missing_schema_file(tmp_path: Path) -> None:
    message = build_error({"json_schema": "schemas/missing.json"}, tmp_path)
    assert "cannot read schema file" in message
    assert "missing.json" in message
    assert "No such file" in message


def test_schema_file_that_is_not_a_json_object(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{oops", encoding="utf-8")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    assert "schema file bad.json:1:2: malformed JSON" in build_error({"json_schema": "bad.json"}, tmp_path)
    assert "must hold a JSON object" in build_error({"json_schema": "list.json"}, tmp_path)


def test_bad_json_path() -> None:
    message = build_error({"json_path": "$[?("})
    assert "check 'json_path': invalid JSONPath '$[?('" in message


def test_unknown_parameter_lists_the_allowed_ones() -> None:
    message = build_error({"contains": "a", "mod": "any"})
    assert "check 'contains': unknown parameter 'mod'" in message
    assert "expected parameters among: case_sensitive, label, mode, transform, value" in message
    assert "did you mean 'mode'?" in message


def test_unknown_parameter_lists_aliases_as_written_in_golden_sets() -> None:
    assert "allow_fence, label, schema, transform;" in build_error({"json_schema": {}, "extra": 1})
    assert "arguments, label, match, name, transform, validate_args;" in build_error({"tool_call": "x", "nme": 1})


def test_bad_parameter_value() -> None:
    message = build_error({"contains": "a", "mode": "some"})
    assert "parameter 'mode'" in message
    assert "'all' or 'any'" in message
    assert '(found "some")' in message


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"length": {}}, "give 'min', 'max' or both"),
        ({"length": {"min": 5, "max": 2}}, "min 5 is greater than max 2"),
        ({"length": {"max": -1}}, "parameter 'max'"),
        ({"length": {"max": 5, "unit": "tokens"}}, "parameter 'unit'"),
        ({"similarity": "x", "threshold": 1.5}, "parameter 'threshold'"),
        ({"latency_ms": 0}, "parameter 'max'"),
        ({"cost_usd": "cheap"}, "parameter 'max'"),
        ({"contains": None}, "check 'contains': parameter 'value"),
    ],
)
def test_invalid_parameters(entry: dict[str, Any], message: str) -> None:
    assert message in build_error(entry)


def test_a_check_without_primary_needs_a_mapping() -> None:
    message = build_error({"length": 500})
    assert "check 'length' takes a mapping of parameters, found 500" in message


def test_two_check_names_in_one_entry() -> None:
    message = build_error({"contains": "a", "regex": "b"})
    assert "one check entry names several checks: contains, regex" in message
    assert "give each check its own" in message


@pytest.mark.parametrize("entry", ["contains", ["contains", "a"], {}, None, 3])
def test_a_check_entry_must_be_a_non_empty_mapping(entry: Any) -> None:
    message = build_error(entry)
    assert "a check must be a mapping like '- contains: \"text\"'" in message
    assert "expected one of: " in message
    assert ", contains, " in message


# --- the contract every registered check follows -------------------------------------------------

MINIMAL: dict[str, tuple[dict[str, Any], Trial]] = {
    "equals": ({"equals": "yes"}, make_trial("yes")),
    "contains": ({"contains": "30 days"}, make_trial("in 30 days")),
    "not_contains": ({"not_contains": "As an AI"}, make_trial("Sure.")),
    "starts_with": ({"starts_with": "Hi"}, make_trial("Hi there")),
    "fuzzy_match": ({"fuzzy_match": "the Hobbit"}, make_trial("Hobbit, the film")),
    "regex": ({"regex": r"\d+"}, make_trial("42")),
    "length": ({"length": {"max": 10}}, make_trial("short")),
    "json_valid": ({"json_valid": None}, make_trial('{"a": 1}')),
    "json_schema": ({"json_schema": {"type": "object"}}, make_trial("{}")),
    "json_path": ({"json_path": "$.a"}, make_trial('{"a": 1}')),
    "similarity": ({"similarity": "hello"}, make_trial("Hello")),
    "latency_ms": ({"latency_ms": 1000}, make_trial("x", latency_ms=250.0)),
    "cost_usd": ({"cost_usd": 0.01}, make_trial("x", cost_usd=0.001)),
    "tool_call": ({"tool_call": "refund"}, make_trial("", tool_calls=CALLS)),
    "python": ({"python": "{mod}:polite"}, make_trial("Please wait")),
    "not": ({"not": {"contains": "As an AI"}}, make_trial("Sure.")),
    "number": ({"number": 42, "tolerance": 0.5}, make_trial("about 42.3")),
    "refusal": ({"refusal": False}, make_trial("Sure, here it is.")),
    "contains_json": ({"contains_json": {"type": "object"}}, make_trial('Here: {"a": 1}')),
    "tool_args_schema": ({"tool_args_schema": "refund"}, make_trial("", tool_calls=CALLS)),
}


# Checks scored by the LLM judge run only through ``arun``; tests/judge/ holds their contract.
MODEL_GRADED = {"rubric"}
# Checks on optional extras (sacrebleu, rouge-score, an embeddings endpoint): their contract runs in
# tests/checks/test_overlap.py and test_embedding.py, where those dependencies are arranged.
OPTIONAL_EXTRAS = {"bleu", "rouge", "embedding_similarity"}


def test_every_registered_check_has_a_minimal_entry() -> None:
    assert set(MINIMAL) | MODEL_GRADED | OPTIONAL_EXTRAS == set(REGISTRY)


@pytest.fixture(params=sorted(MINIMAL))
def minimal(request: pytest.FixtureRequest, user_module: str, tmp_path: Path
            ) -> tuple[CheckSpec, CheckContext]:
    entry, trial = MINIMAL[request.param]
    entry = {k: v.format(mod=user_module) if isinstance(v, str) else v for k, v in entry.items()}
    check = build(entry, tmp_path)
    assert type(check) is REGISTRY[request.param]
    assert check.name == request.param
    return check, CheckContext(trial=trial, reference="hello", base_dir=tmp_path, tools=TOOLS)


def test_contract_minimal_entry_passes(minimal: tuple[CheckSpec, CheckContext]) -> None:
    check, ctx = minimal
    score = check.run(ctx)
    assert (score.outcome, score.score) == ("pass", 1.0), score
    assert 0.0 <= score.score <= 1.0
    assert score.check == check.describe()
    assert check.describe()


def test_contract_evaluation_is_deterministic(minimal: tuple[CheckSpec, CheckContext]) -> None:
    check, ctx = minimal
    first = check.run(ctx)
    assert all(check.run(ctx) == first for _ in range(3))
    result = check.evaluate(ctx)
    assert isinstance(result, CheckResult)


def test_contract_params_round_trip(minimal: tuple[CheckSpec, CheckContext]) -> None:
    check, ctx = minimal
    dumped = check.model_dump(by_alias=True)
    json.dumps(dumped)  # parameters are plain data
    again = type(check).model_validate(dumped)
    assert again.model_dump(by_alias=True) == dumped
    assert again.run(ctx) == check.run(ctx)  # a rebuilt check behaves the same
    again.prepare(ctx.base_dir)
    assert again == check


def test_contract_pickles_before_and_after_evaluation(
    minimal: tuple[CheckSpec, CheckContext]
) -> None:
    check, ctx = minimal
    fresh = pickle.loads(pickle.dumps(check))
    assert fresh == check
    expected = check.run(ctx)  # caches compiled state
    assert pickle.loads(pickle.dumps(check)).run(ctx) == expected
    assert fresh.run(ctx) == expected


def test_contract_checks_are_frozen(minimal: tuple[CheckSpec, CheckContext]) -> None:
    check, _ = minimal
    with pytest.raises(Exception, match="frozen"):
        check.label = "changed"  # type: ignore[misc]


def test_contract_label_overrides_the_description(minimal: tuple[CheckSpec, CheckContext]) -> None:
    check, ctx = minimal
    labelled = check.model_copy(update={"label": "my check"})
    assert labelled.describe() == "my check"
    assert labelled.run(ctx).check == "my check"
