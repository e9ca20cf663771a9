"""Late labels joined to predictions, the label watermark, concept vs input drift, and exact resume from the store."""

from __future__ import annotations

import io
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from goldband.clock import ManualClock, iso
from goldband.store import Store, open_store
from goldband.watch import ModelMonitorConfig, MonitorsConfig, check, status
from monitorkit import T0, churn_store, log_labels, log_rows, other_store, phase

STEP = 60.0  # seconds between predictions


def monitors(**changes: Any) -> MonitorsConfig:
    return MonitorsConfig(models={"churn": ModelMonitorConfig(window=500, label_delay="7d", **changes)})


def setup(folder: Path, at: str, data: list[dict[str, Any]]) -> tuple[str | Path, list[str]]:
    return churn_store(folder, data, step_s=STEP, at=at)


def run_check(store: Store, clock: ManualClock, cfg: MonitorsConfig | None = None, **kw: Any) -> Any:
    return check(store, cfg or monitors(), include_eval=False, clock=clock, stream=io.StringIO(), **kw)


def events(store: Store) -> list[tuple[Any, ...]]:
    return [(e.detector, e.metric, e.time, e.details.get("kind"), e.details.get("direction"))
            for e in store.drift_events(source="classic-ml")]


DATA = phase(2000, "as in training", 11) + phase(2000, "concept shift", 12)
END = T0 + timedelta(seconds=len(DATA) * STEP)


