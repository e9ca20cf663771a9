"""Environments beyond runs and series (migration 0013): predictions, traces, alerts, registry events, and the
baseline a run compares with; on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envkit import env_run
from goldband._util.environment import resolve_environment
from goldband.alerts import AlertEngine, AlertsConfig, Observation, RuleConfig, list_alerts
from goldband.clock import ManualClock
from goldband.compare.baseline import load_baseline
from goldband.errors import ConfigError, UsageError
from goldband.registry.registry import Registry
from goldband.store import Store, open_store, schema
from goldband.store import registry as registry_db
from goldband.watch.ingest import ingest_predictions
from goldband.watch.log import PredictionLogger
from goldband.watch.overview import status
from goldband.watch.traceingest import ingest_traces
from goldband.watch.tracelog import TraceLogger
from storefixtures import store_before


@pytest.fixture(autouse=True)
def _no_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOLDBAND_ENVIRONMENT", raising=False)


@pytest.fixture
def store(store_at: str) -> Iterator[Store]:
    with open_store(store_at) as opened:
        yield opened


def column(store: Store, sql: str) -> list[Any]:
    return [row[0] for row in store.conn.execute(sql).fetchall()]


# -- the schema ---------------------------------------------------------------------------------------


def test_an_old_store_gains_the_columns_and_its_rows_read_as_the_default(tmp_path: Path) -> None:
    """SQLite only: a store file of schema 12 (the PostgreSQL twin is compared by test_pg_schema)."""
    path = tmp_path / "old.db"
    db = store_before(path, "0013_environment_everywhere")
    db.conn.execute("INSERT INTO monitor_predictions (model, version, prediction_id, time, features) "
                    "VALUES ('churn', '1', 'a', '2026-11-01T00:00:00.000+00:00', '{}')")
    db.conn.close()
    with open_store(path) as migrated:
        assert migrated.schema_version == len(schema.names())
        for table in ("monitor_predictions", "llm_traces", "alerts", "registry_events"):
            assert "environment" in {c.name for c in migrated.db.table(table).columns}, table
        assert column(migrated, "SELECT environment FROM monitor_predictions") == [None]
        indexes = {tuple(i.columns) for i in migrated.db.table("alerts").indexes}
        assert ("environment", "status", "opened_at") in indexes


# -- writers ------------------------------------------------------------------------------------------


def test_the_prediction_logger_records_its_environment(store_at: str, store: Store,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with PredictionLogger("churn", store=store_at, environment="staging") as log:
        log.log({"tenure": 3}, prediction=1, prediction_id="s1")
    monkeypatch.setenv("GOLDBAND_ENVIRONMENT", "production")  # the default: the variable
    with PredictionLogger("churn", store=store_at) as log:
        log.log({"tenure": 4}, prediction=0, prediction_id="p1")
    monkeypatch.delenv("GOLDBAND_ENVIRONMENT")
    with PredictionLogger("churn", store=store_at) as log:  # neither: the default environment (NULL)
        log.log({"tenure": 5}, prediction=0, prediction_id="d1")
    found = store.conn.execute("SELECT prediction_id, environment FROM monitor_predictions ORDER BY id").fetchall()
    assert [tuple(r) for r in found] == [("s1", "staging"), ("p1", "production"), ("d1", None)]


def test_a_bad_environment_stops_the_logger_at_start(store_at: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match=r"PredictionLogger\(environment=...\): environment 'Prod EU' is not"):
        PredictionLogger("churn", store=store_at, environment="Prod EU")
    monkeypatch.setenv("GOLDBAND_ENVIRONMENT", "prod/eu")
    with pytest.raises(UsageError, match="environment variable GOLDBAND_ENVIRONMENT: environment 'prod/eu'"):
        TraceLogger("support", store=store_at)


def test_the_resolution_order_is_argument_variable_configuration() -> None:
    env = {"GOLDBAND_ENVIRONMENT": "staging"}
    assert resolve_environment("eu-west", configured="production", env=env) == "eu-west"
    assert resolve_environment(None, configured="production", env=env) == "staging"
    assert resolve_environment(None, configured="production", env={}) == "production"
    assert resolve_environment(None, env={"GOLDBAND_ENVIRONMENT": ""}) is None
    assert resolve_environment("default", configured="production", env=env) is None


def test_ingested_predictions_and_traces_record_the_given_environment(store: Store, tmp_path: Path) -> None:
    rows = tmp_path / "preds.csv"
    rows.write_text("prediction_id,tenure,prediction\na,1,0\nb,2,1\n")
    assert ingest_predictions(store, "churn", rows, version="1", environment="eu-west").written == 2
    traces = tmp_path / "traces.jsonl"
    traces.write_text(json.dumps({"trace_id": "t1", "time": "2026-11-01T00:00:00Z", "input": "hi",
                                  "output": "hello"}) + "\n")
    assert ingest_traces(store, "support", traces, environment="staging").written == 1
    assert column(store, "SELECT environment FROM monitor_predictions") == ["eu-west", "eu-west"]
    assert column(store, "SELECT environment FROM llm_traces") == ["staging"]


def test_the_trace_logger_records_its_environment(store_at: str, store: Store) -> None:
    with TraceLogger("support", store=store_at, version="3", environment="production") as log:
        log.log("Can I return shoes?", "Within 30 days.", trace_id="t1")
    with TraceLogger("support", store=store_at, version="3") as log:
        log.log("And boots?", "Also 30 days.", trace_id="t2")
    found = store.conn.execute("SELECT trace_id, environment FROM llm_traces ORDER BY trace_id").fetchall()
    assert [tuple(r) for r in found] == [("t1", "production"), ("t2", None)]


# -- alerts -------------------------------------------------------------------------------------------


def observation(environment: str | None, flagged: bool = True) -> Observation:
    labels = {"version": "1", **({"environment": environment} if environment else {})}
    return Observation("classic-ml", "churn", "input_drift", "2026-11-02T00:00:00.000+00:00", 0.4, flagged,
                       labels, "ks", "drifted")


def test_the_same_rule_in_two_environments_is_two_alerts(store: Store) -> None:
    engine = AlertEngine(store, AlertsConfig(rules=[RuleConfig(name="inputs", metric="input_drift")]), sinks=[],
                         clock=ManualClock())
    engine.process([observation("staging"), observation("production"), observation(None),
                    observation("staging")])  # staging again: the same incident, deduplicated
    alerts = list_alerts(store.conn)
    assert sorted((a["environment"] or "", a["count"]) for a in alerts) == [
        ("", 1), ("production", 1), ("staging", 2)]
    assert len({a["fingerprint"] for a in alerts}) == 3
    assert [a["environment"] for a in list_alerts(store.conn, environment="staging")] == ["staging"]
    assert [a["environment"] for a in list_alerts(store.conn, environment="default")] == [None]
    assert list_alerts(store.conn, environment="eu-west") == []


# -- baselines ----------------------------------------------------------------------------------------


class Source:
    """Where load_baseline finds the store (the session passes its store handle)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.path: Path | None = Path("store")

    def existing(self) -> Store:
        return self.store


