"""``goldband run``: options reach pytest, a progress bar on a terminal, a summary of the stored run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from goldband.cli.progress import Events
from goldband.report.data import CROSS
from goldband.store import open_store
from ptykit import goldband_on_terminal
from tests.session.test_recorder import fingerprint


@pytest.fixture
def demo(demo_project: Path) -> Path:
    return demo_project


def test_run_records_with_options_and_prints_a_summary(demo: Path, store_at: str) -> None:
    # The `goldband` command as users type it: a process of its own (as in every test here).
    out = subprocess.run([sys.executable, "-m", "goldband", "run", "--no-progress", "--store", store_at,
                          "--kind", "nightly", "--report", "out", "-k", "refund-window or express-shipping",
                          "-p", "no:cacheprovider"], cwd=demo, capture_output=True, text=True, timeout=180)
    assert out.returncode == 1, out.stdout + out.stderr
    with open_store(store_at, create=False) as store:
        (run,) = store.runs()
    assert run.kind == "nightly" and run.status == "complete"
    assert not list(demo.rglob("postgresql*"))  # a URL never becomes a folder
    lines = out.stdout.splitlines()
    assert "1 failed, 1 passed" in out.stdout  # pytest's own output streams as usual
    header = next(i for i, line in enumerate(lines) if line.startswith(f"golden set {CROSS} target"))
    assert lines[header + 1].split()[:5] == ["support", CROSS, "support-v1", "2", "1"]
    assert f"run {run.id} complete: FAIL · report out/{run.id}/report.html" in out.stdout
    assert f"details: goldband show {run.id}" in out.stdout


def test_a_terminal_gets_a_progress_bar_then_the_output(demo: Path) -> None:
    shown_on = goldband_on_terminal(demo, "run", "-k", "refund-window", "-p", "no:cacheprovider")
    shown, stdout = shown_on.terminal, shown_on.stdout
    assert "goldband  [" in shown and "1/1 cases · 1 PASS" in shown
    assert b"1 passed" in stdout and b"golden set \xc3\x97 target" in stdout


def test_events_keep_the_largest_plan_and_count_verdicts(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [{"event": "plan", "cases": 10, "trials": 50}, {"event": "plan", "cases": 10, "trials": 50},
             {"event": "trials", "n": 5}, {"event": "case", "status": "PASS"}, {"event": "trials", "n": 3}]
    path.write_text("".join(json.dumps(e) + "\n" for e in lines) + '{"event": "ca')  # a line being written
    events = Events(path)
    events.read()
    assert events.totals == {"cases": 10, "trials": 50} and events.trials == 8
    assert events.status() == "1/10 cases · 1 PASS"
    with path.open("a") as f:
        f.write('se", "status": "FAIL"}\n')
    events.read()
    assert events.status() == "2/10 cases · 1 PASS, 1 FAIL"


def test_resuming_a_complete_run_says_so_and_changes_nothing(demo: Path, store_at: str) -> None:
    def goldband(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "goldband", "run", "--no-progress", "-k", "refund-window",
                               "--store", store_at, "-p", "no:cacheprovider", *args], cwd=demo,
                              capture_output=True, text=True, timeout=180)

    assert goldband().returncode == 0
    store = store_at
    with open_store(store, create=False) as db:
        (run,) = db.runs()
        rows = {t: db.conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in db.table_counts()}
    assert run.status == "complete" and run.sessions == 1
    report = demo / "reports" / run.id / "report.html"
    before = (fingerprint(store), report.stat().st_mtime_ns, report.read_bytes())
    for ref in ("latest", run.id[:10]):
        out = goldband("--resume", ref)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.startswith(f"run {run.id} is complete: nothing to resume ("), out.stdout
        assert "passed" not in out.stdout and out.stderr == ""  # pytest never started
    assert (fingerprint(store), report.stat().st_mtime_ns, report.read_bytes()) == before
    with open_store(store, create=False) as db:
        assert {t: db.conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in db.table_counts()} == rows
        assert db.run(run.id).sessions == 1  # type: ignore[union-attr]