def test_labels_in_any_order_give_the_stream_of_one_uninterrupted_run(tmp_path: Path, store_at: str) -> None:
    """Labels trickle in shuffled, with a check after each batch; the result equals one check at the end."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    path, ids = setup(tmp_path / "a", store_at, DATA)
    labels = [(pid, row["label"]) for pid, row in zip(ids, DATA, strict=True)]
    order = np.random.default_rng(3).permutation(len(labels))
    clock = ManualClock(END + timedelta(hours=1))  # well within label_delay: only the labelled prefix is ready
    with open_store(path) as store:
        for batch in np.array_split(order, 8):
            log_labels(store, [labels[int(i)] for i in batch], stamp=iso(clock.now()))
            run_check(store, clock)
            clock.advance(3600)
        piecewise, fed = events(store), status(store).models[0].concept
    shutil.copy(tmp_path / "a" / "churn_reference.csv", tmp_path / "b")
    whole_path, _ = setup(tmp_path / "b", other_store(store_at, "b"), DATA)
    with open_store(whole_path) as store:
        log_labels(store, labels)
        run_check(store, ManualClock(END + timedelta(hours=9)))
        whole = events(store)
    assert piecewise == whole and any(kind == "concept" for _, _, _, kind, _ in whole)
    assert fed["fed"] == len(DATA) and fed["late_labels"] == 0


def test_the_watermark_waits_for_labels_then_passes_over_the_unlabelled(tmp_path: Path, store_at: str) -> None:
    path, ids = setup(tmp_path, store_at, DATA[:1000])
    labels = [(pid, row["label"]) for pid, row in zip(ids, DATA[:1000], strict=True)]
    with open_store(path) as store:
        log_labels(store, labels[:300] + labels[301:900], stamp=iso(T0))  # #300 is missing, #900.. not yet known
        result = run_check(store, ManualClock(T0 + timedelta(days=1))).models[0].concept
        assert result.fed == 300  # held at the first unlabelled prediction (within label_delay)
        clock = ManualClock(T0 + timedelta(days=10))  # past label_delay: the unlabelled are passed over
        result = run_check(store, clock).models[0].concept
        assert (result.fed, result.waiting) == (599, 100)  # 301..899 fed; #300 passed over; 900.. still unlabelled
        log_labels(store, [labels[300]], stamp="2026-03-20T00:00:00.000+00:00")  # arrives after it was passed
        clock.advance(86400)
        assert run_check(store, clock).models[0].concept.late_labels == 1
        state = status(store).models[0].concept
        assert state["late_labels"] == 1 and state["fed"] == 899
        rebuilt = run_check(store, clock, rebuild=True).models[0].concept  # replay with every label now known
        assert rebuilt.fed == 900


def test_error_rising_with_moved_inputs_is_input_plus_concept(tmp_path: Path, store_at: str) -> None:
    moved = phase(2000, "covariate shift", 13)  # new customers, and the model is wrong about two in three of them
    data = phase(2000, "as in training", 14) + [{**r, "label": 1 - r["prediction"] if i % 3 else r["label"]}
                                                for i, r in enumerate(moved)]
    path, ids = setup(tmp_path, store_at, data)
    with open_store(path) as store:
        log_labels(store, [(pid, row["label"]) for pid, row in zip(ids, data, strict=True)])
        report = run_check(store, ManualClock(T0 + timedelta(days=30)))
        kinds = {d["kind"] for d in report.models[0].concept.detections if d["bad"]}
        assert kinds == {"input+concept"}
        assert status(store).models[0].diagnosis == "input + concept drift"


def test_concept_drift_is_told_apart_and_alerted_once(tmp_path: Path, store_at: str) -> None:
    path, ids = setup(tmp_path, store_at, DATA)
    with open_store(path) as store:
        log_labels(store, [(pid, row["label"]) for pid, row in zip(ids, DATA, strict=True)])
        report = run_check(store, ManualClock(T0 + timedelta(days=30)))
        bad = [d for d in report.models[0].concept.detections if d["bad"]]
        assert bad and all(d["kind"] == "concept" for d in bad)
        assert "while features did not move: concept drift" in bad[0]["summary"]
        assert [d.event.rule for d in report.delivered] == ["concept-drift"]  # one incident, one alert
        current = status(store).models[0]
        assert current.diagnosis == "concept drift" and "retrain" in current.advice
        assert current.concept["error_now"] > current.concept["error_reference"] + 0.05
        assert current.concept["last_detection"]["kind"] == "concept"
        log_rows(store, DATA[:10], version="2", prefix="v2-", start=END)  # a new version: none of v1's history
        v1, v2 = (next(m for m in status(store).models if m.version == v) for v in ("1", "2"))
        assert v1.concept["last_detection"] == current.concept["last_detection"]
        assert v2.concept["last_detection"] is None and v2.diagnosis == "no reference"


def test_labels_for_unknown_predictions_are_kept_and_counted(tmp_path: Path, store_at: str) -> None:
    path, _ = setup(tmp_path, store_at, DATA[:600])
    with open_store(path) as store:
        log_labels(store, [("never-logged", 1), ("nor-this", 0)])
        assert status(store).models[0].concept["orphan_labels"] == 2
        assert "2 for unknown prediction ids (e.g. 'never-logged': kept, joined if" in status(store).render()


def test_a_model_version_without_reference_is_reported_not_fatal(tmp_path: Path, store_at: str) -> None:
    path, _ = setup(tmp_path, store_at, DATA[:600])
    with open_store(path) as store:
        log_rows(store, DATA[:10], version="2", prefix="v2-")
        report = run_check(store, ManualClock(T0))
        v2 = next(m for m in report.models if m.version == "2")
        assert "no reference for 'churn' version '2'" in v2.problems[0]
        assert next(m for m in report.models if m.version == "1").windows  # version 1 was still checked


@pytest.mark.parametrize("split_at", [1, 3])
def test_windows_checked_in_several_runs_equal_one_run(tmp_path: Path, store_at: str, split_at: int) -> None:
    (tmp_path / "a").mkdir()
    path, _ = setup(tmp_path / "a", store_at, DATA[:2600])
    with open_store(path) as store:
        store.conn.execute("DELETE FROM monitor_predictions WHERE id > ?", [split_at * 500 + 100])
        run_check(store, ManualClock(T0))
        log_rows(store, DATA[split_at * 500 + 100:2600], start=T0 + timedelta(seconds=(split_at * 500 + 100) * STEP),
                 step_s=STEP, prefix="later")
        run_check(store, ManualClock(T0))
        piecewise = store.conn.execute('SELECT "window", rows, input_drifted, results FROM monitor_windows '
                                       'ORDER BY "window"').fetchall()
        run_check(store, ManualClock(T0), rebuild=True)
        assert store.conn.execute('SELECT "window", rows, input_drifted, results FROM monitor_windows '
                                  'ORDER BY "window"').fetchall() == piecewise
    assert len(piecewise) == 5


def test_overlapping_checks_never_record_a_window_twice(tmp_path: Path, store_at: str) -> None:
    import threading

    path, ids = setup(tmp_path, store_at, DATA)
    with open_store(path) as store:
        log_labels(store, [(pid, row["label"]) for pid, row in zip(ids, DATA, strict=True)])

    def one() -> None:
        with open_store(path) as own:
            run_check(own, ManualClock(T0 + timedelta(days=30)))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open_store(path) as store:
        found = store.conn.execute('SELECT "window" FROM monitor_windows ORDER BY 1').fetchall()
        assert [r[0] for r in found] == list(range(1, 9))
        concept = [e for e in events(store) if e[1] == "concept_drift"]
        assert len(concept) == len(set(concept))  # each detection once
        assert len(store.conn.execute("SELECT id FROM alerts").fetchall()) == 1


def test_predictions_logged_behind_the_window_cursor_are_counted_then_rebuilt(tmp_path: Path, store_at: str) -> None:
    path, _ = setup(tmp_path, store_at, DATA[:1000])
    with open_store(path) as store:
        assert len(run_check(store, ManualClock(T0)).models[0].windows) == 2
        log_rows(store, DATA[1000:1100], start=T0 - timedelta(days=1), prefix="backfill")  # older than window 1
        report = run_check(store, ManualClock(T0))
        assert report.models[0].late_predictions == 100 and report.models[0].windows == []
        issue = next(i for i in status(store).models[0].issues if i["kind"] == "late_prediction")
        assert issue["count"] == 100 and "--rebuild" in issue["example"]
        assert run_check(store, ManualClock(T0)).models[0].late_predictions == 0  # counted once
        rebuilt = run_check(store, ManualClock(T0), rebuild=True).models[0]
        assert len(rebuilt.windows) == 2 and rebuilt.windows[0].start.startswith("2026-03-01")