def test_latest_is_the_latest_complete_run_of_the_same_environment(store: Store, tmp_path: Path) -> None:
    env_run(store, "20261101-120000-0001", 1, "production")
    env_run(store, "20261102-120000-0002", 2, None)
    env_run(store, "20261103-120000-0003", 3, "staging")
    env_run(store, "20261104-120000-0004", 4, "production", "FAIL")
    picked = {env: load_baseline("latest", root=tmp_path, store=Source(store), environment=env)[1]
              for env in ("production", "staging", None)}
    assert picked == {"production": "run 20261104-120000-0004", "staging": "run 20261103-120000-0003",
                      None: "run 20261102-120000-0002"}
    current = "20261104-120000-0004"  # the run being compared is never its own baseline
    _, label = load_baseline("latest", root=tmp_path, store=Source(store), exclude_run=current,
                             environment="production")
    assert label == "run 20261101-120000-0001"
    with pytest.raises(ConfigError, match="no complete run in environment 'eu-west' in the store"):
        load_baseline("latest", root=tmp_path, store=Source(store), environment="eu-west")
    _, named = load_baseline("20261103-120000-0003", root=tmp_path, store=Source(store), environment="production")
    assert named == "run 20261103-120000-0003"  # a run id names one run, in any environment


# -- the registry -------------------------------------------------------------------------------------


def test_each_environments_alias_moves_on_its_own_and_events_record_where(store: Store, tmp_path: Path) -> None:
    clock = ManualClock()
    staging = Registry(store, root=tmp_path, clock=clock, actor="ci", environment="staging")
    production = Registry(store, root=tmp_path, clock=clock, actor="ops", environment="production")
    for i in range(2):
        artifact = tmp_path / f"v{i}" / "model.pkl"
        artifact.parent.mkdir()
        artifact.write_text(f"weights {i}")
        staging.register("churn", artifact=artifact)
    production.promote("churn", "1", alias="production", reason="first")
    staging.promote("churn", "1", alias="staging", reason="first")
    staging.promote("churn", "2", alias="staging", reason="try the new one")
    assert registry_db.aliases(store.conn, "churn") == {("churn", "production"): "1", ("churn", "staging"): "2"}
    assert registry_db.lookup(store.conn, "churn@staging").version == "2"  # type: ignore[union-attr]
    assert registry_db.lookup(store.conn, "churn@production").version == "1"  # type: ignore[union-attr]
    staging.rollback("churn", alias="staging", reason="worse in staging")
    assert registry_db.aliases(store.conn, "churn") == {("churn", "production"): "1", ("churn", "staging"): "1"}
    moved = [(e.kind, e.alias, e.to_version, e.environment) for e in registry_db.events(store.conn, "churn")]
    assert moved == [("register", None, "1", "staging"), ("register", None, "2", "staging"),
                     ("promote", "production", "1", "production"), ("promote", "staging", "1", "staging"),
                     ("promote", "staging", "2", "staging"), ("rollback", "staging", "1", "staging")]


# -- monitor status ----------------------------------------------------------------------------------


