"""``goldband monitor`` and ``goldband alerts`` through click's runner and as a real subprocess; the migration."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.store import open_store, schema
from monitorkit import churn_reference, phase, write_csv
from storefixtures import store_before

CONFIG = """\
store: .goldband/store.db
monitors:
  models:
    churn:
      reference: churn_reference.csv
      window: 200
      label_delay: 1d
alerts:
  cooldown: 1h
  sinks:
    - {type: log}
    - {type: jsonl, path: .goldband/alerts.jsonl}
"""


@pytest.fixture
def project(tmp_path: Path, store_at: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose goldband.yaml keeps its store at ``store_at`` (an SQLite file or a PostgreSQL URL)."""
    (tmp_path / "goldband.yaml").write_text(CONFIG.replace(".goldband/store.db", store_at))
    churn_reference(tmp_path, n=2000)
    data = phase(400, "as in training", 1) + phase(400, "covariate shift", 2)
    names = list(data[0]["features"])
    write_csv(tmp_path / "batch.csv", ["prediction_id", "time", *names, "prediction", "proba_0", "proba_1"],
              [[f"p{i}", f"2026-03-02T{i // 60 % 24:02d}:{i % 60:02d}:00Z", *r["features"].values(), r["prediction"],
                *r["proba"].values()] for i, r in enumerate(data)] + [["bad", "not a time", *([1] * 5), 0, 0.5, 0.5]])
    write_csv(tmp_path / "labels.csv", ["prediction_id", "label"],
              [[f"p{i}", r["label"]] for i, r in enumerate(data)][::-1])  # in reverse order
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout, result.stderr


def test_the_monitor_commands_from_batch_to_alert(project: Path) -> None:
    code, out, _ = invoke("monitor", "reference", "churn", "churn_reference.csv")
    assert code == 0 and "churn v1: reference churn_reference.csv (2,000 rows" in out
    assert "tenure_months (numeric)" in out and "with predictions, confidences, labels" in out
    code, out, err = invoke("monitor", "log", "churn", "batch.csv")
    assert code == 0 and "batch.csv: stored 800 of 801 predictions, refused 1" in out
    assert "refused batch.csv:802: prediction 'bad': time 'not a time'" in err
    assert invoke("monitor", "log", "churn", "batch.csv", "--strict")[0] == 1  # all 801 refused now: duplicates
    code, out, _ = invoke("monitor", "log", "churn", "labels.csv", "--labels")
    assert code == 0 and "stored 800 of 800 labels" in out
    code, out, err = invoke("monitor", "check", "--html", "status.html", "--fail-on-alert", "warning")
    assert code == 6, out  # an input-drift alert (warning) opened: "alerts fired", not "cases failed"
    assert "churn v1: 4 new window(s), 2 with input drift (monthly_charges, payment_method, tenure_months)" in out
    assert "  rule input-drift (warning, flagged by the monitor) on input_drift: FIRING: alert #1 opened: " in out
    assert "  rule concept-drift (critical, flagged by the monitor) on concept_drift: not firing" in out
    assert "alert #1 warning [input-drift]: sent to log, jsonl" in out
    assert out.splitlines()[-1] == ("goldband monitor check: exit 6: 1 new alert(s) at or above warning fired "
                                    "(#1 warning [input-drift])")
    assert "ALERT goldband WARNING alert #1 [input-drift]" in err
    assert (project / "status.html").read_text().count("<script") == 0
    assert (project / ".goldband" / "alerts.jsonl").read_text().count("\n") == 1
    code, out, _ = invoke("monitor", "status")
    assert code == 0 and "INPUT DRIFT" in out and "tenure_months" in out and "#1  open" in out
    data = json.loads(invoke("monitor", "status", "--json")[1])
    assert data["models"][0]["diagnosis"] == "input drift" and data["models"][0]["features"][0]["name"]


def test_the_alerts_commands(project: Path) -> None:
    for args in (["monitor", "log", "churn", "batch.csv"], ["monitor", "check"]):
        invoke(*args)
    code, out, _ = invoke("alerts", "list")
    assert code == 0 and "#1" in out and "input-drift" in out and "log ok, jsonl ok" in out
    code, out, _ = invoke("alerts", "ack", "1", "--note", "new campaign", "--by", "ana")
    assert code == 0 and out.strip() == "acknowledged #1"
    (row,) = [json.loads(line) for line in invoke("alerts", "list", "--json")[1].splitlines()]
    assert (row["status"], row["acked_by"], row["note"]) == ("acked", "ana", "new campaign")
    code, _, err = invoke("alerts", "ack", "42")
    assert code == 2 and "no alert #42" in err and "goldband alerts list --all" in err


