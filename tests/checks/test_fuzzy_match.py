"""``fuzzy_match``: OpenAI Evals' FuzzyMatch, held to evals' own code (evals/elsuite/utils.py, MIT licence)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goldband.checks.base import CheckContext, build_check
from goldband.errors import ConfigError
from goldband.results import Completion, Trial


def evals_normalize(s: str) -> str:  # evals.elsuite.utils.normalize, verbatim
    s = s.lower()
    exclude = set(string.punctuation)
    s = "".join(char for char in s if char not in exclude)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    s = " ".join(s.split())
    return s


def evals_fuzzy_match(s1: str, s2: str) -> bool:  # evals.elsuite.utils.fuzzy_match, verbatim
    s1 = evals_normalize(s1)
    s2 = evals_normalize(s2)
    if s1 == "" or s2 == "":
        return s1 == s2
    return s1 in s2 or s2 in s1


def passes(output: str, value: str | list[str]) -> bool:
    check = build_check({"fuzzy_match": value}, "test", Path("."))
    return check.run(CheckContext(Trial("c", "t", 0, Completion(output)))).outcome == "pass"


@pytest.mark.parametrize(("output", "ideal", "expected"), [
    ("Millie Bobby Brown plays Eleven.", "Millie Bobby Brown", True),  # the ideal inside the output
    ("Season 11", "Derek died in season 11 of the show", True),  # the output inside the ideal
    ("The Hobbit!", "hobbit", True),  # articles and punctuation do not count
    ("Evangeline Lilly", "Cate Blanchett", False),
    ("", "anything", False),
])
def test_samples_like_evals_test_fuzzy_match(output: str, ideal: str, expected: bool) -> None:
    assert passes(output, ideal) is expected is evals_fuzzy_match(output, ideal)


@given(st.text(alphabet=string.ascii_letters + string.punctuation + " \t\n", max_size=30),
       st.lists(st.text(alphabet=string.ascii_letters + string.punctuation + " ", min_size=1, max_size=12),
                min_size=1, max_size=3))
def test_it_is_evals_fuzzy_match_against_any_ideal(output: str, ideals: list[str]) -> None:
    assert passes(output, ideals) is any(evals_fuzzy_match(output, ideal) for ideal in ideals)


def test_an_empty_value_is_refused_at_load() -> None:
    with pytest.raises(ConfigError):
        build_check({"fuzzy_match": []}, "goldensets/s.yaml:4", Path("."))
