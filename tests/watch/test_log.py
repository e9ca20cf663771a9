"""PredictionLogger against real store files: cheap, never raising, counting every problem, losing nothing."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from goldband.clock import ManualClock
from goldband.errors import StoreError
from goldband.store import open_store
from goldband.watch import PredictionLogger, db


def stored(path: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any], dict[tuple[str, str], int]]:
    with open_store(path) as store:
        known = db.layouts(store.conn)
        preds = [{"prediction_id": pid, "features": json.dumps(db.decode_features(known, layout, features)),
                  "prediction": prediction, "confidence": confidence, "time": time}
                 for pid, features, layout, prediction, confidence, time in store.conn.execute(
                     "SELECT prediction_id, features, layout, prediction, confidence, time "
                     "FROM monitor_predictions ORDER BY id")]
        labels = {r[0]: json.loads(r[1]) for r in store.conn.execute(
            "SELECT prediction_id, label FROM monitor_labels")}
        issues = {(i["kind"], i["field"]): i["count"] for i in db.issues(store.conn)}
    return preds, labels, issues


def test_predictions_and_labels_reach_the_store(store_at: str) -> None:
    path = store_at
    clock = ManualClock("2026-03-02T10:00:00+00:00")
    with PredictionLogger("churn", store=path, version="3", clock=clock) as log:
        log.log_label("late-but-first", 0)  # a label may arrive before its prediction
        pid = log.log({"tenure": 4, "plan": "basic"}, 1, proba={0: 0.2, 1: 0.8})
        log.log({"tenure": 9, "plan": "pro"}, 0, prediction_id="late-but-first", confidence=0.9)
        log.log_label(pid, 1)
        assert log.flush()
        stats = log.stats()
    assert (stats.logged, stats.written, stats.refused, stats.dropped, stats.pending) == (4, 4, 0, 0, 0)
    preds, labels, issues = stored(path)
    assert [p["prediction_id"] for p in preds] == [pid, "late-but-first"]
    assert json.loads(preds[0]["features"]) == {"tenure": 4, "plan": "basic"}
    assert preds[0]["confidence"] == 0.8 and preds[0]["time"] == "2026-03-02T10:00:00.000+00:00"
    assert labels == {pid: 1, "late-but-first": 0} and issues == {}


class Exploding(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1


def test_bad_input_never_raises_into_the_caller_and_is_counted(store_at: str) -> None:
    path = store_at
    with PredictionLogger("churn", store=path) as log:
        assert log.log(Exploding(), 1) is None  # copying the features failed inside log(): counted, None
        log.log("not a mapping", 1)  # type: ignore[arg-type]
        log.log({"x": 1}, None)
        log.log({"x": 1}, 1, time="yesterday")
        log.log({"x": float("inf"), "y": object()}, 1)  # kept, two values counted
        log.log({"x": 1}, 1, prediction_id="dup")
        log.log({"x": 2}, 0, prediction_id="dup")
        log.log_label(None, 1)  # type: ignore[arg-type]
        assert log.flush()
        stats = log.stats()
    assert stats.issues == {"internal": 1, "bad_row": 2, "bad_prediction": 1, "bad_time": 1, "non_finite": 1,
                            "bad_value": 1, "duplicate_id": 1}
    assert (stats.written, stats.refused) == (2, 5)
    preds, _, issues = stored(path)
    assert [json.loads(p["features"]) for p in preds] == [{"x": None, "y": None}, {"x": 1}]
    assert issues[("duplicate_id", "prediction_id")] == 1 and issues[("bad_time", "time")] == 1
    assert "internal" not in {k for k, _ in issues}  # a goldband bug is reported in stats and the log, not as data


def test_the_caller_may_reuse_its_dicts(store_at: str) -> None:
    features = {"x": 1}
    with PredictionLogger("m", store=store_at) as log:
        log.log(features, 1)
        features["x"] = 99
        log.flush()
    assert json.loads(stored(store_at)[0][0]["features"]) == {"x": 1}


def test_a_locked_store_delays_writes_but_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite only: the lock is another connection's exclusive lock on the file (PostgreSQL locks rows)
    monkeypatch.setenv("GOLDBAND_STORE_TIMEOUT", "0.05")
    path = tmp_path / "s.db"
    log = PredictionLogger("m", store=path, retry_s=0.05, flush_interval_s=0.02)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        ids = [log.log({"x": i}, i % 2) for i in range(50)]
        assert not log.flush(timeout=0.3)  # cannot write while locked ...
        assert log.stats().last_error and "locked" in log.stats().last_error
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert log.flush(timeout=10)  # ... and everything arrives once the lock is gone
    stats = log.close()
    assert (stats.written, stats.dropped, stats.pending) == (50, 0, 0)
    assert [p["prediction_id"] for p in stored(path)[0]] == ids


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite only: the lock is another connection's exclusive lock on the file (PostgreSQL locks rows)
    monkeypatch.setenv("GOLDBAND_STORE_TIMEOUT", "0.05")
    path = tmp_path / "s.db"
    log = PredictionLogger("m", store=path, max_queue=20, batch_size=5, retry_s=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        results = [log.log({"x": i}, 1) for i in range(200)]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert None in results  # dropped ones say so
    log.flush(timeout=10)
    stats = log.close()
    assert stats.dropped >= 150 and stats.written + stats.dropped == 200 == stats.logged
    assert stored(path)[2][("dropped", "")] == stats.dropped  # the store says how many were lost


def test_logging_after_close_is_counted_not_raised(store_at: str) -> None:
    log = PredictionLogger("m", store=store_at)
    log.close()
    assert log.log({"x": 1}, 1) is None and log.log_label("a", 1) is False
    assert log.stats().dropped == 2


def test_many_threads_log_at_once(store_at: str) -> None:
    with PredictionLogger("m", store=store_at, batch_size=64) as log:
        threads = [threading.Thread(target=lambda k=k: [log.log({"k": k, "i": i}, i % 2) for i in range(250)])
                   for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert log.flush()
        assert log.stats().written == 2000
    assert len(stored(store_at)[0]) == 2000


def test_an_unusable_store_fails_at_start_up_not_while_serving(tmp_path: Path) -> None:
    # SQLite only: a file that is not a database (a PostgreSQL URL that is not a store: tests/store)
    (tmp_path / "not-a-db").write_text("hello")
    with pytest.raises(StoreError, match="not an SQLite database"):
        PredictionLogger("m", store=tmp_path / "not-a-db")
