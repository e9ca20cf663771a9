"""Eval-score drift over the LLM eval series in a real store: complete nightly runs only, exact resume, one alert."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np

from goldband.clock import ManualClock
from goldband.store import RunRow, SeriesPoint, Store, open_store
from goldband.store.writer import finish_run, insert_run, insert_series
from goldband.watch import MonitorsConfig, check, status
from monitorkit import T0, other_store

LABELS = {"goldenset": "support", "target": "support-v1", "kind": "nightly"}


def night(store: Store, i: int, value: float, *, kind: str = "nightly", status: str = "complete") -> str:
    started = (T0 + timedelta(days=i)).isoformat(timespec="milliseconds")
    run = RunRow(f"run-{kind}-{i:03d}", kind, "running", started, host="elsewhere", pid=1)
    with store.transaction() as conn:
        insert_run(conn, run)
        labels = {**LABELS, "kind": kind}
        insert_series(conn, [SeriesPoint("llm-eval", "support-v1", "pass_rate", value, started, labels, run.id)])
        if status == "complete":
            finish_run(conn, run.id, status="complete", exit_status=0)
    return run.id


def rates(n: int = 60, slide_from: int = 30) -> list[float]:
    rng = np.random.default_rng(8)
    p = np.array([0.88 - max(0, i - slide_from) * 0.008 for i in range(n)])
    return (rng.binomial(240, p) / 240).tolist()


def run_check(store: Store) -> object:
    return check(store, MonitorsConfig(), clock=ManualClock(T0 + timedelta(days=100)), stream=io.StringIO())


def test_a_slow_slide_is_caught_once_and_resumes_exactly(store_at: str) -> None:
    values = rates()
    with open_store(store_at) as store:
        delivered = []
        for i, v in enumerate(values):
            night(store, i, v)
            delivered += run_check(store).delivered  # type: ignore[attr-defined]
        nightly = [(e.time, e.detector, e.details["direction"]) for e in store.drift_events(source="llm-eval")]
        current = status(store).evals[0]
    with open_store(other_store(store_at, "b")) as store:
        for i, v in enumerate(values):
            night(store, i, v)
        run_check(store)
        once = [(e.time, e.detector, e.details["direction"]) for e in store.drift_events(source="llm-eval")]
    assert nightly == once and nightly[0][2] == "down"
    detected_night = int((np.datetime64(nightly[0][0][:19]) - np.datetime64(T0.isoformat()[:19])).astype(int)
                         // 86400)
    assert 30 < detected_night <= 50
    assert [d.event.rule for d in delivered] == ["eval-drift"]  # one alert for the whole slide
    assert current.active and current.target == "support-v1" and current.metric == "pass_rate"


def test_only_complete_nightly_runs_are_fed(store_at: str) -> None:
    with open_store(store_at) as store:
        for i in range(12):
            night(store, i, 0.9)
        night(store, 12, 0.1, status="running")  # a killed run: its point is never fed
        night(store, 13, 0.1, kind="ci")  # a CI run on some branch: not a nightly
        night(store, 14, 0.9)
        report = run_check(store)
        (series,) = report.eval.series  # type: ignore[attr-defined]
        assert series.fed == 13 and series.last_value == 0.9 and not series.active
        assert [e.model for e in store.drift_events(source="llm-eval")] == []


def test_the_eval_watch_can_be_switched_off_or_widened(store_at: str) -> None:
    with open_store(store_at) as store:
        night(store, 0, 0.9, kind="ci")
        off = check(store, MonitorsConfig.model_validate({"eval": {"enabled": False}}), stream=io.StringIO())
        assert off.eval is None
        wide = check(store, MonitorsConfig.model_validate({"eval": {"kinds": ["ci", "nightly"],
                                                                    "detectors": ["page_hinkley", "adwin"]}}),
                     stream=io.StringIO())
        assert wide.eval is not None and wide.eval.series[0].fed == 1
