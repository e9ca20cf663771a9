"""Recording runs into the store from real pytest sessions: no data lost, killed runs resumed, bad stores refused."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import agentkit
from goldband._util.hashing import canonical_hash
from goldband.errors import GoldbandError
from goldband.store import open_store
from goldband.testing import FakeOpenAI

APP = '''
import os, time

def answer(inp):
    """Deterministic; logs every call, so a test can count what a (resumed) run executed."""
    log = os.environ.get("CALL_LOG")
    if log:
        with open(log, "a") as f:
            f.write(inp["question"] + "\\n")
    time.sleep(float(os.environ.get("APP_DELAY", "0")))
    return f"Returns are accepted within 30 days. ({inp['question']})" if not inp.get("bad") else "No idea"
'''
CONFIG = "concurrency: 4\ntargets:\n  app:\n    callable: app:answer\n"


def goldenset(cases: int, runs: int, *, version: int = 1, bad: tuple[int, ...] = ()) -> str:
    body = "".join(f"  - id: c{i:02d}\n    input: {{question: q{i}{', bad: true' if i in bad else ''}}}\n"
                   for i in range(cases))
    return (f"name: support\nversion: {version}\ntargets: [app]\ndefaults:\n  runs: {runs}\n"
            f"  checks:\n    - contains: '30 days'\ncases:\n{body}")


def make_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, golden: str,
                 app: str = APP) -> pytest.Pytester:
    """A project of one golden set on the callable target ``app``, free of the caller's goldband variables."""
    for name in ("CI", "GOLDBAND_STORE", "GOLDBAND_REPORT", "GOLDBAND_KIND", "GOLDBAND_RESUME"):
        monkeypatch.delenv(name, raising=False)
    pytester.makefile(".yaml", goldband=CONFIG)
    pytester.makepyfile(app=app)
    pytester.mkdir("goldensets")
    (pytester.path / "goldensets" / "support.yaml").write_text(golden)
    pytester.syspathinsert()
    return pytester


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return make_project(pytester, monkeypatch, goldenset(4, 3, bad=(3,)))


def run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    """In-process (fast)."""
    return p.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)


