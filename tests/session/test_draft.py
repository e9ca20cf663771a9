"""Draft mode from real pytest runs: a golden set edited under an unchanged version runs locally with a
warning and is recorded as a draft (lock untouched, never a baseline, no series points); in CI the lock stays
strict unless --goldband-draft says otherwise; a bumped version runs as a normal run again."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from goldband.store import RunRow, open_store
from session.test_recorder import goldenset, make_project, run
from session.test_recorder import store_of as recorded_in

WARNING = ("goldband: support.yaml changed under version 3 (draft): results are marked draft; bump 'version' "
           "to 4 and commit support.lock to make them count")
LOCK_ERROR = "*goldensets/support.yaml:2: golden set 'support' changed but its version is still 3*"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, store_at: str) -> pytest.Pytester:
    """A project whose golden set (version 3) ran once, so its lock holds version 3's hash; once per backend:
    its own SQLite file, or a PostgreSQL database every run finds in GOLDBAND_STORE."""
    for name in ("GOLDBAND_DRAFT", "GOLDBAND_STRICT", "GOLDBAND_BASELINE"):
        monkeypatch.delenv(name, raising=False)
    project = make_project(pytester, monkeypatch, goldenset(2, 2, version=3))
    if store_at.startswith("postgresql://"):
        monkeypatch.setenv("GOLDBAND_STORE", store_at)
    run(project).assert_outcomes(passed=2)
    return project


def store_of(project: pytest.Pytester) -> Path | str:
    """The store the project's runs write: GOLDBAND_STORE's database when set, else the project's file."""
    return os.environ.get("GOLDBAND_STORE") or recorded_in(project)


def edit(project: pytest.Pytester, *, version: int = 3) -> bytes:
    """Change the cases (a third one) keeping ``version``; the lock file's bytes before the run."""
    (project.path / "goldensets" / "support.yaml").write_text(goldenset(3, 2, version=version))
    return lock(project)


def lock(project: pytest.Pytester) -> bytes:
    return (project.path / "goldensets" / "support.lock").read_bytes()


def runs(project: pytest.Pytester) -> list[RunRow]:
    with open_store(store_of(project), create=False) as store:
        return store.runs()


def series_count(project: pytest.Pytester, run_id: str) -> int:
    with open_store(store_of(project), create=False) as store:
        return len(store.series(run_id=run_id))


def test_an_edit_under_the_same_version_runs_locally_as_a_draft(project: pytest.Pytester) -> None:
    before = edit(project)
    result = run(project)
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["collected 3 items", WARNING, "*DRAFT run: results are marked draft*", WARNING])
    assert lock(project) == before  # a draft run never rewrites the lock
    draft, first = runs(project)
    assert draft.draft and not first.draft and draft.status == "complete"
    with open_store(store_of(project), create=False) as store:
        assert store.draft_goldensets(draft.id) == ["support"]
        found = store.latest_run()
        assert found is not None and found.id == first.id  # never the baseline 'latest'
        assert [p.run_id for p in store.case_history("support", "c00", "app")] == [first.id]
    assert series_count(project, draft.id) == 0 and series_count(project, first.id) > 0
    reports = project.path / "reports" / draft.id
    assert json.loads((reports / "report.json").read_text(encoding="utf-8"))["run"]["draft"] is True
    summary = (reports / "summary.md").read_text(encoding="utf-8")
    assert summary.splitlines()[0].endswith(f"run `{draft.id}` · DRAFT") and "> **DRAFT**: a golden set" in summary
    assert '<span class="badge s-draft" id="draft"' in (reports / "report.html").read_text(encoding="utf-8")
    for name in ("summary.md", "report.html"):
        assert "DRAFT" not in (project.path / "reports" / first.id / name).read_text(encoding="utf-8")


def test_a_draft_run_is_not_the_baseline_of_the_next_run(project: pytest.Pytester) -> None:
    edit(project)
    run(project).assert_outcomes(passed=3)
    draft, first = runs(project)
    result = run(project, "--goldband-baseline", "latest")
    result.stdout.fnmatch_lines([f"*run {first.id}*"])
    assert f"run {draft.id} " not in result.stdout.str().split("DRAFT run")[0]
    refused = run(project, "--goldband-baseline", draft.id)
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines([f"*--goldband-baseline: run {draft.id} is a draft run*"])


def test_in_ci_the_same_edit_is_the_lock_error(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    before = edit(project)
    result = run(project)
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error: nothing runs
    result.stdout.fnmatch_lines([LOCK_ERROR + "fix: bump 'version' (e.g. to 4)*--goldband-draft"])
    assert lock(project) == before and len(runs(project)) == 1  # no run recorded


def test_goldband_strict_keeps_the_lock_strict_locally(project: pytest.Pytester) -> None:
    edit(project)
    result = run(project, "--goldband-strict")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([LOCK_ERROR])


def test_goldband_draft_in_ci_runs_and_marks_the_run_draft(project: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    before = edit(project)
    result = run(project, "--goldband-draft")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([WARNING])
    draft, _ = runs(project)
    assert draft.draft and draft.kind == "ci" and lock(project) == before
    assert series_count(project, draft.id) == 0


def test_the_environment_forms_and_a_conflict(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("GOLDBAND_DRAFT", "1")
    edit(project)
    run(project).assert_outcomes(passed=3)
    assert runs(project)[0].draft
    both = run(project, "--goldband-strict")
    assert both.ret == pytest.ExitCode.USAGE_ERROR
    both.stderr.fnmatch_lines(["*--goldband-draft and --goldband-strict are both set*"])


def test_bumping_the_version_makes_a_normal_run(project: pytest.Pytester) -> None:
    edit(project)
    run(project).assert_outcomes(passed=3)  # a draft
    edit(project, version=4)
    result = run(project)
    result.assert_outcomes(passed=3)
    assert "DRAFT" not in result.stdout.str()
    counted = runs(project)[0]
    assert not counted.draft and series_count(project, counted.id) > 0
    assert b"'4': sha256:" in lock(project)
    with open_store(store_of(project), create=False) as store:
        found = store.latest_run()
        assert found is not None and found.id == counted.id
