"""Each environment a model version serves in is watched apart (``goldband.watch.scope``): its own windows,
error stream, series and alerts, against the version's one reference; on both backends."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from goldband.alerts import list_alerts
from goldband.clock import ManualClock
from goldband.store import Store, open_store
from goldband.store.models import labels_key
from goldband.watch import ModelMonitorConfig, MonitorsConfig, check, status
from goldband.watch.reference import register_reference
from goldband.watch.runner import _segment_pattern
from goldband.watch.scope import Scope
from monitorkit import T0, churn_reference, log_rows, phase
from storefixtures import store_before

STEP = 60.0
NOW = ManualClock(T0 + timedelta(days=30))


def monitors() -> MonitorsConfig:
    return MonitorsConfig(models={"churn": ModelMonitorConfig(window=500, label_delay="7d")})


def run_check(store: Store, **kw: Any) -> Any:
    return check(store, monitors(), include_eval=False, clock=NOW, stream=io.StringIO(), **kw)


def three_environments(store: Store, folder: Path) -> None:
    """1,000 predictions each: the default and staging as in training, production's second half shifted."""
    register_reference(store, "churn", churn_reference(folder), version="1")
    log_rows(store, phase(1000, "as in training", 21), prefix="d")
    log_rows(store, phase(1000, "as in training", 22), prefix="s", environment="staging")
    log_rows(store, phase(500, "as in training", 23) + phase(500, "covariate shift", 24), prefix="p",
             environment="production")


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.conn.execute(sql).fetchall()]


def windows(store: Store) -> list[tuple[Any, ...]]:
    return rows(store, 'SELECT environment, "window", rows, input_drifted FROM monitor_windows '
                       'ORDER BY environment, "window"')


def series(store: Store) -> list[tuple[Any, ...]]:
    return rows(store, "SELECT metric, labels_key, time, value FROM series_points WHERE source = 'classic-ml' "
                       "ORDER BY metric, labels_key, time, id")


def test_drift_served_in_production_alerts_production_only(tmp_path: Path, store_at: str) -> None:
    with open_store(store_at) as store:
        three_environments(store, tmp_path)
        report = run_check(store)
        assert [(m.title, len(m.windows)) for m in report.models] == [
            ("churn v1", 2), ("churn v1 in production", 2), ("churn v1 in staging", 2)]
        assert windows(store) == [("", 1, 500, 0), ("", 2, 500, 0), ("production", 1, 500, 0),
                                  ("production", 2, 500, 1), ("staging", 1, 500, 0), ("staging", 2, 500, 0)]
        opened = list_alerts(store.conn, status=("open",), limit=None)
        assert opened and {a["environment"] for a in opened} == {"production"}
        assert {a["labels"].get("environment") for a in opened} == {"production"}
        assert any(a["metric"] == "input_drift" for a in opened)
        assert list_alerts(store.conn, environment="staging") == []
        assert list_alerts(store.conn, environment="default") == []
        points = store.conn.execute("SELECT environment, labels FROM series_points WHERE source = 'classic-ml' AND "
                                    "metric = 'input_drift' ORDER BY COALESCE(environment, ''), time").fetchall()
        assert [(env, json.loads(labels)) for env, labels in points] == [(None, {"version": "1"})] * 2 + [
            ("production", {"environment": "production", "version": "1"})] * 2 + [
            ("staging", {"environment": "staging", "version": "1"})] * 2

        shown = status(store)
        assert [(m.environment, m.predictions, m.windows, m.diagnosis, len(m.alerts)) for m in shown.models] == [
            ("default", 1000, 2, "stable", 0), ("production", 1000, 2, "input drift, error unknown", len(opened)),
            ("staging", 1000, 2, "stable", 0)]
        text = shown.render()
        assert "churn v1 in production · INPUT DRIFT" in text and "environment" in text.splitlines()[2]
        only = status(store, environment="staging")
        assert [(m.environment, m.diagnosis) for m in only.models] == [("staging", "stable")] and not only.alerts


def test_one_environment_is_checked_alone_and_a_rebuild_replays_only_it(tmp_path: Path, store_at: str) -> None:
    with open_store(store_at) as store:
        three_environments(store, tmp_path)
        report = run_check(store, environment="staging")
        assert [m.title for m in report.models] == ["churn v1 in staging"]
        assert {w[0] for w in windows(store)} == {"staging"}
        run_check(store)
        before = windows(store), series(store)
        again = run_check(store, environment="production", rebuild=True)
        assert [(m.title, len(m.windows)) for m in again.models] == [("churn v1 in production", 2)]
        assert (windows(store), series(store)) == before  # replayed, not doubled; the others untouched


