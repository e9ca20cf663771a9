"""Accepting a review file: the golden set grows, its version and lock move, or nothing is written at all."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldband.errors import ConfigError
from goldband.golden.accept import accept_review
from goldband.golden.goldenset import GoldenSet, load
from goldband.golden.lock import lock_path
from goldband.golden.review import write_review
from goldband.golden.similar import drop_near_duplicates

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 12, 7, 17, 30, tzinfo=dt.UTC)
# Any character UTF-8 can hold, with line breaks, controls and YAML syntax often.
SPECIAL = st.characters(codec="utf-8") | st.sampled_from(list("\n\r\t \x85\u2028\u2029\x00\x1b\ufeff:#-'\"|>&*!%@`"))
TRICKY = "Line one\n\x1b[31mred\x1b[0m \x00 key: value\n- item\n# not a comment\n  indented\ttab  \n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The bundled support (inline cases) and extract (JSONL cases) sets with their locks, rubrics and schema."""
    (tmp_path / "goldensets").mkdir()
    for name in ("support.yaml", "support.lock", "extract.yaml", "extract.cases.jsonl", "extract.lock"):
        shutil.copy(ROOT / "goldensets" / name, tmp_path / "goldensets" / name)
    shutil.copytree(ROOT / "rubrics", tmp_path / "rubrics")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the golden sets' folder (temporary files included)."""
    folder = root / "goldensets"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line.startswith(needle))


def candidate(question: str, key: str = "question", **given: Any) -> dict[str, Any]:
    return {"input": {key: question}, "output": "Returns are accepted within 60 days.", "feedback": [
        {"kind": "thumbs", "value": "down"}], "reference": "No, within 30 days.", "tags": ["policy"],
        "provenance": {"source": "production", "ref": given.pop("ref", "8f21a9c0d1e2"), "note": "feedback=negative",
                       "time": "2026-12-01 10:00:00.000", "version": "support-v1"}, **given}


def review(root: Path, name: str, candidates: list[dict[str, Any]], *, accept: bool = True,
           edit: tuple[str, str] | None = None) -> Path:
    path = root / f"{name}.review.yaml"
    write_review(path, set_path=Path(f"goldensets/{name}.yaml"), set_name=name, set_version="3",
                 candidates=candidates, selection={"source": "production"}, now=NOW)
    text = path.read_text(encoding="utf-8")
    if accept:
        text = text.replace("accept: false", "accept: true")
    if edit:
        assert edit[0] in text
        text = text.replace(*edit)
    path.write_text(text, encoding="utf-8")
    return path


def reload(root: Path, name: str) -> GoldenSet:
    return load(root / "goldensets" / f"{name}.yaml", base_dir=root)


def locked(root: Path, name: str) -> dict[str, str]:
    return dict(yaml.safe_load(lock_path(root / "goldensets" / f"{name}.yaml").read_text())["versions"])


def test_inline_cases_are_appended_and_the_rest_of_the_file_is_untouched(project: Path) -> None:
    before = (project / "goldensets" / "support.yaml").read_text(encoding="utf-8")
    path = review(project, "support", [candidate("Can I return shoes after 40 days? I wore them once."),
                                       candidate(TRICKY, ref="c0ffee0011", checks=[{"contains": "30 days"}])])
    result = accept_review(path, base_dir=project)
    assert (result.set_name, result.old_version, result.new_version) == ("support", "3", "4")
    assert result.added == ("prod-8f21a9c0", "prod-c0ffee00")
    assert result.files == (Path("goldensets/support.yaml"), Path("goldensets/support.lock"))
    assert not result.already_applied
    after = (project / "goldensets" / "support.yaml").read_text(encoding="utf-8")
    assert after.startswith(before.replace("\nversion: 3\n", "\nversion: 4\n"))  # comments and all, byte for byte
    gs = reload(project, "support")
    assert gs.version == "4" and [c.id for c in gs.cases[-2:]] == ["prod-8f21a9c0", "prod-c0ffee00"]
    new = gs.cases[-1]
    assert new.input == {"question": TRICKY} and new.reference == "No, within 30 days." and new.tags == ("policy",)
    assert new.provenance == {"source": "production", "ref": "c0ffee0011", "note": "feedback=negative",
                              "time": "2026-12-01 10:00:00.000", "version": "support-v1", "added": "2026-12-07"}
    assert [c.name for c in new.checks][-1] == "contains"
    assert locked(project, "support")["4"] == gs.content_hash
    assert locked(project, "support")["3"] == yaml.safe_load((ROOT / "goldensets" / "support.lock").read_text())[
        "versions"]["3"]
    assert not [p for p in (project / "goldensets").iterdir() if p.name.startswith(".")]


