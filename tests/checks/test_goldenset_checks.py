"""The new checks and transforms as a golden set writes them, loaded by goldband.golden.goldenset."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from goldband.checks.negation import Not
from goldband.checks.numeric import Number
from goldband.errors import ConfigError
from goldband.golden.goldenset import load

SET = """
name: assertions
version: 1
defaults:
  transform: "output | trim"
  checks:
    - refusal: false
    - not: {contains: "as an AI"}
      label: no AI disclaimer
cases:
  - id: capital
    input: {question: "Capital of France?"}
    checks:
      - equals: ["Paris", "Paris."]
      - starts_with: [Paris, The capital]
  - id: total
    input: {question: "Order total?"}
    transform: "output | lower"
    checks:
      - number: 42.5
        tolerance: 0.01
        pick: last
      - contains_json: {type: object, required: [total]}
      - json_path: "$.total"
        gte: 0
        lt: 100
  - id: raw
    input: {question: "Echo"}
    transform: null
    checks:
      - contains: "x"
        transform: "output | upper"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "goldensets" / "assertions.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_new_checks_and_transforms_load_from_a_golden_set(tmp_path: Path) -> None:
    gs = load(write(tmp_path, SET), base_dir=tmp_path)
    capital, total, raw = gs.cases
    assert [c.name for c in capital.checks] == ["refusal", "not", "equals", "starts_with"]
    assert isinstance(capital.checks[1], Not) and capital.checks[1].describe() == "no AI disclaimer"
    assert isinstance(total.checks[2], Number)
    assert [c.name for c in total.checks[2:]] == ["number", "contains_json", "json_path"]
    assert capital.transform == "output | trim"  # from defaults
    assert total.transform == "output | lower"  # its own
    assert raw.transform is None  # opted out
    assert raw.checks[-1].transform == "output | upper"


def test_a_bad_case_transform_names_the_file_line_and_case(tmp_path: Path) -> None:
    bad = SET.replace('transform: "output | lower"', 'transform: "output | nosuch"')
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, bad), base_dir=tmp_path)
    message = str(info.value)
    line = next(i for i, t in enumerate(textwrap.dedent(bad).splitlines(), 1) if "nosuch" in t)
    assert message.startswith(f"goldensets/assertions.yaml:{line}: case 'total': ")
    assert "No filter named 'nosuch'" in message
    assert "fix: correct the transform" in message


def test_a_bad_defaults_transform_names_its_line(tmp_path: Path) -> None:
    bad = SET.replace('transform: "output | trim"', 'transform: "missing_mod_q:fn"')
    with pytest.raises(ConfigError, match=r"assertions.yaml:5: transform 'missing_mod_q:fn': cannot import"):
        load(write(tmp_path, bad), base_dir=tmp_path)


def test_a_bad_new_check_names_the_case_and_parameter(tmp_path: Path) -> None:
    bad = SET.replace("tolerance: 0.01", "tolerance: -1")
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, bad), base_dir=tmp_path)
    assert "case 'total': check 'number': parameter 'tolerance'" in str(info.value)


def test_a_transform_of_the_wrong_type_is_a_schema_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="transform"):
        load(write(tmp_path, SET.replace('transform: "output | lower"', "transform: [1]")), base_dir=tmp_path)
