"""Finishing a run (issue 17): complete only once its series points and reports exist; anything goldband
failed to write (a store write, the reports) makes the run incomplete, says so, and exits 3."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.session import finish, writer
from goldband.store import open_store
from tests.session.test_recorder import (
    at,
    backend_store,
    fingerprint,
    goldenset,
    make_project,
    run,
    run_xdist,
    store_of,
)

LOST = '''
import sqlite3

def pytest_configure(config):
    if hasattr(config, "workerinput"):  # every xdist worker's store loses its trial writes
        import goldband.session.writer as writer

        def lost(*args, **kwargs):
            raise sqlite3.DatabaseError("database disk image is malformed")

        writer.insert_trial_batches = lost
'''

KILL = '''
import os, signal
import goldband.session.finish as finish

_write = finish.write_reports

def killed_after_reports(*args, **kwargs):
    """The reports are on disk; the process dies before the run's finish commits."""
    written = _write(*args, **kwargs)
    if os.environ.get("KILL_AFTER_REPORTS"):
        os.kill(os.getpid(), signal.SIGKILL)
    return written

finish.write_reports = killed_after_reports
'''


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return make_project(pytester, monkeypatch, goldenset(4, 3))


@pytest.fixture
def store(project: pytest.Pytester, store_at: str) -> str:
    return backend_store(project, store_at)


def _malformed(*args: Any, **kwargs: Any) -> None:
    raise sqlite3.DatabaseError("database disk image is malformed")


def history(path: Path | str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, ["history", "--json", "--store", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    runs: list[dict[str, Any]] = json.loads(result.output)
    return runs


def series_count(path: Path | str, run_id: str) -> int:
    with open_store(path, create=False) as store:
        return int(store.conn.execute("SELECT COUNT(*) FROM series_points WHERE run_id = ?", [run_id]).fetchone()[0])


def test_a_write_the_store_loses_fails_the_run_and_says_so(project: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "insert_trial_batches", _malformed)
    result = run(project)
    result.assert_outcomes(passed=4)  # every case passed: the store failed, not the model
    assert result.ret == 3
    with open_store(store_of(project), create=False) as store:
        (only,) = store.runs()
        assert (only.status, only.exit_status) == ("incomplete", 3)
        (problem,) = only.problems
        assert problem.endswith(" store writes lost") and int(problem.split()[0]) >= 4
        assert store.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 0
        assert len(store.verdicts(only.id)) == 4  # what did reach the store is kept
    result.stdout.fnmatch_lines([
        "goldband: store write failed: *: the store is damaged or not a goldband store: database disk image is "
        "malformed*",
        f"goldband: store write failed: run {only.id} is incomplete: {problem} (exit status 3: goldband failed, "
        "not the model)",
        f"goldband: run {only.id} incomplete · store .goldband/store.db · report reports/{only.id}/report.html"])
    shown = CliRunner().invoke(main, ["show", "--store", str(store_of(project))])
    assert shown.exit_code == 0 and f"  problem: {problem}" in shown.output  # goldband show says it too


def test_under_xdist_a_workers_lost_writes_fail_the_controllers_run(project: pytest.Pytester) -> None:
    project.makeconftest(LOST)
    result = run_xdist(project, "-n", "2")
    assert result.ret == 3, result.stdout.str()
    with open_store(store_of(project), create=False) as store:
        (only,) = store.runs()
        assert (only.status, only.exit_status) == ("incomplete", 3)
        (problem,) = only.problems
        assert problem.endswith(" store writes lost") and int(problem.split()[0]) >= 4  # both workers' losses
    result.stdout.fnmatch_lines(["goldband: store write failed: *database disk image is malformed*",
                                 f"goldband: store write failed: run {only.id} is incomplete: {problem} (exit "
                                 "status 3: goldband failed, not the model)"])


def test_reports_that_cannot_be_written_leave_the_run_incomplete(project: pytest.Pytester) -> None:
    (project.path / "blocker").write_text("a file, not a directory")
    result = run(project, "--goldband-report", "blocker/reports")
    assert result.ret == 3
    with open_store(store_of(project), create=False) as store:
        (only,) = store.runs()
        assert (only.status, only.exit_status) == ("incomplete", 3)
        (problem,) = only.problems
        assert problem.startswith("reports not written: UsageError: ") and "cannot write the report" in problem
        assert len(store.verdicts(only.id)) == 4
    assert series_count(store_of(project), only.id) > 0  # the series points were written
    result.stdout.fnmatch_lines([f"goldband: run {only.id} is incomplete: reports not written: UsageError: *"
                                 "(exit status 3: goldband failed, not the model)"])


def test_a_finish_the_store_cannot_write_is_recorded_as_incomplete(project: pytest.Pytester,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(finish, "replace_series", _malformed)
    result = run(project, "--goldband-report", "out")
    assert result.ret == 3
    with open_store(store_of(project), create=False) as store:
        (only,) = store.runs()
        assert (only.status, only.exit_status) == ("incomplete", 3)
        assert only.problems == ["series points and reports not written: the store is damaged or not a goldband "
                                 "store: database disk image is malformed"]
    assert series_count(store_of(project), only.id) == 0
    assert not (project.path / "out").exists()  # the reports come after the series points


def test_a_finish_not_recorded_at_all_still_fails_the_run(project: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(finish, "finish_run", _malformed)
    result = run(project)
    assert result.ret == 3
    with open_store(store_of(project), create=False) as store:
        (only,) = store.runs()
    assert only.status == "running" and only.finished_at is None  # this (live) test process owns it
    result.stdout.fnmatch_lines([f"goldband: could not finish run {only.id}: *",
                                 f"goldband: store write failed: run {only.id} is incomplete: its finish was not "
                                 "recorded (exit status 3: goldband failed, not the model)"])


def _pytest(p: pytest.Pytester, *args: str, kill: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(p.path), "CALL_LOG": str(p.path / "calls.log")}
    env.pop("KILL_AFTER_REPORTS", None)
    if kill:
        env["KILL_AFTER_REPORTS"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
                          cwd=p.path, env=env, capture_output=True, text=True, timeout=180)


def test_a_run_killed_while_finishing_is_not_complete_and_resume_finishes_it(project: pytest.Pytester,
                                                                           store: str) -> None:
    project.makeconftest(KILL)
    path, calls = store, project.path / "calls.log"
    killed = _pytest(project, *at(store), kill=True)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    (row,) = history(path)
    run_id = row["id"]
    report = project.path / "reports" / run_id / "report.html"
    assert report.is_file()  # the reports were on disk ...
    assert (row["status"], row["finished_at"]) == ("incomplete", None)  # ... but the run never read complete
    assert series_count(path, run_id) == 0  # its series points went with the uncommitted finish
    assert len(calls.read_text().splitlines()) == 12
    calls.unlink()
    report.unlink()

    resumed = _pytest(project, "--goldband-resume", run_id, *at(store))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert not calls.exists()  # every trial was kept: nothing to call, only the finish to do
    (row,) = history(path)
    assert (row["id"], row["status"], row["sessions"], row["exit_status"], row["problems"]) == (
        run_id, "complete", 2, 0, [])
    assert series_count(path, run_id) > 0 and report.is_file()
    shown = json.loads((report.parent / "report.json").read_text())["run"]  # rendered in the finish's transaction
    assert (shown["status"], shown["exit_status"], shown["sessions"]) == ("complete", 0, 2) and shown["finished_at"]
    assert f"goldband: run {run_id} complete" in resumed.stdout


def test_the_exit_status_of_a_failed_run_keeps_an_interrupt_or_usage_error() -> None:
    assert [finish.failed_status(s) for s in (0, 1, 2, 4, 5)] == [3, 3, 2, 4, 5]


def test_pytest_resume_of_a_complete_run_changes_nothing(project: pytest.Pytester, store: str) -> None:
    """The pytest path, like `goldband run --resume`: no session, no verdict, no report rewritten."""
    assert run(project, *at(store)).ret == 0
    with open_store(store, create=False) as db:
        (done,) = db.runs()
    report = project.path / "reports" / done.id / "report.html"
    before = (fingerprint(store), report.stat().st_mtime_ns)
    for args in (("--goldband-resume", "latest"), ("--goldband-resume", done.id[:10], "-n", "2")):
        result = (run_xdist if "-n" in args else run)(project, *args, *at(store))
        assert result.ret == 0
        result.stdout.fnmatch_lines([f"*goldband: run {done.id} is complete: nothing to resume*"])
        assert "passed" not in result.stdout.str()
    assert (fingerprint(store), report.stat().st_mtime_ns) == before
    with open_store(store, create=False) as db:
        assert db.run(done.id).sessions == 1  # type: ignore[union-attr]