def test_jsonl_cases_get_one_line_each(project: Path) -> None:
    jsonl = project / "goldensets" / "extract.cases.jsonl"
    before, before_yaml = jsonl.read_bytes(), (project / "goldensets" / "extract.yaml").read_text()
    path = review(project, "extract", [candidate("Order NW-1: cancel it!\nThanks", key="email"),
                                       candidate(TRICKY, key="email", ref="abc")])
    result = accept_review(path, base_dir=project)
    assert (result.old_version, result.new_version) == ("2", "3")
    assert result.files == (Path("goldensets/extract.cases.jsonl"), Path("goldensets/extract.yaml"),
                            Path("goldensets/extract.lock"))
    after = jsonl.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == before.count(b"\n") + 2
    assert (project / "goldensets" / "extract.yaml").read_text() == before_yaml.replace("version: 2", "version: 3")
    gs = reload(project, "extract")
    assert [c.id for c in gs.cases[-2:]] == ["prod-8f21a9c0", "prod-abc"]
    assert gs.cases[-1].input == {"email": TRICKY} and gs.cases[-1].line == before.count(b"\n") + 2
    assert locked(project, "extract")["3"] == gs.content_hash


@pytest.mark.parametrize(("edit", "at", "case_id", "found"), [
    (("id: prod-c0ffee00", "id: bad id!"), "  id: bad id!", "bad id!", "does not match"),
    (("contains: 30 days", "containz: 30 days"), "  - containz", "prod-c0ffee00", "unknown check 'containz'"),
    (("  - contains: 30 days", "  - contains: 30 days\n    mode: sometimes"), "  - contains", "prod-c0ffee00",
     "mode"),
    (("id: prod-c0ffee00", "id: refund-window"), "  id: refund-window", "refund-window",
     "duplicate case id 'refund-window' (first at goldensets/support.yaml:20)"),
    (("    question: fine", "    question: [fine]\n  description: 3"), "  description", "prod-8f21a9c0",
     "description"),
])
def test_an_invalid_case_names_the_review_line_and_nothing_changes(project: Path, edit: tuple[str, str], at: str,
                                                                 case_id: str, found: str) -> None:
    path = review(project, "support", [candidate("fine"), candidate(TRICKY, ref="c0ffee0011",
                                                                    checks=[{"contains": "30 days"}])], edit=edit)
    before = snapshot(project)
    with pytest.raises(ConfigError) as info:
        accept_review(path, base_dir=project)
    message = str(info.value)
    assert message.startswith(f"support.review.yaml:{line_of(path, at)}: candidate '{case_id}': ")
    assert found in message and "(as a case of goldensets/support.yaml)" in message
    assert snapshot(project) == before


def test_an_invalid_jsonl_case_names_the_candidate(project: Path) -> None:
    path = review(project, "extract", [candidate("fine", key="email", checks=[{"contains": "x"}])],
                  edit=("contains: x", "containz: x"))
    before = snapshot(project)
    with pytest.raises(ConfigError) as info:
        accept_review(path, base_dir=project)
    line = line_of(path, "- accept: true")  # a JSONL case is one line: the candidate is named at its start
    assert str(info.value).startswith(f"extract.review.yaml:{line}: candidate 'prod-8f21a9c0': unknown check "
                                      "'containz'")
    assert snapshot(project) == before


