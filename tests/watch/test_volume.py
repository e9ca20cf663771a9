"""Monitoring at volume: ingestion streams in bounded memory, features are stored compactly, checks are incremental.

Speed is measured in bench/bench_monitor_volume.py, never here.
"""

from __future__ import annotations

import csv
import json
import math
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from goldband.errors import MonitorError
from goldband.store import Store, open_store
from goldband.watch import check, db, ingest_predictions, register_reference
from goldband.watch import ingest as ingest_module
from goldband.watch.records import Issue, prediction_row
from goldband.watch.scope import Scope
from monitorkit import T0, churn_reference, log_rows, phase


@pytest.fixture
def store(store_at: str) -> Store:
    with open_store(store_at) as s:
        yield s  # type: ignore[misc]


def write_predictions(path: Path, n: int, *, bad_at: int | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["prediction_id", "time", "age", "plan", "prediction"])
        for i in range(n):
            time = "not a time" if i == bad_at else f"2026-03-02T00:00:{i % 60:02d}Z"
            out.writerow([f"p{i}", time, 20 + i % 50, "pro" if i % 3 else "basic", "yes" if i % 2 else "no"])
    return path


def peak_bytes(tmp_path: Path, n: int) -> int:
    path = write_predictions(tmp_path / f"{n}.csv", n)
    # SQLite only: measures this process's memory, which a server's own buffers would not show
    with open_store(tmp_path / f"{n}.db") as store:
        tracemalloc.start()
        try:
            report = ingest_predictions(store, "m", path)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert report.written == n


def test_ingestion_memory_does_not_grow_with_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_module, "BATCH", 100)  # batches small enough that the file's length would show
    small, large = peak_bytes(tmp_path, 500), peak_bytes(tmp_path, 4000)
    assert large < 1.5 * small, (small, large)  # eight times the rows; a file read whole would take ~8x


def test_a_bad_row_deep_in_a_streamed_file_keeps_its_line_and_the_rest_is_stored(
        tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_module, "BATCH", 100)
    path = write_predictions(tmp_path / "p.csv", 1000, bad_at=850)
    report = ingest_predictions(store, "m", path)
    assert (report.rows, report.written, report.refused) == (1000, 999, 1)
    assert report.problems == [f"{path}:852: prediction 'p850': time 'not a time' is not an ISO 8601 time, "
                               "a datetime or a Unix timestamp"]  # line 852: the header is line 1


def test_a_required_column_only_in_later_json_lines_rows_is_found(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "p.jsonl"
    rows = [{"age": 1}, {"age": 2, "prediction": "yes"}, {"age": 3, "prediction": "no", "extra": 1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = ingest_predictions(store, "m", path)
    assert (report.written, report.refused) == (2, 1)  # the first row has no prediction: refused, not fatal
    path.write_text("".join(json.dumps({"age": i}) + "\n" for i in range(3)))
    with pytest.raises(MonitorError, match="no prediction column 'prediction'"):
        ingest_predictions(store, "m", path)


def test_features_are_stored_once_per_layout_and_read_back_as_logged(store: Store) -> None:
    log_rows(store, [{"features": {"a": 1.5, "b": "x"}, "prediction": "yes"},
                     {"features": {"a": None, "b": "y"}, "prediction": "no"},
                     {"features": {"b": "z"}, "prediction": "no"}])
    stored = store.conn.execute("SELECT features, layout FROM monitor_predictions ORDER BY id").fetchall()
    assert [f for f, _ in stored] == ['[1.5,"x"]', '[null,"y"]', '["z"]']
    assert stored[0][1] == stored[1][1] != stored[2][1]
    assert db.layouts(store.conn) == {stored[0][1]: ("a", "b"), stored[2][1]: ("b",)}
    rows = list(db.predictions_after(store.conn, Scope("churn", "1"), ("", 0)))
    assert [r.features for r in rows] == [{"a": 1.5, "b": "x"}, {"a": None, "b": "y"}, {"b": "z"}]


def test_a_second_check_tests_only_the_new_windows(tmp_path: Path, store: Store) -> None:
    register_reference(store, "churn", churn_reference(tmp_path), version="1")
    log_rows(store, phase(1100, "as in training", seed=3))
    first = check(store, include_eval=False)
    assert [w.window for w in first.models[0].windows] == [1, 2]  # 100 left over: not a complete window
    assert check(store, include_eval=False).models[0].windows == []  # nothing new: nothing tested again
    log_rows(store, phase(400, "as in training", seed=4), prefix="q", start=T0.replace(day=3))
    second = check(store, include_eval=False).models[0].windows
    assert [(w.window, w.rows) for w in second] == [(3, 500)]  # the 100 left over and 400 new: one window
    first_ids = store.conn.execute("SELECT first_id, last_id FROM monitor_windows WHERE \"window\" = 3").fetchone()
    assert first_ids == (1001, 1500)


@pytest.mark.parametrize(("features", "kept", "kinds"), [
    ({"a": 1.5, "b": 2}, {"a": 1.5, "b": 2}, []),
    ({"a": 1.5, "b": math.nan}, {"a": 1.5, "b": None}, []),
    ({"a": 1.5, "b": -math.inf}, {"a": 1.5, "b": None}, ["non_finite"]),
    ({"a": 1e308, "b": 1e308}, {"a": 1e308, "b": 1e308}, []),  # finite, though their sum is not
])
def test_the_fast_path_for_plain_rows_keeps_every_rule(features: dict[str, Any], kept: dict[str, Any],
                                                       kinds: list[str]) -> None:
    issues: list[Issue] = []
    assert prediction_row("m", "1", features, "yes", prediction_id="p", time=T0, issues=issues).features == kept
    assert [i.kind for i in issues] == kinds
