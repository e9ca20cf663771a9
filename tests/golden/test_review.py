"""The review file: written readable and atomic, read back exactly, refused clearly when edited wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldband.errors import ConfigError
from goldband.golden.review import propose_id, read_review, write_review
from goldband.golden.similar import DEFAULT_THRESHOLD

NOW = dt.datetime(2026, 12, 7, 17, 30, tzinfo=dt.UTC)
# Any character UTF-8 can hold, with line breaks, controls and YAML syntax often.
SPECIAL = st.characters(codec="utf-8") | st.sampled_from(list("\n\r\t \x85\u2028\u2029\x00\x1b\ufeff:#-'\"|>&*!%@`"))
SELECTION = {"source": "production", "where": "feedback=negative OR judge_score<3", "limit": 50,
             "threshold": DEFAULT_THRESHOLD,
             "counts": {"considered": 1200, "matched": 14, "dropped_as_duplicates": 1},
             "dropped": [{"ref": "c0ffee00", "duplicate_of": "case refund-window", "score": 96.3}]}
YAML_LOOKING = "key: value\n- item\n# not a comment\n---\n...\n&anchor *alias !!python/object:os.system\n"


def candidate(**given: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "input": {"question": "Can I return shoes after 40 days?"},
        "output": "Sure, returns are accepted within 60 days.\nAnything else?\n",
        "feedback": [{"kind": "thumbs", "value": "down"}, {"kind": "correction", "value": "No: 30 days."}],
        "reference": "No: 30 days.",
        "tags": ["policy"],
        "provenance": {"source": "production", "ref": "8f21a9c0d1e2f3a4", "note": "feedback=negative",
                       "time": "2026-12-01 10:00:00.000", "version": "support-v1:3"},
    }
    return {**base, **given}


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [i for i, line in enumerate(lines, start=1) if line.startswith(needle)][occurrence - 1]


def write(path: Path, candidates: list[dict[str, Any]], existing_ids: tuple[str, ...] = ()) -> Path:
    write_review(path, set_path=Path("goldensets/support.yaml"), set_name="support", set_version="3",
                 candidates=candidates, selection=SELECTION, existing_ids=existing_ids, now=NOW)
    return path


def test_writes_the_header_the_selection_and_each_candidate(tmp_path: Path) -> None:
    path = write(tmp_path / "review.yaml", [candidate(), candidate(input="just text", provenance={
        "source": "failure", "ref": "failures.jsonl:12", "note": "caught by hand"})])
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# goldband review file: candidate cases for golden set 'support'")
    assert "set `accept: true` on each case to add" in text
    assert "goldband golden accept" in text
    assert "  output: |\n    Sure, returns are accepted within 60 days.\n    Anything else?\n" in text
    data = yaml.safe_load(text)
    assert data["golden_set"] == "goldensets/support.yaml"
    assert (data["set_name"], data["set_version"], data["generated_at"]) == ("support", "3",
                                                                           "2026-12-07T17:30:00+00:00")
    assert data["selection"] == SELECTION
    first, second = data["candidates"]
    assert list(first) == ["accept", "id", "input", "output", "feedback", "reference", "tags", "checks",
                           "provenance"]
    assert first["accept"] is False and first["id"] == "prod-8f21a9c0"
    assert first["provenance"]["added"] == "2026-12-07"
    assert second["id"] == "fail-failures.jsonl-12"
    assert second["input"] == [{"role": "user", "content": "just text"}]  # text alone: one user message
    assert not list(tmp_path.glob(".*.tmp"))


def test_read_back(tmp_path: Path) -> None:
    path = write(tmp_path / "review.yaml", [candidate(checks=[{"contains": "30 days"}])])
    review = read_review(path)
    (one,) = review.candidates
    assert (review.set_name, review.set_version, review.golden_set) == ("support", "3", "goldensets/support.yaml")
    assert review.selection == SELECTION and review.accepted == ()
    assert one.line == line_of(path, "- accept: false") and one.id == "prod-8f21a9c0" and not one.accept
    assert one.output == candidate()["output"]
    assert one.feedback == tuple(candidate()["feedback"])
    assert one.case == {
        "id": "prod-8f21a9c0", "input": {"question": "Can I return shoes after 40 days?"},
        "reference": "No: 30 days.", "tags": ["policy"],
        "provenance": {**candidate()["provenance"], "added": "2026-12-07"},
        "checks": [{"contains": "30 days"}],
    }
    at = line_of(path, "  reference:")
    assert review.where(one, "reference") == f"{path}:{at}: candidate 'prod-8f21a9c0'"


def test_proposed_ids_are_unique_and_valid() -> None:
    assert propose_id("production", "8F21A9C0D1E2F3A4", ()) == "prod-8f21a9c0"
    assert propose_id("production", "8f21a9c0d1", {"prod-8f21a9c0", "prod-8f21a9c0-2"}) == "prod-8f21a9c0-3"
    assert propose_id("failure", "run 2026-12-07/case 'x'#3", ()) == "fail-run-2026-12-07-case-x-3"
    assert propose_id("production", None, ()) == "prod"
    assert propose_id("production", "::", {"prod"}) == "prod-2"


def test_ids_avoid_the_sets_cases_and_each_other(tmp_path: Path) -> None:
    path = write(tmp_path / "r.yaml", [candidate(), candidate(), candidate(id="refund-window")],
                 existing_ids=("prod-8f21a9c0", "refund-window"))
    assert [c.id for c in read_review(path).candidates] == ["prod-8f21a9c0-2", "prod-8f21a9c0-3",
                                                            "refund-window-2"]


UNTRUSTED = [
    "\x00\x07\x1b[31mred\x1b[0m\x7f\x85\x9f\ufeff",
    YAML_LOOKING,
    "line one\r\nline two\rthree\u2028four\u2029five\x85six",
    "  leading spaces\n\ttab\ntrailing spaces   \n\n\n",
    "ends without newline\nsecond",
    "\n\nstarts with blank lines",
    "'single' and \"double\" quotes: {braces} [brackets] %percent @at `tick` | > ",
    "emoji 😀 and CJK 漢字 and RTL \u202e",
    "",
    "null",
    "2026-12-07",
    "0x1F",
    "\x85",
    "\u2028",
    "a\u2029b",
    "\r",
    "\t",
    " ",
    "\n",
]


@pytest.mark.parametrize("text", UNTRUSTED)
def test_untrusted_text_round_trips(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "review.yaml", [candidate(
        input={"question": text, "context": text}, output=text, reference=text, tags=[text],
        feedback=[{"kind": "comment", "value": text}])])
    (one,) = read_review(path).candidates
    assert one.output == text and one.case["input"] == {"question": text, "context": text}
    assert one.case.get("reference") == text and one.case["tags"] == [text]
    assert one.feedback == ({"kind": "comment", "value": text},)


def test_surrogate_halves_become_replacement_characters(tmp_path: Path) -> None:
    (one,) = read_review(write(tmp_path / "review.yaml", [candidate(output="a\ud800b")])).candidates
    assert one.output == "a\ufffdb"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(SPECIAL, max_size=40), min_size=1, max_size=3))
def test_any_text_round_trips(tmp_path: Path, texts: list[str]) -> None:
    candidates = [candidate(input={"question": t}, output=t, reference=t or None) for t in texts]
    review = read_review(write(tmp_path / "review.yaml", candidates))
    assert [c.output for c in review.candidates] == texts
    assert [c.case["input"]["question"] for c in review.candidates] == texts
    assert [c.case.get("reference") for c in review.candidates] == [t or None for t in texts]


def edited(tmp_path: Path, old: str, new: str, needle: str, occurrence: int = 1) -> tuple[str, int]:
    """The error of a review file edited from ``old`` to ``new``, and the line of ``needle`` in it."""
    path = write(tmp_path / "review.yaml", [candidate(), candidate(provenance={"source": "failure", "ref": "x"})])
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_review(path, Path("review.yaml"))
    return str(info.value), line_of(path, needle, occurrence)


def test_an_unknown_candidate_key_names_its_line_and_candidate(tmp_path: Path) -> None:
    message, line = edited(tmp_path, "  reference: 'No: 30 days.'", "  refrence: 'No: 30 days.'", "  refrence:")
    assert message.startswith(f"review.yaml:{line}: candidate 'prod-8f21a9c0': unknown key 'refrence'")


def test_a_wrong_type_names_its_line_and_candidate(tmp_path: Path) -> None:
    message, line = edited(tmp_path, "- accept: false\n  id: fail-x", "- accept: maybe\n  id: fail-x",
                           "- accept: maybe")
    assert message.startswith(f"review.yaml:{line}: candidate 'fail-x': accept:")


def test_a_missing_id_names_the_candidate_line(tmp_path: Path) -> None:
    message, line = edited(tmp_path, "  id: fail-x\n", "", "- accept", 2)
    assert message.startswith(f"review.yaml:{line}: missing required key 'id'")


def test_a_review_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "review.yaml"
    path.write_text("- a\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="a review file must be a mapping"):
        read_review(path)
    path.write_text("golden_set: g.yaml\nset_name: s\nset_version: 1\ngenerated_at: x\ncandidates: [3]\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="5: a candidate must be a mapping"):
        read_review(path)


def test_unquoted_dates_in_provenance_stay_text(tmp_path: Path) -> None:
    path = write(tmp_path / "review.yaml", [candidate()])
    path.write_text(path.read_text(encoding="utf-8").replace("added: '2026-12-07'", "added: 2026-12-08"),
                    encoding="utf-8")
    assert read_review(path).candidates[0].case["provenance"]["added"] == "2026-12-08"


def test_an_empty_review(tmp_path: Path) -> None:
    review = read_review(write(tmp_path / "review.yaml", []))
    assert review.candidates == () and review.selection == SELECTION