def test_two_accepted_candidates_with_one_id(project: Path) -> None:
    path = review(project, "support", [candidate("a"), candidate("b", ref="ffff0000")],
                  edit=("id: prod-ffff0000", "id: prod-8f21a9c0"))
    before = snapshot(project)
    with pytest.raises(ConfigError, match=r"support.review.yaml:\d+: candidate 'prod-8f21a9c0': two accepted"):
        accept_review(path, base_dir=project)
    assert snapshot(project) == before


def test_accepting_twice_is_a_no_op(project: Path) -> None:
    path = review(project, "support", [candidate("Can I return worn shoes?")])
    accept_review(path, base_dir=project)
    before = snapshot(project)
    again = accept_review(path, base_dir=project)
    assert again.already_applied and again.added == () and again.files == ()
    assert (again.old_version, again.new_version) == ("4", "4")
    assert snapshot(project) == before


def test_an_edited_review_accepted_again_is_refused_as_a_duplicate(project: Path) -> None:
    path = review(project, "support", [candidate("Can I return worn shoes?")])
    accept_review(path, base_dir=project)
    path.write_text(path.read_text().replace("No, within 30 days.", "No."))
    before = snapshot(project)
    with pytest.raises(ConfigError, match=r"duplicate case id 'prod-8f21a9c0'.*may have been accepted already"):
        accept_review(path, base_dir=project)
    assert snapshot(project) == before


def test_nothing_accepted_changes_nothing(project: Path) -> None:
    before = snapshot(project)
    result = accept_review(review(project, "support", [candidate("x")], accept=False), base_dir=project)
    assert result.added == () and result.files == () and result.new_version == "3"
    assert snapshot(project) == before


@pytest.mark.parametrize(("version", "expected"), [("'7'", "'8'"), ('"41"', '"42"')])
def test_a_quoted_whole_number_version_stays_quoted(project: Path, version: str, expected: str) -> None:
    path = project / "goldensets" / "support.yaml"
    path.write_text(path.read_text().replace("version: 3", f"version: {version}"))
    accept_review(review(project, "support", [candidate("x")]), base_dir=project)
    assert f"\nversion: {expected}\n" in path.read_text()


def test_a_version_that_is_not_a_number_is_refused(project: Path) -> None:
    path = project / "goldensets" / "support.yaml"
    path.write_text(path.read_text().replace("version: 3", "version: 2024-05"))
    before = snapshot(project)
    with pytest.raises(ConfigError, match=r"goldensets/support.yaml:7: version '2024-05' is not a whole number"):
        accept_review(review(project, "support", [candidate("x")]), base_dir=project)
    assert {k: v for k, v in snapshot(project).items() if "review" not in k} == {
        k: v for k, v in before.items() if "review" not in k}


def test_a_set_changed_without_a_bump_is_refused_first(project: Path) -> None:
    path = project / "goldensets" / "support.yaml"
    path.write_text(path.read_text().replace("Can I return shoes after 40 days?", "Can I return boots?"))
    rev = review(project, "support", [candidate("x")])
    before = snapshot(project)
    with pytest.raises(ConfigError, match="changed but its version is still 3"):
        accept_review(rev, base_dir=project)
    assert snapshot(project) == before


def test_a_next_version_the_lock_knows_is_refused(project: Path) -> None:
    lock = lock_path(project / "goldensets" / "support.yaml")
    lock.write_text(lock.read_text() + f"  '4': sha256:{'0' * 64}\n")
    rev = review(project, "support", [candidate("x")])
    before = snapshot(project)
    with pytest.raises(ConfigError, match="already records version 4"):
        accept_review(rev, base_dir=project)
    assert snapshot(project) == before


