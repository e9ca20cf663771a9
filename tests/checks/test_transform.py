"""Output transforms on a check: Jinja2 expressions in a sandbox, Python callables, errors as errors."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from goldband.checks import CheckContext, build_check
from goldband.checks.transform import apply, as_text, kind, validate
from goldband.errors import CheckError
from tests.checks.test_checks import WHERE, assert_error, assert_fails, assert_passes, build_error, make_trial, run

USER = '''
def last_line(output):
    return output.strip().splitlines()[-1]

def with_input(output, case_input):
    return f"{case_input['lang']}:{output}"

def as_list(output):
    return output.split(",")

def broken(output):
    raise ValueError("cannot parse")
'''


@pytest.fixture
def user_module(tmp_path: Path) -> str:
    name = f"transforms_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER), encoding="utf-8")
    return name


def test_a_jinja_expression_sees_output_and_input() -> None:
    assert apply("output | lower", "ABC", None, Path(".")) == "abc"
    assert apply("input.lang ~ ':' ~ output", "hi", {"lang": "en"}, Path(".")) == "en:hi"


def test_results_that_are_not_text_become_text() -> None:
    assert apply("output.split(',')", "a,b", None, Path(".")) == '["a", "b"]'
    assert as_text({"a": 1}) == '{"a": 1}'
    assert as_text(None) == ""
    assert as_text(3.5) == "3.5"


def test_the_sandbox_keeps_python_internals_out() -> None:
    with pytest.raises(CheckError, match="SecurityError"):
        apply("output.__class__.__mro__", "x", None, Path("."))
    with pytest.raises(CheckError, match="SecurityError"):
        apply("input.update({'a': 1})", "x", {}, Path("."))  # immutable: no mutation of the case


def test_the_model_output_is_data_never_evaluated() -> None:
    assert apply("output", "{{ 7 * 7 }}", None, Path(".")) == "{{ 7 * 7 }}"


@pytest.mark.parametrize(("spec", "expected"), [
    ("output | lower", "jinja"), ("output[1:]", "jinja"), ("python:mod:fn", "callable"),
    ("pkg.mod:fn", "callable"), ("tools/clean.py:fn", "callable"), ("python:tools/clean.py:fn", "callable"),
])
def test_kind_tells_callables_from_expressions(spec: str, expected: str) -> None:
    assert kind(spec) == expected


def test_a_callable_by_module_or_by_file(user_module: str, tmp_path: Path) -> None:
    assert apply(f"{user_module}:last_line", "a\nb\n", None, tmp_path) == "b"
    assert apply(f"python:{user_module}:with_input", "hi", {"lang": "fr"}, tmp_path) == "fr:hi"
    assert apply(f"python:{user_module}.py:as_list", "x,y", None, tmp_path) == '["x", "y"]'


def test_a_transform_on_a_check_applies_before_it() -> None:
    entry = {"contains": "refund", "transform": "output | lower"}
    assert_passes(run(entry, "REFUND approved"))
    assert_fails(run({"contains": "refund"}, "REFUND approved"))


def test_a_transform_keeps_the_tool_calls() -> None:
    from tests.checks.test_checks import CALLS

    check = build_check({"tool_call": "refund", "transform": "output | upper"}, WHERE, Path("."))
    score = check.run(CheckContext(make_trial("x", tool_calls=CALLS)))
    assert_passes(score)


def test_a_raising_transform_makes_the_score_an_error(user_module: str, tmp_path: Path) -> None:
    score = run({"contains": "x", "transform": f"{user_module}:broken"}, "x", base_dir=tmp_path)
    assert_error(score, f"transform '{user_module}:broken' raised ValueError: cannot parse")
    assert_error(run({"contains": "x", "transform": "output | int + undefined_name"}, "1"), "is undefined")


@pytest.mark.parametrize(("transform", "message"), [
    ("output | ", "is not a valid Jinja2 expression"),
    ("output | nosuchfilter", "No filter named 'nosuchfilter'"),
    ("missing_module_xyz:fn", "cannot import module 'missing_module_xyz'"),
    ("python:nowhere.py:fn", "file"),
    ("  ", "empty transform"),
])
def test_a_bad_transform_is_named_at_load(transform: str, message: str) -> None:
    text = build_error({"contains": "x", "transform": transform})
    assert "check 'contains': " in text
    assert message in text
    assert "expected a Jinja2 expression such as 'output | lower'" in text


def test_a_callable_that_is_not_there_is_named(user_module: str, tmp_path: Path) -> None:
    with pytest.raises(CheckError, match="has no callable 'nope'"):
        validate(f"{user_module}:nope", tmp_path)
