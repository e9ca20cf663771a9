"""Loading golden sets: inline and JSONL cases, defaults, hashing; one clear error per bad input.

Every error names ``file:line`` (relative to the project root), the case where
there is one, what was found, and a fix.
"""

from __future__ import annotations

import json
import string
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldband.bands.spec import Runs
from goldband.checks.text import Contains, NotContains, Regex
from goldband.errors import ConfigError
from goldband.golden.goldenset import Band, GoldenSet, content_hash, load

SHOWN = "goldensets/support.yaml"


def write(root: Path, text: str, name: str = "support.yaml") -> Path:
    path = root / "goldensets" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_text(root: Path, text: str) -> GoldenSet:
    return load(write(root, text), base_dir=root)


def load_error(root: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(root, text)
    return str(info.value)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle``."""
    lines = textwrap.dedent(text).lstrip("\n").splitlines()
    hits = [i for i, line in enumerate(lines, start=1) if needle in line]
    return hits[occurrence - 1]


BASIC = """
    name: support
    version: 3
    description: Customer support answers.
    targets: [support-v1]
    defaults:
      runs: 5
      band: {min_pass_rate: 0.8}
      checks:
        - not_contains: "As an AI"
    cases:
      - id: refund-window
        input: {question: "Can I return shoes after 40 days?"}
        reference: "Returns are accepted within 30 days."
        tags: [policy]
        checks:
          - contains: "30 days"
      - id: greeting
        runs: 2
        band: {min_pass_rate: 0.5}
        input: {question: "hi"}
        checks:
          - regex: "(?i)hello"
"""


# --- loading -------------------------------------------------------------------------------------


def test_inline_cases_load_with_their_lines(tmp_path: Path) -> None:
    gs = load_text(tmp_path, BASIC)
    assert (gs.name, gs.version, gs.description) == ("support", "3", "Customer support answers.")
    assert gs.targets == ("support-v1",)
    assert gs.version_line == line_of(BASIC, "version:")
    assert gs.targets_line == line_of(BASIC, "targets:")
    assert [c.id for c in gs.cases] == ["refund-window", "greeting"]
    first = gs.cases[0]
    assert first.input == {"question": "Can I return shoes after 40 days?"}
    assert first.reference == "Returns are accepted within 30 days."
    assert first.tags == ("policy",)
    assert first.line == line_of(BASIC, "- id: refund-window")
    assert first.where == f"{SHOWN}:{first.line}"


def test_defaults_are_merged_into_cases(tmp_path: Path) -> None:
    refund, greeting = load_text(tmp_path, BASIC).cases
    assert [type(c) for c in refund.checks] == [NotContains, Contains]  # defaults first
    assert [type(c) for c in greeting.checks] == [NotContains, Regex]
    assert (refund.runs, greeting.runs) == (Runs(5, 5, adaptive=False), Runs(2, 2, adaptive=False))
    assert (refund.band, greeting.band) == (Band(min_pass_rate=0.8), Band(min_pass_rate=0.5))


def test_without_defaults_a_case_runs_once_with_a_strict_band(tmp_path: Path) -> None:
    gs = load_text(tmp_path, """
        name: tiny
        version: 1
        cases:
          - id: a
            input: {q: x}
    """)
    (case,) = gs.cases
    assert (case.runs, case.band, case.checks, case.targets) == (Runs(1, 1, adaptive=False), Band(1.0), (), None)


def test_version_may_be_a_string(tmp_path: Path) -> None:
    gs = load_text(tmp_path, "name: s\nversion: 2024-06a\ncases: []\n")
    assert gs.version == "2024-06a"
    assert gs.cases == ()


def test_chat_message_input(tmp_path: Path) -> None:
    (case,) = load_text(tmp_path, """
        name: chat
        version: 1
        cases:
          - id: multi-turn
            input:
              - {role: system, content: "Be brief."}
              - {role: user, content: "Hi"}
              - {role: assistant, content: "Hello!"}
              - {role: user, content: "Refunds?"}
    """).cases
    assert case.input == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Refunds?"},
    ]


def test_provenance_short_and_long_forms(tmp_path: Path) -> None:
    short, long, none = load_text(tmp_path, """
        name: prov
        version: 1
        cases:
          - id: from-prod
            input: {q: x}
            provenance: production
          - id: from-incident
            input: {q: y}
            provenance: {source: failure, ref: INC-42, note: "wrong refund window"}
          - id: plain
            input: {q: z}
    """).cases
    assert short.provenance == {"source": "production"}
    assert long.provenance == {"source": "failure", "ref": "INC-42", "note": "wrong refund window"}
    assert none.provenance is None


def test_case_targets_subset(tmp_path: Path) -> None:
    (case,) = load_text(tmp_path, """
        name: s
        version: 1
        cases:
          - id: a
            input: {q: x}
            targets: [support-v2]
    """).cases
    assert case.targets == ("support-v2",)


def test_jsonl_cases(tmp_path: Path) -> None:
    records = [
        {"id": "a", "input": {"q": "one"}, "checks": [{"contains": "1"}]},
        {"id": "b", "input": {"q": "two"}, "reference": "2", "runs": 4},
    ]
    cases_file = tmp_path / "goldensets" / "support.cases.jsonl"
    cases_file.parent.mkdir(parents=True)
    cases_file.write_text(json.dumps(records[0]) + "\n\n" + json.dumps(records[1]) + "\n")
    gs = load_text(tmp_path, """
        name: support
        version: 1
        defaults:
          runs: 2
          checks: [{not_contains: "As an AI"}]
        cases: support.cases.jsonl
    """)
    a, b = gs.cases
    assert (a.id, a.input, a.runs, a.line) == ("a", {"q": "one"}, Runs(2, 2, adaptive=False), 1)
    assert (b.id, b.reference, b.runs, b.line) == ("b", "2", Runs(4, 4, adaptive=False), 3)  # blank line 2 skipped
    assert a.where == "goldensets/support.cases.jsonl:1"
    assert [type(c) for c in a.checks] == [NotContains, Contains]


# --- content hash --------------------------------------------------------------------------------

REORDERED = """
    cases:
      - checks:
          - {contains: "30 days"}
        tags: [policy]
        reference: "Returns are accepted within 30 days."
        input:
          question: "Can I return shoes after 40 days?"
        id: refund-window
      - {input: {question: hi}, checks: [{regex: "(?i)hello"}], id: greeting,
         band: {min_pass_rate: 0.5}, runs: 2}


    defaults:
      checks: [{not_contains: "As an AI"}]
      band:
        min_pass_rate: 0.8
      runs: 5
    targets: [support-v1]
    version: 3
    name: support
"""


def test_hash_is_stable_under_key_order_and_whitespace(tmp_path: Path) -> None:
    first = load_text(tmp_path, BASIC).content_hash
    assert first.startswith("sha256:")
    assert load_text(tmp_path, REORDERED).content_hash == first
    assert load_text(tmp_path, BASIC).content_hash == first


def test_hash_changes_with_a_case(tmp_path: Path) -> None:
    first = load_text(tmp_path, BASIC).content_hash
    assert load_text(tmp_path, BASIC.replace("40 days", "41 days")).content_hash != first
    assert load_text(tmp_path, BASIC.replace('"30 days"', '"31 days"')).content_hash != first


def test_hash_changes_with_defaults(tmp_path: Path) -> None:
    first = load_text(tmp_path, BASIC).content_hash
    assert load_text(tmp_path, BASIC.replace("runs: 5", "runs: 6")).content_hash != first


def test_hash_ignores_the_description_name_and_version(tmp_path: Path) -> None:
    first = load_text(tmp_path, BASIC).content_hash
    text = BASIC.replace("Customer support answers.", "Reworded.")
    text = text.replace("version: 3", "version: 4")
    assert load_text(tmp_path, text).content_hash == first
    assert load_text(tmp_path, BASIC.replace("name: support", "name: help")).content_hash == first


def test_hash_is_the_same_for_inline_and_jsonl_cases(tmp_path: Path) -> None:
    inline = load_text(tmp_path, """
        name: s
        version: 1
        cases:
          - {id: a, input: {q: "1"}}
    """)
    (tmp_path / "goldensets" / "s.cases.jsonl").write_text('{"input": {"q": "1"}, "id": "a"}\n')
    jsonl = load_text(tmp_path, "name: s\nversion: 1\ncases: s.cases.jsonl\n")
    assert jsonl.content_hash == inline.content_hash


# --- bad input: one clear message each -----------------------------------------------------------


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    text = """
        name: support
        version: 1
        cases:
          - id: a
            input: question: "hi"
    """
    message = load_error(tmp_path, text)
    assert message.startswith(f"{SHOWN}:{line_of(text, 'input:')}:20: malformed YAML: ")  # line and column
    assert "mapping values are not allowed in this context" in message
    assert "fix: correct the syntax at that line" in message


def test_empty_file_is_not_a_golden_set(tmp_path: Path) -> None:
    message = load_error(tmp_path, "# nothing yet\n")
    assert message.startswith(f"{SHOWN}:1: a golden set must be a mapping")
    assert "expected keys name, version, cases" in message


def test_duplicate_keys(tmp_path: Path) -> None:
    text = """
        name: support
        version: 1
        cases:
          - id: a
            input: {q: 1}
            input: {q: 2}
    """
    message = load_error(tmp_path, text)
    first, second = line_of(text, "input:"), line_of(text, "input:", 2)
    assert message.startswith(f"{SHOWN}:{second}: duplicate key 'input' (first at line {first})")
    assert "fix: remove or rename one of them" in message


def test_duplicate_case_ids(tmp_path: Path) -> None:
    text = """
        name: support
        version: 1
        cases:
          - id: refund
            input: {q: 1}
          - id: refund
            input: {q: 2}
    """
    message = load_error(tmp_path, text)
    first, second = line_of(text, "id: refund"), line_of(text, "id: refund", 2)
    assert message.startswith(
        f"{SHOWN}:{second}: duplicate case id 'refund' (first at {SHOWN}:{first})")
    assert "fix: rename one of them" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = """
        name: support
        version: 1
        defualts: {runs: 3}
        cases: []
    """
    message = load_error(tmp_path, text)
    assert message.startswith(f"{SHOWN}:{line_of(text, 'defualts')}: unknown key 'defualts'")
    assert "expected one of: band, cases, defaults, description, name, targets, version" in message
    assert "fix: remove it or correct its spelling" in message


def test_unknown_case_key(tmp_path: Path) -> None:
    text = """
        name: support
        version: 1
        cases:
          - id: refund-window
            input: {q: x}
            refrence: "30 days"
    """
    message = load_error(tmp_path, text)
    where = f"{SHOWN}:{line_of(text, 'refrence')}: case 'refund-window'"
    assert message.startswith(f"{where}: unknown key 'refrence'")
    assert "reference" in message.split("expected one of:")[1]
    assert "fix: remove it or correct its spelling" in message


def test_unknown_key_in_defaults(tmp_path: Path) -> None:
    text = "name: s\nversion: 1\ndefaults:\n  run: 3\ncases: []\n"
    message = load_error(tmp_path, text)
    assert message.startswith(f"{SHOWN}:4: unknown key 'run'")
    assert "one of: band, checks, max_runs, min_runs, runs" in message


def test_missing_input(tmp_path: Path) -> None:
    text = """
        name: support
        version: 1
        cases:
          - id: ok
            input: {q: x}
          - id: no-input
            reference: "x"
    """
    message = load_error(tmp_path, text)
    where = f"{SHOWN}:{line_of(text, 'id: no-input')}: case 'no-input'"
    assert message.startswith(f"{where}: missing required key 'input'")
    assert "fix: add 'input:'" in message


def test_missing_top_level_key(tmp_path: Path) -> None:
    message = load_error(tmp_path, "name: s\ncases: []\n")
    assert message.startswith(f"{SHOWN}:1: missing required key 'version'")
    assert "fix: add 'version:'" in message


def test_missing_case_id(tmp_path: Path) -> None:
    text = "name: s\nversion: 1\ncases:\n  - input: {q: x}\n"
    assert load_error(tmp_path, text).startswith(f"{SHOWN}:4: missing required key 'id'")


def test_wrong_type_for_runs(tmp_path: Path) -> None:
    text = """
        name: support
        version: 1
        cases:
          - id: refund
            input: {q: x}
            runs: five
    """
    message = load_error(tmp_path, text)
    assert message.startswith(f"{SHOWN}:{line_of(text, 'runs:')}: case 'refund': runs: expected integer, found 'five'")
    assert "fix: correct 'runs'" in message


def test_runs_out_of_range_in_defaults(tmp_path: Path) -> None:
    text = "name: s\nversion: 1\ndefaults:\n  runs: 0\ncases: []\n"
    message = load_error(tmp_path, text)
    assert message.startswith(f"{SHOWN}:4: defaults.runs: 0 is less than the minimum of 1")


def test_bad_chat_role(tmp_path: Path) -> None:
    text = """
        name: chat
        version: 1
        cases:
          - id: turn
            input:
              - {role: user, content: "hi"}
              - {role: usr, content: "again"}
    """
    message = load_error(tmp_path, text)
    where = f"{SHOWN}:{line_of(text, 'role: usr')}: case 'turn'"
    assert message.startswith(f"{where}: input.1.role: 'usr'")
    assert "'user'" in message


def test_unknown_provenance_source(tmp_path: Path) -> None:
    text = "name: s\nversion: 1\ncases:\n  - id: a\n    input: {q: x}\n    provenance: prod\n"
    message = load_error(tmp_path, text)
    assert message.startswith(f"{SHOWN}:6: case 'a': provenance: 'prod'")
    assert "'production'" in message


@pytest.mark.parametrize("bad_id", ["has space", "-leading-dash", "slash/inside"])
def test_invalid_case_id(tmp_path: Path, bad_id: str) -> None:
    text = f'name: s\nversion: 1\ncases:\n  - id: "{bad_id}"\n    input: {{q: x}}\n'
    message = load_error(tmp_path, text)
    assert message.startswith(f"{SHOWN}:4: ")
    assert f"id: '{bad_id}' does not match" in message
    assert "fix: correct 'id'" in message


def test_invalid_golden_set_name(tmp_path: Path) -> None:
    message = load_error(tmp_path, "name: my set\nversion: 1\ncases: []\n")
    assert message.startswith(f"{SHOWN}:1: name: 'my set' does not match")


def test_unknown_check_name_in_a_case(tmp_path: Path) -> None:
    text = """
        name: support
        version: 1
        cases:
          - id: refund
            input: {q: x}
            checks:
              - contains: "30"
              - contians: "days"
    """
    message = load_error(tmp_path, text)
    where = f"{SHOWN}:{line_of(text, 'contians')}: case 'refund'"
    assert message.startswith(f"{where}: unknown check 'contians'")
    assert "did you mean 'contains'" in message


def test_unknown_check_name_in_defaults(tmp_path: Path) -> None:
    text = "name: s\nversion: 1\ndefaults:\n  checks:\n    - regx: a\ncases: []\n"
    message = load_error(tmp_path, text)
    assert message.startswith(f"{SHOWN}:5: unknown check 'regx'")
    assert "did you mean 'regex'" in message


def test_invalid_regex_in_a_case(tmp_path: Path) -> None:
    text = """
        name: support
        version: 1
        cases:
          - id: refund-window
            input: {q: x}
            checks:
              - regex: "(30 days"
    """
    message = load_error(tmp_path, text)
    where = f"{SHOWN}:{line_of(text, 'regex:')}: case 'refund-window'"
    assert message.startswith(
        f"{where}: check 'regex': parameter 'pattern': invalid regular expression")
    assert '(found "(30 days")' in message
    assert "fix: correct or remove that parameter" in message


ONE_CASE = "name: s\nversion: 1\ncases:\n  - id: a\n    input: {q: x}\n"


def test_check_entry_that_is_not_a_mapping(tmp_path: Path) -> None:
    text = ONE_CASE + "    checks:\n      - contains\n"
    message = load_error(tmp_path, text)
    expected = "a check must be a mapping like '- contains: \"text\"', found \"contains\""
    assert message.startswith(f"{SHOWN}:7: case 'a': {expected}")
    assert "fix: write the check's name, a colon and its value" in message


def test_check_without_primary_given_a_scalar(tmp_path: Path) -> None:
    text = ONE_CASE + "    checks:\n      - length: 5\n"
    message = load_error(tmp_path, text)
    assert message.startswith(f"{SHOWN}:7: case 'a': check 'length' takes a mapping of parameters")


def test_malformed_jsonl_line_names_its_line(tmp_path: Path) -> None:
    cases = tmp_path / "goldensets" / "support.cases.jsonl"
    cases.parent.mkdir(parents=True)
    cases.write_text('{"id": "a", "input": {"q": 1}}\n\n{"id": "b", "input": {"q": 2}\n')
    message = load_error(tmp_path, "name: support\nversion: 1\ncases: support.cases.jsonl\n")
    assert message.startswith("goldensets/support.cases.jsonl:3:30: malformed JSON: ")  # the end of that line
    assert "Expecting ',' delimiter" in message
    assert "fix: correct that line" in message


def test_bad_case_in_jsonl_names_its_line_and_id(tmp_path: Path) -> None:
    cases = tmp_path / "goldensets" / "support.cases.jsonl"
    cases.parent.mkdir(parents=True)
    cases.write_text('{"id": "a", "input": {"q": 1}}\n'
                     '{"id": "b", "input": {"q": 1}, "refrence": "x"}\n')
    message = load_error(tmp_path, "name: support\nversion: 1\ncases: support.cases.jsonl\n")
    assert message.startswith("goldensets/support.cases.jsonl:2: case 'b': unknown key 'refrence'")


def test_jsonl_record_that_is_not_an_object(tmp_path: Path) -> None:
    cases = tmp_path / "goldensets" / "support.cases.jsonl"
    cases.parent.mkdir(parents=True)
    cases.write_text('{"id": "a", "input": {"q": 1}}\n["b"]\n')
    message = load_error(tmp_path, "name: support\nversion: 1\ncases: support.cases.jsonl\n")
    assert message.startswith("goldensets/support.cases.jsonl:2: a case must be a mapping")


def test_missing_jsonl_file(tmp_path: Path) -> None:
    text = "name: support\nversion: 1\ncases: support.cases.jsonl\n"
    message = load_error(tmp_path, text)
    assert message.startswith(f"{SHOWN}:3: cases file 'support.cases.jsonl' not found")
    assert "goldensets/support.cases.jsonl" in message
    assert "fix: create it" in message


def test_cases_file_must_be_jsonl(tmp_path: Path) -> None:
    message = load_error(tmp_path, "name: support\nversion: 1\ncases: support.csv\n")
    assert message.startswith(f"{SHOWN}:3: cases file 'support.csv' is not a .jsonl file")
    assert "support.cases.jsonl" in message


def test_missing_golden_set_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file: No such file"):
        load(tmp_path / "goldensets" / "absent.yaml", base_dir=tmp_path)


# --- properties ----------------------------------------------------------------------------------

IDS = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,15}\Z")
TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20)
VALUES = st.one_of(TEXT, st.integers(-(10**6), 10**6), st.booleans(), st.none())
INPUTS = st.dictionaries(st.text(string.ascii_letters + "_", min_size=1, max_size=8), VALUES,
                         max_size=4)
CASE = st.fixed_dictionaries(
    {"input": INPUTS},
    optional={"reference": TEXT, "tags": st.lists(TEXT, max_size=3),
              "runs": st.integers(1, 20), "checks": st.just([{"contains": "x"}])},
)
CASES = st.lists(IDS, min_size=1, max_size=6, unique=True).flatmap(
    lambda ids: st.tuples(st.just(ids), st.lists(CASE, min_size=len(ids), max_size=len(ids)))
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=CASES)
def test_generated_cases_round_trip_through_yaml(
    generated: tuple[list[str], list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    ids, bodies = generated
    cases = [{"id": case_id, **body} for case_id, body in zip(ids, bodies, strict=True)]
    root = tmp_path_factory.getbasetemp() / "roundtrip"
    path = root / "goldensets" / "gen.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)

    def dump(data: dict[str, Any]) -> Any:
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return load(path, base_dir=root)

    gs = dump({"name": "gen", "version": 1, "cases": cases})
    assert [c.id for c in gs.cases] == ids
    assert [c.input for c in gs.cases] == [c["input"] for c in cases]
    assert [c.reference for c in gs.cases] == [c.get("reference") for c in cases]
    assert gs.content_hash == content_hash(None, cases)

    shuffled = [dict(reversed(list(c.items()))) for c in cases]
    again = dump({"cases": shuffled, "version": 1, "name": "gen"})
    assert again.content_hash == gs.content_hash