def test_monitor_status_shows_a_row_per_environment_counted_there(store: Store) -> None:
    with store.transaction() as conn:
        for i, env in enumerate(["staging", "staging", "production", None]):
            conn.execute("INSERT INTO monitor_predictions (model, version, prediction_id, time, features, "
                         "prediction, environment) VALUES (?, '1', ?, '2026-11-01T00:00:00.000+00:00', '{}', '1', ?)",
                         ["churn", f"p{i}", env])
        conn.execute("INSERT INTO monitor_predictions (model, version, prediction_id, time, features, prediction) "
                     "VALUES ('fraud', '1', 'f', '2026-11-01T00:00:00.000+00:00', '{}', '0')")
    counts = {env: [(m.model, m.environment, m.predictions) for m in status(store, environment=env).models]
              for env in (None, "staging", "production", "default", "eu-west")}
    assert counts == {None: [("churn", "default", 1), ("churn", "production", 1), ("churn", "staging", 2),
                             ("fraud", "default", 1)],
                      "staging": [("churn", "staging", 2)], "production": [("churn", "production", 1)],
                      "default": [("churn", "default", 1), ("fraud", "default", 1)], "eu-west": []}


def test_the_commands_take_environment(store_at: str, store: Store, tmp_path: Path) -> None:
    """Real processes: ``monitor log --environment``, ``monitor status --environment``, ``alerts list``."""
    rows = tmp_path / "preds.csv"
    rows.write_text("prediction_id,tenure,prediction\na,1,0\nb,2,1\n")
    env = {**os.environ, "GOLDBAND_ENVIRONMENT": "staging"}

    def goldband(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "goldband", *args, "--store", store_at], cwd=tmp_path, env=env,
                              capture_output=True, text=True, check=False, timeout=120)

    logged = goldband("monitor", "log", "churn", str(rows))
    assert logged.returncode == 0, logged.stderr
    again = goldband("monitor", "log", "fraud", str(rows), "--environment", "production")
    assert again.returncode == 0, again.stderr
    assert column(store, "SELECT DISTINCT model || ':' || environment FROM monitor_predictions ORDER BY 1") == [
        "churn:staging", "fraud:production"]
    shown = goldband("monitor", "status", "--json", "--environment", "production")
    assert shown.returncode == 0, shown.stderr
    assert [m["model"] for m in json.loads(shown.stdout)["models"]] == ["fraud"]
    bad = goldband("alerts", "list", "--environment", "Prod")
    assert bad.returncode == 2 and "--environment: environment 'Prod' is not a valid name" in bad.stderr
    AlertEngine(store, AlertsConfig(rules=[RuleConfig(name="inputs", metric="input_drift")]), sinks=[],
                clock=ManualClock()).process([observation("staging"), observation("production")])
    listed = goldband("alerts", "list", "--environment", "staging")
    assert listed.returncode == 0, listed.stderr
    header, *lines = listed.stdout.splitlines()
    assert header.split()[:6] == ["id", "status", "severity", "rule", "model", "environment"]
    assert [line.split()[5] for line in lines if line.startswith("#")] == ["staging"]
    every = goldband("alerts", "list").stdout
    assert "staging" in every and "production" in every


# -- a real run's baseline ---------------------------------------------------------------------------

APP = '''
import os

def answer(inp):
    return "wrong" if os.environ.get("BROKEN") == "1" and inp.get("fragile") else "right"
'''
GOLDEN = ("name: s\nversion: 1\ndefaults:\n  runs: 10\n  band: {min_pass_rate: 0.5}\n  checks: [{equals: right}]\n"
          "cases:\n  - id: a\n    input: {q: a, fragile: true}\n  - id: b\n    input: {q: b}\n")


def test_a_run_compares_with_the_latest_run_of_its_own_environment(pytester: pytest.Pytester, store_at: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".yaml", goldband="targets:\n  app:\n    callable: app:answer\n")
    pytester.makepyfile(app=APP)
    pytester.mkdir("goldensets")
    (pytester.path / "goldensets" / "s.yaml").write_text(GOLDEN)
    pytester.syspathinsert()

    def run(environment: str, *args: str) -> pytest.RunResult:
        return pytester.runpytest("-p", "no:cacheprovider", f"--goldband-store={store_at}",
                                  f"--goldband-environment={environment}", *args)

    assert run("production").ret == pytest.ExitCode.OK
    monkeypatch.setenv("BROKEN", "1")
    assert run("staging").ret == pytest.ExitCode.TESTS_FAILED  # staging's latest run: case a fails
    monkeypatch.delenv("BROKEN")
    with open_store(store_at) as store:
        (production,) = [r.id for r in store.runs(environment="production")]
        (staging,) = [r.id for r in store.runs(environment="staging")]
    compared = run("production", "--goldband-baseline", "latest")
    assert compared.ret == pytest.ExitCode.OK
    compared.stdout.fnmatch_lines([f"goldband compare: run {production} -> run *", "2 cases: *not significant*"])
    assert staging not in compared.stdout.str()
    staged = run("staging", "--goldband-baseline", "latest")  # staging compares with staging's broken run
    staged.stdout.fnmatch_lines([f"goldband compare: run {staging} -> run *"])
