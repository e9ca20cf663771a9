"""The diagnosis with late labels (error known, unknown, rising) and concept-drift incidents that settle."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from goldband.clock import ManualClock
from goldband.store import Store, open_store
from goldband.watch import ModelMonitorConfig, MonitorsConfig, check, status
from monitorkit import T0, churn_store, log_labels, phase

STEP = 60.0


def monitors(**changes: Any) -> MonitorsConfig:
    return MonitorsConfig(models={"churn": ModelMonitorConfig(window=500, label_delay="7d", **changes)})


def run(store: Store, days: float, cfg: MonitorsConfig | None = None) -> Any:
    return check(store, cfg or monitors(), include_eval=False, clock=ManualClock(T0 + timedelta(days=days)),
                 stream=io.StringIO())


def logged(folder: Path, at: str, data: list[dict[str, Any]]) -> tuple[str | Path, list[str]]:
    return churn_store(folder, data, step_s=STEP, at=at)


def labels(ids: list[str], data: list[dict[str, Any]], pick: range, *, wrong: bool = False) -> list[tuple[str, Any]]:
    return [(ids[i], (1 - data[i]["prediction"]) if wrong else data[i]["label"]) for i in pick]


MOVED = phase(500, "as in training", 21) + phase(1000, "covariate shift", 22)  # windows 2 and 3 have input drift


def test_input_drift_with_enough_late_labels_is_plain_input_drift(tmp_path: Path, store_at: str) -> None:
    """One missing label holds the detectors' watermark back, yet 400 labels of the window make its error known."""
    path, ids = logged(tmp_path, store_at, MOVED)
    with open_store(path) as store:
        log_labels(store, labels(ids, MOVED, range(1, 500)))  # #0 missing: the watermark cannot pass it
        run(store, 1)
        assert status(store, monitors()).models[0].diagnosis == "input drift, error unknown"
        log_labels(store, labels(ids, MOVED, range(1100, 1150)))  # 50 of the latest window: fewer than min_labels
        assert status(store, monitors()).models[0].diagnosis == "input drift, error unknown"
        log_labels(store, labels(ids, MOVED, range(1150, 1500)))  # 400: known
        model = status(store, monitors()).models[0]
        assert model.concept["cursor_time"] is None  # the detectors have not been fed a single label
        assert model.diagnosis == "input drift" and "the model's error has not risen" in model.advice
        window = model.window_error
        assert window is not None and window["known"] and window["labelled"] == 400
        assert "error known" not in model.advice and "(known, not above the reference)" in status(
            store, monitors()).render()
        assert status(store, monitors(min_labels=500)).models[0].diagnosis == "input drift, error unknown"


def test_input_drift_whose_labels_show_a_higher_error_is_error_rising(tmp_path: Path, store_at: str) -> None:
    path, ids = logged(tmp_path, store_at, MOVED)
    with open_store(path) as store:
        run(store, 1)
        log_labels(store, labels(ids, MOVED, range(1000, 1300), wrong=True))  # the model is wrong on all of them
        model = status(store, monitors()).models[0]
        assert model.diagnosis == "input drift, error rising" and "prepare a retrain" in model.advice


SHIFT = phase(1500, "as in training", 31) + phase(3000, "concept shift", 32)


def test_a_concept_drift_incident_closes_once_the_error_is_stable_and_the_diagnosis_stays(
        tmp_path: Path, store_at: str) -> None:
    path, ids = logged(tmp_path, store_at, SHIFT)
    with open_store(path) as store:
        log_labels(store, labels(ids, SHIFT, range(len(SHIFT))))
        report = run(store, 30)
        found = report.models[0].concept.detections
        assert [d["kind"] for d in found if d["bad"]][:1] == ["concept"]
        settled = [d for d in found if d["kind"] == "settled"]
        assert len(settled) == 1 and "stable at" in settled[0]["summary"] and settled[0]["windows"] == 3
        alert = store.conn.execute("SELECT status FROM alerts WHERE rule = 'concept-drift'").fetchone()
        assert alert == ("resolved",)
        model = status(store, monitors()).models[0]
        assert not model.concept["active"] and model.concept["above_reference"]
        assert model.diagnosis == "concept drift"  # closed incident, but the model is still worse than its reference
    with open_store(path) as store:  # replayed with a longer run of stability needed: still open at the end
        report = check(store, monitors(stable_windows=50), include_eval=False, rebuild=True,
                       clock=ManualClock(T0 + timedelta(days=30)), stream=io.StringIO())
        assert not [d for d in report.models[0].concept.detections if d["kind"] == "settled"]
        assert status(store, monitors(stable_windows=50)).models[0].concept["active"]


def test_a_rise_that_settles_at_the_reference_error_leaves_a_healthy_diagnosis(tmp_path: Path, store_at: str) -> None:
    """An unusually lucky start (every prediction right) then the model's normal error: the detectors see a rise,
    it settles at the reference's own error, and once settled nothing says drift."""
    same = phase(4000, "as in training", 41)
    path, ids = logged(tmp_path, store_at, same)
    with open_store(path) as store:
        log_labels(store, [(ids[i], same[i]["prediction"]) for i in range(1000)])  # right on all of them
        log_labels(store, labels(ids, same, range(1000, len(same))))
        found = run(store, 30).models[0].concept.detections
        assert [d["kind"] for d in found if d["bad"]][:1] == ["concept"] and found[-1]["kind"] == "settled"
        model = status(store, monitors()).models[0]
        assert not model.concept["active"] and not model.concept["above_reference"]
        assert model.diagnosis == "stable"
