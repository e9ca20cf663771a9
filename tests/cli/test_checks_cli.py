"""``goldband checks``: the reference of every registered check, through a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from goldband.checks.base import build_check, known_names, lookup
from goldband.cli.checks import example, parameters, type_name


def goldband(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "goldband", "checks", *args], capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.fixture(scope="module")
def listing() -> str:
    result = goldband()
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_list_names_every_registered_check_with_a_description(listing: str) -> None:
    heads = [line for line in listing.splitlines() if line and not line.startswith(" ")]
    listed = [line.split(":")[0] for line in heads if not line.startswith("Every check")]
    assert listed == known_names()
    for name in ("not", "number", "refusal", "contains_json", "tool_args_schema", "rubric", "bleu", "rouge",
                 "embedding_similarity"):
        assert name in listed
    assert "(no description)" not in listing


def test_the_list_shows_parameters_with_types_defaults_and_the_primary(listing: str) -> None:
    assert "  parameters: value (primary): float, required, tolerance: float = 0.0" in listing
    assert 'mode: all|any = "all"' in listing
    assert "in: list[any] | null = null" in listing  # an alias, as golden sets write it
    assert "Every check also takes: label, transform." in listing


def test_the_list_shows_examples_from_docstrings(listing: str) -> None:
    assert "  example: - not: {contains: \"as an AI\"}" in listing
    assert "  example: - json_path: \"$.items[*].price\"\n             gte: 0\n             lt: 100" in listing


def test_one_check_in_full() -> None:
    result = goldband("json_path")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("json_path\n\nPass when the JSONPath ``path``")
    assert "  path (primary): str, required\n" in out
    assert "  gte: float | null = null\n" in out
    assert "  label, transform: common to every check" in out
    assert out.rstrip().endswith('example:\n  - json_path: "$.items[*].price"\n    gte: 0\n    lt: 100')


def test_a_family_docstring_is_shown_in_full() -> None:
    out = goldband("refusal").stdout
    assert "``refusal``: whether the output is a refusal" in out
    assert ">>>" not in out  # doctests are for tests, not for the reference


def test_an_unknown_check_is_a_usage_error_with_a_suggestion() -> None:
    result = goldband("contians")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: unknown check 'contians'; expected one of: ")
    assert "fix: did you mean 'contains'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_help_mentions_the_common_parameters() -> None:
    result = subprocess.run([sys.executable, "-m", "goldband", "checks", "--help"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0
    assert "transform" in result.stdout and "NAME" in result.stdout


@pytest.mark.parametrize("name", known_names())
def test_every_example_is_one_yaml_check_entry_of_that_check(name: str) -> None:
    cls = lookup(name)
    entries = yaml.safe_load("\n".join(example(name, cls)))
    assert isinstance(entries, list) and len(entries) == 1
    assert name in entries[0]
    assert all(p in cls.model_fields for p in parameters(cls))


# Examples that need nothing outside themselves (no file, module, judge or extra) must build as written.
SELF_CONTAINED = ["contains", "contains_json", "equals", "json_path", "json_valid", "length", "not", "not_contains",
                  "number", "refusal", "regex", "starts_with", "tool_args_schema", "tool_call"]


@pytest.mark.parametrize("name", SELF_CONTAINED)
def test_self_contained_examples_build(name: str) -> None:
    (entry,) = yaml.safe_load("\n".join(example(name, lookup(name))))
    assert build_check(entry, "example", Path(".")).name == name


def test_type_names_read_as_golden_sets_write_them() -> None:
    from typing import Any, Literal

    assert type_name(Literal["a", "b"]) == "a|b"
    assert type_name(dict[str, Any] | str | None) == "dict[str, any] | str | null"
    assert type_name(int) == "int"
