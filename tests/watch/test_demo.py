"""The bundled example, as a newcomer runs it (``goldband monitor demo``), and the status page's safety."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from goldband.alerts import AlertEngine, AlertsConfig, Observation
from goldband.cli import main
from goldband.store import Store, open_store
from goldband.watch import register_reference, status
from goldband.watch.demo import run_demo
from goldband.watch.page import render_status_html
from monitorkit import T0, churn_reference, log_rows, phase


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The command as a newcomer runs it (its store: store.db in the folder; the PostgreSQL run is compared below)."""
    folder = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(main, ["monitor", "demo", "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    with open_store(folder / "store.db") as store:
        alerts, current = stored_alerts(store), status(store)
    return {"folder": folder, "output": result.output, "alerts": alerts, "status": current}


def stored_alerts(store: Store) -> dict[str, dict[str, Any]]:
    cursor = store.conn.execute("SELECT * FROM alerts ORDER BY id")
    names = [c[0] for c in cursor.description]
    return {row["rule"]: row for row in (dict(zip(names, r, strict=True)) for r in cursor.fetchall())}


def test_the_demo_on_postgresql_tells_the_same_story(demo: dict[str, Any], tmp_path: Path, postgres_url: str) -> None:
    """Every monitor (input, output, concept and eval drift, estimates, alerts) on a PostgreSQL store gives what
    the SQLite file gave: the same days, alerts and status."""
    said: list[str] = []
    run_demo(tmp_path / "out", store=postgres_url, echo=said.append)
    with open_store(postgres_url) as store:
        alerts, current = stored_alerts(store), status(store)
    same = ("rule", "status", "severity", "metric", "opened_at", "resolved_at", "summary")
    assert {r: [a[k] for k in same] for r, a in alerts.items()} == {
        r: [a[k] for k in same] for r, a in demo["alerts"].items()}
    assert current.render().splitlines()[1:] == demo["status"].render().splitlines()[1:]  # [0] names the store
    timeline = [line for line in "\n".join(said).splitlines() if re.match(r"^\s*\d+\s{2}", line)]
    assert timeline == [line for line in demo["output"].splitlines() if re.match(r"^\s*\d+\s{2}", line)]


def day(output: str, n: int) -> str:
    return next(line for line in output.splitlines() if re.match(rf"^\s*{n}\s{{2}}", line))


def test_the_demo_tells_input_drift_concept_drift_and_eval_drift_apart(demo: dict[str, Any]) -> None:
    out, alerts = demo["output"], demo["alerts"]
    assert all(day(out, n).rstrip().endswith("-") or "#" not in day(out, n) for n in range(1, 5))  # quiet days
    assert "#1 input-drift" in day(out, 5) and "tenure_months" in day(out, 5)
    assert set(alerts) == {"input-drift", "concept-drift", "eval-drift"}  # output drift followed the inputs
    assert alerts["input-drift"]["status"] == "resolved"  # the inputs went back to normal on day 9
    concept = alerts["concept-drift"]
    # the error settled at its new level for three label windows: the incident closed, the diagnosis stays
    assert concept["status"] == "resolved" and json.loads(concept["details"])["kind"] == "concept"
    assert "while features did not move: concept drift" in concept["summary"]
    assert concept["first_time"] >= "2026-03-10"  # detected in the concept phase, from late labels
    assert alerts["eval-drift"]["status"] == "open" and "pass rate fell" in alerts["eval-drift"]["summary"]


def test_the_demo_status_and_files(demo: dict[str, Any]) -> None:
    (model,) = demo["status"].models
    assert model.diagnosis == "concept drift" and model.windows == 16 and model.predictions == 8000
    assert model.concept["late_labels"] == 0 and model.concept["orphan_labels"] == 0
    assert model.concept["settled"]["windows"] == 3 and model.concept["above_reference"]
    assert "then settled at" in demo["output"] and "still above the reference" in demo["output"]
    # blind windows get an estimate; labelled ones show the realised value beside it (CBPE assumes no concept
    # drift, so after day 9 the estimate stays near the reference's accuracy while the realised one falls)
    estimated = model.performance[-1]
    assert estimated["window"] == 16 and estimated["metrics"]["accuracy"] > 0.7 and not estimated.get("realised")
    realised = [w["realised"]["value"] for w in model.performance if w.get("realised")]
    assert realised and max(realised) < 0.7 and "estimated  window 16: accuracy" in demo["output"]
    assert "CONCEPT DRIFT" in demo["output"] and "DEGRADED" in demo["output"]
    folder = demo["folder"]
    assert len((folder / "alerts.jsonl").read_text().splitlines()) == 3
    page = (folder / "status.html").read_text()
    assert "Content-Security-Policy" in page and "<script" not in page and "https://" not in page
    assert 'data-diagnosis="concept drift"' in page and "<svg" in page
    assert "window 16 (no labels needed): accuracy" in page and "realised: window" in page


def test_the_demo_refuses_a_directory_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    result = CliRunner().invoke(main, ["monitor", "demo", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "the directory is not empty" in result.output
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_the_status_page_escapes_everything_it_shows(tmp_path: Path, store_at: str) -> None:
    evil = "<script>alert(1)</script>"
    with open_store(store_at) as store:
        register_reference(store, evil, churn_reference(tmp_path), version="1")
        rows = phase(50, "as in training", 3)
        for row in rows:
            row["features"]["contract"] = evil
        log_rows(store, rows, model=evil, start=T0)
        AlertEngine(store, AlertsConfig(sinks=[])).process([Observation(
            "classic-ml", evil, "input_drift", "2026-03-02T00:00:00Z", 1.0, True, summary=f"drift {evil}")])
        page = render_status_html(status(store))
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