def run_xdist(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    """In a subprocess: pytest-xdist's controller and its worker processes need a pytest of their own."""
    return p.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider", *args)


def store_of(p: pytest.Pytester) -> Path:
    return p.path / ".goldband" / "store.db"


def backend_store(p: pytest.Pytester, store_at: str) -> str:
    """The project's store, once per backend: SQLite's default file, or a fresh PostgreSQL database (its URL)."""
    return store_at if store_at.startswith("postgresql://") else str(store_of(p))


@pytest.fixture
def store(project: pytest.Pytester, store_at: str) -> str:
    return backend_store(project, store_at)


def at(store: str) -> tuple[str, ...]:
    """The plugin's options that put a run's store at ``store``, as a team gives a PostgreSQL one."""
    return ("--goldband-store", store)


def fingerprint(store: str) -> str:
    """What changes when anything is written: the SQLite file's bytes, or every PostgreSQL table's rows."""
    if not store.startswith("postgresql://"):
        return hashlib.sha256(Path(store).read_bytes()).hexdigest()
    with open_store(store, create=False, migrate_schema=False) as db:
        tables = [t for (t,) in db.conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                                "ORDER BY tablename")]
        rows = {t: sorted(map(repr, db.conn.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_a_run_is_recorded_with_its_trials_verdicts_series_and_reports(project: pytest.Pytester, store: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLDBAND_PROGRESS", str(project.path / "events.jsonl"))
    on_postgres = store.startswith("postgresql://")
    result = run(project, "--junitxml=out.xml", "--goldband-kind", "manual", *(at(store) if on_postgres else ()))
    result.assert_outcomes(passed=3, failed=1)
    with open_store(store, create=False) as db:
        (only,) = db.runs()
        assert (only.kind, only.status, only.mode, only.sessions, only.exit_status) == ("manual", "complete",
                                                                                      "live", 1, 1)
        assert only.command and only.command.startswith("pytest ") and "--junitxml=out.xml" in only.command
        assert only.goldband_version and only.root == str(project.path)
        counts = db.case_counts(only.id)
        assert {k[1]: (c.n, c.passes) for k, c in counts.items()} == {"c00": (3, 3), "c01": (3, 3), "c02": (3, 3),
                                                                       "c03": (3, 0)}
        verdicts = db.verdicts(only.id)
        assert {k[1]: v.verdict.status for k, v in verdicts.items()} == {"c00": "PASS", "c01": "PASS",
                                                                          "c02": "PASS", "c03": "FAIL"}
        assert verdicts[("support", "c00", "app")].nodeid == "goldensets/support.yaml::support::c00[app]"
        metrics = {p.metric for p in db.series(run_id=only.id)}
        assert metrics == {"pass_rate", "mean_score", "error_rate", "inconclusive_share", "latency_p50_ms",
                           "latency_p95_ms"}  # a callable target has no cost
        assert db.run_goldensets(only.id)["support"].startswith("sha256:")
        assert db.renderings(only.id) == {}  # a callable target is sent no messages
    report = project.path / "reports" / only.id / "report.html"
    assert report.is_file() and (project.path / "reports" / "latest" / "summary.md").is_file()
    shown = store if on_postgres else ".goldband/store.db"
    result.stdout.fnmatch_lines([f"goldband: run {only.id} complete · store {shown} · "
                                 f"report reports/{only.id}/report.html"])
    assert on_postgres is not store_of(project).exists()  # a PostgreSQL run leaves no SQLite file behind
    assert f"from store <code>{store}</code>" in report.read_text()  # the URL as given (no password in it)
    assert not list(project.path.rglob("postgresql*"))  # nor a folder named after the URL
    props = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
             for case in ET.parse(project.path / "out.xml").iter("testcase")}
    assert set(props) == {"c00[app]", "c01[app]", "c02[app]", "c03[app]"}
    for name, status, rate in (("c00[app]", "PASS", "1.0000"), ("c03[app]", "FAIL", "0.0000")):
        assert props[name]["goldband_run"] == only.id and props[name]["goldband_confidence"] != ""
        assert (props[name]["goldband_verdict"], props[name]["goldband_pass_rate"]) == (status, rate)
        low, high = float(props[name]["goldband_pass_rate_low"]), float(props[name]["goldband_pass_rate_high"])
        assert low <= float(rate) <= high and low < high  # the interval around the rate (3 trials)
    check_progress_events(project.path / "events.jsonl")


def test_store_and_report_paths_and_off(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    run(project, "--goldband-store", "results/runs.db", "--goldband-report", "out/reports")
    with open_store(project.path / "results" / "runs.db", create=False) as store:
        assert store.runs()[0].kind == "ci"
    assert len(list((project.path / "out" / "reports").glob("2*/report.html"))) == 1
    result = run(project, "--goldband-store", "off")
    result.assert_outcomes(passed=3, failed=1)
    assert not store_of(project).exists() and "goldband: run" not in result.stdout.str()


def test_xdist_workers_write_one_run_and_lose_nothing(project: pytest.Pytester, store: str) -> None:
    (project.path / "goldensets" / "support.yaml").write_text(goldenset(24, 3))
    result = run_xdist(project, "-n", "4", *at(store))
    result.assert_outcomes(passed=24)
    with open_store(store, create=False) as db:
        (only,) = db.runs()
        assert only.status == "complete"
        rows = db.conn.execute("SELECT case_id, sample FROM trials WHERE run_id = ?", [only.id]).fetchall()
        assert len(rows) == len(set(rows)) == 72
        assert len(db.verdicts(only.id)) == 24 == len(db.run_items(only.id))
        assert db.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 72
        assert {p.metric for p in db.series(run_id=only.id)} >= {"pass_rate", "error_rate"}
    result.stdout.fnmatch_lines(["goldband: 24 PASS · 72 trials", f"goldband: run {only.id} complete*"])


def _spawn(p: pytest.Pytester, log: Path, *args: str) -> subprocess.Popen[str]:
    """A pytest process of its own, which the test can SIGKILL mid-run (and then resume the same way)."""
    env = {**os.environ, "PYTHONPATH": str(p.path), "CALL_LOG": str(log), "APP_DELAY": "0.1"}
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
                             "--goldband-concurrency", "2", *args], cwd=p.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stored_trials(path: Path | str) -> int:
    if str(path).startswith("postgresql://"):
        try:
            with open_store(path, create=False, migrate_schema=False) as db:
                return int(db.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
        except GoldbandError:  # no schema yet: the run has not opened its store
            return 0
    path = Path(path)
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_a_killed_run_keeps_its_trials_and_resumes_only_what_is_missing(project: pytest.Pytester,
                                                                       store: str) -> None:
    (project.path / "goldensets" / "support.yaml").write_text(goldenset(8, 4))
    path, log = store, project.path / "calls.log"
    proc = _spawn(project, log, *at(store))
    deadline = time.monotonic() + 60
    while _stored_trials(path) < 6 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    with open_store(path, create=False) as db:
        (killed,) = db.runs()
        kept = db.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        assert killed.status == "incomplete" and 6 <= kept < 32
        assert len(db.verdicts(killed.id)) < 8
    calls_before = len(log.read_text().splitlines())
    assert calls_before >= kept
    log.unlink()

    resumed = _spawn(project, log, "--goldband-resume", killed.id[:15], *at(store))
    out, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out
    assert len(log.read_text().splitlines()) == 32 - kept  # only the missing trials ran
    with open_store(path, create=False) as db:
        (done,) = db.runs()
        assert (done.id, done.status, done.sessions) == (killed.id, "complete", 2)
        rows = db.conn.execute("SELECT case_id, sample FROM trials").fetchall()
        assert len(rows) == len(set(rows)) == 32
        assert len(db.verdicts(done.id)) == 8
    assert f"goldband: run {killed.id} complete" in out
    again = run(project, "--goldband-resume", killed.id, *at(store))  # complete now: nothing runs
    assert again.ret == 0 and "nothing to resume" in again.stdout.str()


def test_resume_refuses_a_changed_golden_set_and_unknown_runs(project: pytest.Pytester, store: str) -> None:
    run(project, *at(store))
    with open_store(store, create=False) as db:
        run_id = db.runs()[0].id
        db.conn.execute("UPDATE runs SET status = 'incomplete'")  # as if killed: there is something to resume
    (project.path / "goldensets" / "support.yaml").write_text(goldenset(5, 3, version=2))
    before = fingerprint(store)
    result = run(project, "--goldband-resume", run_id, *at(store))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--goldband-resume {run_id}: golden set 'support' changed since run {run_id} "
                                 "started*drop --goldband-resume*"])
    assert "Traceback" not in result.stderr.str()
    assert fingerprint(store) == before
    result = run(project, "--goldband-resume", "20990101", *at(store))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no run '20990101' in this store*goldband history*"])


@pytest.mark.parametrize("xdist", [False, True])
def test_resume_refuses_a_run_that_is_still_running(project: pytest.Pytester, xdist: bool, store: str) -> None:
    run(project, *at(store))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with open_store(store, create=False) as db:
            run_id = db.runs()[0].id
            db.conn.execute("UPDATE runs SET status = 'running', host = ?, pid = ? WHERE id = ?",
                            [socket.gethostname(), sleeper.pid, run_id])
        before = fingerprint(store)
        result = run_xdist(project, "-n", "2", "--goldband-resume", run_id, *at(store)) if xdist else \
            run(project, "--goldband-resume", run_id, *at(store))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--goldband-resume {run_id}: run {run_id} is still running (pid {sleeper.pid} on "
                                 "*wait for it to finish or stop it*"])
    assert "Traceback" not in result.stderr.str()
    assert fingerprint(store) == before


@pytest.mark.parametrize("problem", ["corrupt", "newer", "unwritable", "locked"])
def test_a_bad_store_is_one_usage_error_and_left_untouched(project: pytest.Pytester, problem: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path, args, holder = store_of(project), [], None
    if problem == "corrupt":
        path.parent.mkdir()
        path.write_bytes(b"garbage" * 1000)
    elif problem == "newer":
        with open_store(path) as store:
            store.conn.execute("PRAGMA user_version = 99")
    elif problem == "unwritable":
        (project.path / "blocker").write_text("a file, not a directory")
        args = ["--goldband-store", "blocker/store.db"]
    else:
        open_store(path).close()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        monkeypatch.setenv("GOLDBAND_STORE_TIMEOUT", "0.3")
    before = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    try:
        result = run(project, *args)
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    expected = {"corrupt": "damaged or not a goldband store", "newer": "schema version 99 is newer",
                "unwritable": "cannot create the store's directory", "locked": "locked by another process"}[problem]
    assert expected in result.stderr.str() and "fix:" in result.stderr.str()
    assert "Traceback" not in result.stderr.str()
    if before is not None:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def check_progress_events(events: Path) -> None:
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert lines[0] == {"event": "plan", "cases": 4, "trials": 12}
    assert sum(e["n"] for e in lines if e["event"] == "trials") == 12
    assert sorted(e["status"] for e in lines if e["event"] == "case") == ["FAIL", "PASS", "PASS", "PASS"]
    assert lines[-1]["event"] == "run" and lines[-1]["status"] == "complete"


def test_the_plugin_import_leaves_the_store_out() -> None:
    code = "import sys, goldband.plugin; print([m for m in ('sqlite_utils', 'goldband.store') if m in sys.modules])"
    # A fresh interpreter: in this process the store is loaded already.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_under_xdist_a_bad_store_stops_the_controller_before_workers(project: pytest.Pytester) -> None:
    path = store_of(project)
    path.parent.mkdir()
    path.write_bytes(b"garbage" * 1000)
    result = run_xdist(project, "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "damaged or not a goldband store" in result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert path.read_bytes() == b"garbage" * 1000


def test_each_distinct_rendering_is_stored_once_and_every_trial_refers_to_it(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, openai_server: FakeOpenAI, store_at: str) -> None:
    for name in ("CI", "GOLDBAND_STORE", "GOLDBAND_REPORT", "GOLDBAND_KIND", "GOLDBAND_RESUME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(agentkit.KEY_ENV, agentkit.KEY)
    agentkit.project(pytester.path, openai_server.url, runs=3, targets=("agent", "agent-warm"))
    agentkit.serve(openai_server)
    store_at = backend_store(pytester, store_at)
    assert run_xdist(pytester, "-n", "2", *at(store_at)).ret in (0, 1)  # two workers write the same renderings
    assert run(pytester, *at(store_at)).ret in (0, 1)  # and a second run sends them again
    with open_store(store_at, create=False) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM rendered_messages").fetchone()[0] == 2  # one per case
        assert store.conn.execute("SELECT COUNT(*) FROM trials WHERE messages_hash IS NULL").fetchone()[0] == 0
        first = store.runs()[-1].id
        sent = store.renderings(first)
    assert sorted(sent) == [("orders", case, target) for case in ("where-is-a17", "where-is-b2")
                            for target in ("agent", "agent-warm")]
    (a17,) = sent[("orders", "where-is-a17", "agent")]
    assert sent[("orders", "where-is-a17", "agent-warm")] == [a17]  # equal messages and tools: one hash
    assert a17.samples == (0, 1, 2) and a17.messages == [
        {"role": "system", "content": "You are the support agent of Acme Shoes. Look orders up with the lookup_order "
                                      "tool."},
        {"role": "user", "content": "Where is my order A-17?"}]
    assert a17.tools is not None and a17.tools[0]["function"]["name"] == "lookup_order"
    assert a17.hash == canonical_hash({"messages": a17.messages, "tools": a17.tools})
    if not store_at.startswith("postgresql://"):
        for path in store_of(pytester).parent.iterdir():  # the store keeps what was sent, never the key
            assert agentkit.KEY.encode() not in path.read_bytes(), path
    else:  # every row of every table
        with open_store(store_at, create=False) as db:
            for (table,) in db.conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
                assert agentkit.KEY not in repr(db.conn.execute(f'SELECT * FROM "{table}"').fetchall()), table


def test_a_store_url_with_a_password_is_refused_without_showing_it(project: pytest.Pytester,
                                                                  postgres_url: str) -> None:
    secret = "s3cret-pw"
    with_password = postgres_url.replace("postgresql://goldband@", f"postgresql://goldband:{secret}@")
    for result in (run(project, *at(with_password)), run_xdist(project, "-n", "2", *at(with_password))):
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
        shown = result.stdout.str() + result.stderr.str()
        assert secret not in shown and "PGPASSWORD" in shown and "Traceback" not in shown
    assert not store_of(project).exists() and not list(project.path.rglob("postgresql*"))


def test_a_run_id_prefix_names_the_baseline_and_each_verdict_keeps_its_delta(project: pytest.Pytester,
                                                                             store: str) -> None:
    run(project, *at(store))
    with open_store(store, create=False) as db:
        (first,) = db.runs()
    (project.path / "goldensets" / "support.yaml").write_text(goldenset(4, 3, bad=(0, 3)))  # c00 now fails
    result = run(project, "--goldband-baseline", first.id[:15], *at(store))
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([f"goldband compare: run {first.id}* -> *"])
    with open_store(store, create=False) as db:
        second = db.runs()[0]
        deltas = {key[1]: v.verdict.baseline for key, v in db.verdicts(second.id).items()}
    assert second.id != first.id and set(deltas) == {"c00", "c01", "c02", "c03"}
    assert all(delta is not None for delta in deltas.values())
    assert deltas["c00"] is not None and deltas["c00"].outcome in ("regressed", "not significant")