def test_concept_drift_is_detected_in_its_environment(tmp_path: Path, store_at: str) -> None:
    """The labels say production's model went wrong on unchanged inputs; staging's labels are as in training."""
    with open_store(store_at) as store:
        register_reference(store, "churn", churn_reference(tmp_path), version="1")
        log_rows(store, phase(2000, "as in training", 31), prefix="s", environment="staging", labels=True)
        log_rows(store, phase(2000, "as in training", 11) + phase(2000, "concept shift", 12), prefix="p",
                 environment="production", labels=True)
        report = run_check(store)
        found = {m.environment: [d["kind"] for d in m.concept.detections] for m in report.models}
        assert "concept" in found["production"] and found["staging"] == []
        concept = [a for a in list_alerts(store.conn, limit=None) if a["metric"] == "concept_drift"]
        assert concept and {a["environment"] for a in concept} == {"production"}
        by_env = {m.environment: m for m in status(store).models}
        assert by_env["production"].diagnosis == "concept drift" and by_env["staging"].diagnosis == "stable"
        assert by_env["staging"].concept["fed"] == 2000 and by_env["production"].concept["fed"] == 4000


def test_windows_checked_before_migration_14_go_on_as_the_default_environments(tmp_path: Path) -> None:
    """A store of schema 13 whose check had recorded window 1 (cursor and window row, as that check wrote
    them): after the upgrade the next check records window 2 only, in the same sequence."""
    path = tmp_path / "old.db"
    db = store_before(path, "0014_monitor_environments")
    db.conn.close()
    with open_store(path) as store:  # migrated here; the rows below are what schema 13's check had written
        register_reference(store, "churn", churn_reference(tmp_path), version="1")
        log_rows(store, phase(1000, "as in training", 21))
        pid, time = store.conn.execute("SELECT id, time FROM monitor_predictions ORDER BY time, id "
                                       "LIMIT 1 OFFSET 499").fetchone()
        with store.transaction() as conn:
            conn.execute("INSERT INTO monitor_state (scope, key, state, updated_at) VALUES ('windows', 'churn|1', "
                         "?, '2026-03-03T00:00:00.000+00:00')",
                         [json.dumps({"cursor": [time, pid], "window": 1, "max_id": 1000})])
            conn.execute('INSERT INTO monitor_windows (model, version, "window", rows, input_drifted, '
                         "output_drifted, start_time, end_time) VALUES ('churn', '1', 1, 500, 0, 0, ?, ?)",
                         [T0.isoformat(), time])
        report = run_check(store)
        assert [(m.title, [w.window for w in m.windows]) for m in report.models] == [("churn v1", [2])]
        assert windows(store) == [("", 1, 500, 0), ("", 2, 500, 0)]
        assert status(store).models[0].windows == 2


def test_the_check_command_takes_environment(tmp_path: Path, store_at: str) -> None:
    """A real process: ``goldband monitor check --environment production`` checks production's windows only and
    names the environment in what it prints; a bad name is a usage error naming the flag."""
    with open_store(store_at) as store:
        three_environments(store, tmp_path)
    (tmp_path / "goldband.yaml").write_text("monitors:\n  models:\n    churn:\n      window: 500\n")

    def goldband(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "goldband", "monitor", *args, "--store", store_at],
                              cwd=tmp_path, env=os.environ, capture_output=True, text=True, check=False,
                              timeout=120)

    done = goldband("check", "--environment", "production", "--no-eval")
    assert done.returncode == 0, done.stderr
    assert "churn v1 in production: 2 new window(s), 1 with input drift" in done.stdout
    assert "staging" not in done.stdout and "churn v1:" not in done.stdout
    with open_store(store_at) as store:
        assert {w[0] for w in windows(store)} == {"production"}
    shown = goldband("status", "--json", "--environment", "production")
    assert shown.returncode == 0, shown.stderr
    assert [(m["environment"], m["windows"]) for m in json.loads(shown.stdout)["models"]] == [("production", 2)]
    bad = goldband("check", "--environment", "Prod")
    assert bad.returncode == 2 and "--environment: environment 'Prod' is not a valid name" in bad.stderr


@pytest.mark.parametrize("environment", [None, "eu_west.1"])
def test_a_rebuild_forgets_its_own_segments_series_only(environment: str | None) -> None:
    """The LIKE pattern of a scope's segment series: exact on names holding LIKE's wildcards."""
    scope = Scope("churn", "1", environment)
    pattern = _segment_pattern(scope)
    conn = sqlite3.connect(":memory:")

    def like(labels: dict[str, str]) -> bool:
        return bool(conn.execute("SELECT ? LIKE ? ESCAPE '\\'", [labels_key(labels), pattern]).fetchone()[0])
    assert like({**scope.labels, "segment": "plan=pro"})
    assert not like(scope.labels)
    assert not like({**Scope("churn", "1", "eu-west.1").labels, "segment": "plan=pro"})
    assert not like({**Scope("churn", "10", environment).labels, "segment": "plan=pro"})