def test_bad_input_is_one_clear_line(project: Path, tmp_path: Path) -> None:
    code, _, err = invoke("monitor", "log", "churn", "missing.csv")
    assert code == 2 and err.startswith("Error: missing.csv: no such file")
    code, _, err = invoke("monitor", "status", "--store", str(tmp_path / "nowhere.db"))
    assert code == 2 and "no store here yet" in err
    config = project / "goldband.yaml"
    config.write_text(config.read_text().replace("window: 200", "window: 2"))
    code, _, err = invoke("monitor", "check")
    assert code == 2 and "goldband.yaml:6: monitors.models.churn.window" in err


def test_status_runs_as_a_real_process(project: Path) -> None:
    invoke("monitor", "log", "churn", "batch.csv")
    invoke("monitor", "check")
    out = subprocess.run([sys.executable, "-m", "goldband", "monitor", "status", "--json"], cwd=project,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["models"][0]["model"] == "churn"


def test_the_monitoring_migration_upgrades_an_older_store(tmp_path: Path) -> None:
    """SQLite only: an older store is an SQLite file from before PostgreSQL was a backend."""
    path = tmp_path / "old.db"
    db = store_before(path, "0003_monitoring")
    db.conn.execute("INSERT INTO runs (id, kind, status, started_at) VALUES ('r1', 'nightly', 'complete', 'now')")
    db.close()
    with open_store(path) as store:
        assert "0003_monitoring" in [m.name for m in schema.MIGRATIONS.applied(store.db)]
        assert store.run("r1") is not None
        assert {"monitor_predictions", "monitor_labels", "alerts", "alert_state"} <= set(store.db.table_names())
        assert store.conn.execute("SELECT COUNT(*) FROM monitor_predictions").fetchone()[0] == 0


EVAL_CONFIG = """\
store: .goldband/store.db
alerts:
  rules:
    - {name: floor, source: llm-eval, metric: pass_rate, below: 0.8, severity: critical}
    - {name: eval-drift, source: llm-eval, severity: critical}
"""


def test_each_eval_series_names_its_detector_state_and_each_rule_state(tmp_path: Path, store_at: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass rate sliding for weeks (the detector and both rules agree) beside a steady one under the floor
    (the rule fires while the detector rightly sees no change: two named statements, not a contradiction)."""
    import numpy as np

    from goldband.store import RunRow, SeriesPoint
    from goldband.store.writer import finish_run, insert_run, insert_series

    (tmp_path / "goldband.yaml").write_text(EVAL_CONFIG.replace(".goldband/store.db", store_at))
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(8)
    with open_store(store_at, create=True) as store:
        for i in range(50):
            started = f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}T03:00:00.000+00:00"
            run = RunRow(f"run-{i:03d}", "nightly", "running", started, host="elsewhere", pid=1)
            sliding = rng.binomial(240, 0.88 - max(0, i - 30) * 0.008) / 240
            steady = rng.binomial(240, 0.75) / 240
            with store.transaction() as conn:
                insert_run(conn, run)
                insert_series(conn, [SeriesPoint("llm-eval", target, "pass_rate", value, started,
                                                 {"goldenset": "support", "target": target, "kind": "nightly"},
                                                 run.id) for target, value in (("slide", sliding),
                                                                               ("steady", steady))])
                finish_run(conn, run.id, status="complete", exit_status=0)
    code, out, _ = invoke("monitor", "check", "--fail-on-alert", "critical")
    lines = out.splitlines()
    assert code == 6, out
    slide = lines[lines.index(next(x for x in lines if x.startswith("slide pass_rate"))):][:4]
    assert slide[1] == "  drift detector (page_hinkley): DRIFT DETECTED: degraded", slide
    assert slide[2].startswith("    slide on support: pass rate fell from ")
    steady = lines[lines.index(next(x for x in lines if x.startswith("steady pass_rate"))):][:4]
    assert steady[1] == "  drift detector (page_hinkley): no drift detected over 50 runs"
    assert re.fullmatch(r"  rule floor \(critical, pass rate below 0.8\): FIRING: alert #\d opened: pass rate 0.771 is "
                        r"below 0.8", steady[2]), steady
    assert steady[3] == "  rule eval-drift (critical, flagged by the monitor): not firing: pass rate not flagged"
    rules = [x for x in lines if x.startswith("  rule eval-drift") and "FIRING" in x]
    assert len(rules) == 1 and "slide on support: pass rate" in rules[0]
    assert lines[-1].startswith("goldband monitor check: exit 6: ") and "[eval-drift]" in lines[-1]
