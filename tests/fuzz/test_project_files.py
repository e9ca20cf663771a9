"""Issue 17: no project file can hang collection, crash pytest or print a traceback.

Seeded mutations of every file a project gives goldband (``projectkit.mutations``), files that
hypothesis writes, and a few real pytest runs. For each: loading finishes within 10 s, raises
nothing but a goldband error, and its message names ``file:line`` in lines of readable length.
The whole module takes about 15 s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .projectkit import (
    MUTATED,
    Mutation,
    alias_bomb,
    base_files,
    collect,
    mutations,
    run_with_deadline,
    write_project,
)

PER_FILE = 50  # 10 files x 50 = 500 mutations (issue 17 measured 333)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return base_files(tmp_path_factory.mktemp("base"))


def problems_of(files: dict[str, bytes], root: Path) -> list[str]:
    write_project(root, files)
    return run_with_deadline(lambda: collect(root)).problems()


@pytest.mark.parametrize("name", MUTATED)
def test_every_mutation_loads_or_fails_with_a_located_message(
        name: str, base: dict[str, bytes], tmp_path: Path) -> None:
    found = {}
    for i, mutation in enumerate(m for m in mutations(PER_FILE) if m.file == name):
        problems = problems_of(mutation.apply(base), tmp_path / str(i))
        if problems:
            found[str(mutation)] = problems
    assert not found, "\n\n".join(f"{m}: {'; '.join(p)}" for m, p in found.items())


def test_the_mutations_are_seeded_and_cover_every_kind() -> None:
    drawn = mutations(PER_FILE)
    assert drawn == mutations(PER_FILE)
    assert len(drawn) == PER_FILE * len(MUTATED)
    assert {m.kind for m in drawn if m.file == "goldband.yaml"} >= {"nul", "latin1", "fragment", "huge", "reshape"}


def test_a_mutation_changes_its_file_and_nothing_else(base: dict[str, bytes]) -> None:
    changed = Mutation("rubrics/policy.yaml", "nul", 1).apply(base)
    assert [n for n in base if base[n] != changed[n]] == ["rubrics/policy.yaml"]
    assert b"\x00" in changed["rubrics/policy.yaml"]


# --- hypothesis: documents of any shape, text of any kind -------------------------------------------------

KEYS = ["name", "version", "targets", "defaults", "cases", "id", "input", "checks", "contains", "regex", "rubric",
        "min_score", "band", "min_pass_rate", "confidence", "runs", "min_runs", "max_runs", "tags", "reference",
        "provenance", "json_schema", "json_path", "value", "length", "max", "scale", "min", "criteria", "weight",
        "levels", "description", "pass", "samples", "n", "combine", "model", "prompt", "params", "mode", "store",
        "reports", "judge", "temperature", "question", "1", "5", "<<", "versions"]
SCALARS = (st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=True)
           | st.text(max_size=20) | st.sampled_from(["support-v1", "policy", "30 days", "replay", "*a", "{{ q }}"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8) | SCALARS, inner, max_size=5),
                      max_leaves=25)
# YAML's syntax characters, a few words, and bytes that are not text: mostly broken documents
PIECES = st.sampled_from([":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!", "!!binary ", "|",
                          ">", "'", '"', "#", "?", "%", "@", "`", "\t", "name", "cases", "id: x", "\x00", "\x1b",
                          "\\u0000", "\\ud800", "<<: *a", "9" * 50, "é", "\U0001F600", "---", "..."])
FILES = ["goldband.yaml", "goldensets/support.yaml", "rubrics/policy.yaml", "goldensets/support.lock",
         "goldensets/extract.cases.jsonl"]
PROPERTY = settings(max_examples=100, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check(base: dict[str, bytes], name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        problems = problems_of({**base, name: data}, Path(tmp))
    assert not problems, f"{name} = {data[:300]!r}: {'; '.join(problems)}"


@PROPERTY
@given(name=st.sampled_from(FILES), value=VALUES)
def test_a_document_of_any_shape_is_loaded_or_refused_with_a_location(
        base: dict[str, bytes], name: str, value: Any) -> None:
    text = yaml.safe_dump(value, allow_unicode=True, sort_keys=False) if not name.endswith(".jsonl") else _jsonl(value)
    _check(base, name, text.encode())


@PROPERTY
@given(name=st.sampled_from(FILES), pieces=st.lists(PIECES, max_size=40), raw=st.binary(max_size=20))
def test_any_text_is_loaded_or_refused_with_a_location(
        base: dict[str, bytes], name: str, pieces: list[str], raw: bytes) -> None:
    _check(base, name, "".join(pieces).encode() + raw)


def _jsonl(value: Any) -> str:
    import json

    rows = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(r, default=str) for r in rows) + "\n"


# --- real pytest runs: a collection error or a usage error, never INTERNALERROR ----------------------------

RUNS = [  # (file, how it is damaged, pytest's exit status: 4 a usage error (goldband.yaml), 2 a collection error)
    ("goldband.yaml", b"store: .goldband/store.db\x00\n", 4),
    ("goldband.yaml", b"mode: r\xe9play\n", 4),
    ("goldband.yaml", alias_bomb().encode(), 4),
    ("prompts/support.j2", b"Customer: {{ question }}\xff\n", 4),
    ("goldensets/support.yaml", b"name: support\nversion: 1\ncases: [" + b"[" * 1000 + b"]" * 1001 + b"\n", 2),
    ("goldensets/support.yaml", b"name: &a [*a]\n", 2),
    ("rubrics/policy.yaml", alias_bomb().encode(), 2),
    ("goldensets/support.lock", b"versions: {1: [\n", 2),
    ("goldensets/extract.cases.jsonl", b'{"id": "a", "input": {"q": "\xc3("}}\n', 2),
]


@pytest.mark.parametrize(("name", "data", "status"), RUNS, ids=[f"{r[0]}-{i}" for i, r in enumerate(RUNS)])
def test_a_damaged_file_stops_pytest_with_a_located_error(
        pytester: pytest.Pytester, base: dict[str, bytes], name: str, data: bytes, status: int) -> None:
    write_project(pytester.path, {**base, name: data})
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == status, output
    assert "INTERNALERROR" not in output and "Traceback" not in output, output
    assert name.rsplit("/", 1)[-1] + ":" in output, output  # file:line


def test_a_nul_byte_in_goldband_yaml_is_a_usage_error_not_exit_3(pytester: pytest.Pytester,
                                                                 base: dict[str, bytes]) -> None:
    """The issue's crash, in a real pytest process: INTERNALERROR and exit 3, the judge-error code."""
    write_project(pytester.path, {**base, "goldband.yaml": base["goldband.yaml"].replace(b"mode:", b"mo\x00de:")})
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: goldband.yaml:2:3: control character U+0000 (NUL) is not allowed here*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