def test_the_review_must_name_the_set(project: Path) -> None:
    rev = review(project, "support", [candidate("x")], edit=("set_name: support", "set_name: other"))
    with pytest.raises(ConfigError, match="the review is for golden set 'other'"):
        accept_review(rev, base_dir=project)
    rev = review(project, "support", [candidate("x")], edit=("golden_set: goldensets/support.yaml",
                                                             "golden_set: goldensets/nope.yaml"))
    with pytest.raises(ConfigError, match=r"golden set goldensets/nope\.yaml not found"):
        accept_review(rev, base_dir=project)


@pytest.mark.parametrize("tail", ["", "\n\n# trailing comment\n", "    reference: |+\n      kept\n\n\n",
                                  "    checks: &c [{contains: x}]\n  # a comment\nextra_after: 1\n"])
def test_appending_after_unusual_endings(tmp_path: Path, tail: str) -> None:
    """The new cases go after the last item, whatever follows it; the old cases read back unchanged."""
    goldensets = tmp_path / "goldensets"
    goldensets.mkdir()
    text = "name: s\nversion: 1\ncases:\n  - id: a\n    input: {q: x}\n" + tail
    if "extra_after" in tail:
        text = text.replace("extra_after: 1\n", "description: after the cases\n")
    (goldensets / "s.yaml").write_text(text)
    old = [c.input for c in load(goldensets / "s.yaml", base_dir=tmp_path).cases]
    path = tmp_path / "r.yaml"
    write_review(path, set_path=Path("goldensets/s.yaml"), set_name="s", set_version="1",
                 candidates=[candidate("new one")], selection={}, now=NOW)
    path.write_text(path.read_text().replace("accept: false", "accept: true"))
    accept_review(path, base_dir=tmp_path)
    gs = load(goldensets / "s.yaml", base_dir=tmp_path)
    assert [c.input for c in gs.cases] == [*old, {"question": "new one"}] and gs.version == "2"


def test_an_empty_flow_list_takes_the_cases(tmp_path: Path) -> None:
    (tmp_path / "goldensets").mkdir()
    (tmp_path / "goldensets" / "s.yaml").write_text("# new set\nname: s\nversion: 1\ncases: []  # none yet\n")
    path = tmp_path / "r.yaml"
    write_review(path, set_path=Path("goldensets/s.yaml"), set_name="s", set_version="1",
                 candidates=[candidate("first"), candidate("second", ref="b")], selection={}, now=NOW)
    path.write_text(path.read_text().replace("accept: false", "accept: true"))
    accept_review(path, base_dir=tmp_path)
    gs = load(tmp_path / "goldensets" / "s.yaml", base_dir=tmp_path)
    assert [c.id for c in gs.cases] == ["prod-8f21a9c0", "prod-b"]
    assert (tmp_path / "goldensets" / "s.yaml").read_text().startswith("# new set\nname: s\nversion: 2\ncases:\n")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(SPECIAL, min_size=1, max_size=30), min_size=1, max_size=3, unique=True))
def test_accepted_cases_read_back_exactly_and_are_never_proposed_again(tmp_path_factory: pytest.TempPathFactory,
                                                                       texts: list[str]) -> None:
    root = tmp_path_factory.mktemp("p")
    (root / "goldensets").mkdir()
    (root / "goldensets" / "s.yaml").write_text("name: s\nversion: 1\ncases:\n  - id: a\n    input: {q: x}\n")
    path = root / "r.yaml"
    candidates = [candidate(t, ref=f"{i:08x}", reference=t) for i, t in enumerate(texts)]
    write_review(path, set_path=Path("goldensets/s.yaml"), set_name="s", set_version="1", candidates=candidates,
                 selection={}, now=NOW)
    path.write_text(path.read_text().replace("accept: false", "accept: true"))
    accept_review(path, base_dir=root)
    gs = load(root / "goldensets" / "s.yaml", base_dir=root)
    assert [(c.input, c.reference) for c in gs.cases[1:]] == [({"question": t}, t) for t in texts]
    existing = ["\n".join(str(v) for v in c.input.values()) for c in gs.cases if isinstance(c.input, dict)]
    kept, _ = drop_near_duplicates(texts, existing, existing_ids=[c.id for c in gs.cases])
    assert kept == []
