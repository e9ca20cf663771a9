"""References (hash, spec) and batch ingestion from CSV and JSONL, with every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goldband.config.monitors import ColumnsConfig
from goldband.errors import MonitorError
from goldband.store import Store, open_store
from goldband.watch import db, ingest_labels, ingest_predictions, load_reference, register_reference
from monitorkit import churn_reference, write_csv


@pytest.fixture
def store(store_at: str) -> Store:
    with open_store(store_at) as s:
        yield s  # type: ignore[misc]


# -- references ---------------------------------------------------------------------------------


def test_a_reference_records_hash_spec_and_what_it_holds(tmp_path: Path, store: Store) -> None:
    path = churn_reference(tmp_path)
    ref = register_reference(store, "churn", path, version="1")
    assert ref.hash.startswith("sha256:") and ref.rows == 3000
    assert ref.spec.features == {"tenure_months": "numeric", "monthly_charges": "numeric",
                                 "support_calls": "numeric", "contract": "categorical",
                                 "payment_method": "categorical"}
    assert ref.predictions is not None and ref.labels is not None and ref.confidence is not None
    assert ref.spec.error_rate == pytest.approx(0.25, abs=0.03)
    assert register_reference(store, "churn", path, version="1").hash == ref.hash  # same file: a no-op
    loaded = load_reference(store, "churn", "1")
    assert loaded is not None and loaded.spec == ref.spec and len(loaded.numeric["tenure_months"]) == 3000


def test_a_changed_reference_under_the_same_version_is_refused(tmp_path: Path, store: Store) -> None:
    path = churn_reference(tmp_path)
    register_reference(store, "churn", path, version="1")
    path.write_text(path.read_text().replace("month-to-month", "monthly"))
    with pytest.raises(MonitorError, match=r"changed since it was registered.*new model version"):
        load_reference(store, "churn", "1")
    with pytest.raises(MonitorError, match=r"already has a reference with another content.*--version"):
        register_reference(store, "churn", path, version="1")
    assert register_reference(store, "churn", path, version="2").version == "2"
    assert register_reference(store, "churn", path, version="1", replace=True).hash == \
        load_reference(store, "churn", "1").hash  # type: ignore[union-attr]


def test_feature_kinds_are_inferred_or_declared(tmp_path: Path, store: Store) -> None:
    rows = [[i % 50, i % 3, f"c{i % 4}", "yes" if i % 2 else "no", i % 2] for i in range(100)]
    path = write_csv(tmp_path / "r.csv", ["age", "level", "city", "flag", "label"], rows)
    ref = register_reference(store, "m", path)
    assert ref.spec.features == {"age": "numeric", "level": "categorical", "city": "categorical",
                                 "flag": "categorical"}  # few distinct numbers: categorical; label is special
    ref = register_reference(store, "m", path, version="2", features={"age": "numeric", "level": "numeric"})
    assert ref.spec.features == {"age": "numeric", "level": "numeric"}
    with pytest.raises(MonitorError, match=r"declared feature 'cty' is not a column.*did you mean 'city'"):
        register_reference(store, "m", path, version="3", features={"cty": "categorical"})
    with pytest.raises(MonitorError, match="declared numeric but has the value 'c0'"):
        register_reference(store, "m", path, version="4", features={"city": "numeric"})


def test_a_tiny_or_unreadable_reference_is_a_clear_error(tmp_path: Path, store: Store) -> None:
    with pytest.raises(MonitorError, match="has 2 rows"):
        register_reference(store, "m", write_csv(tmp_path / "t.csv", ["a"], [[1], [2]]))
    with pytest.raises(MonitorError, match=r"unknown file type '\.txt'"):
        register_reference(store, "m", tmp_path / "r.txt")
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\n{oops\n')
    with pytest.raises(MonitorError, match=r"bad.jsonl:2: malformed JSON"):
        register_reference(store, "m", tmp_path / "bad.jsonl")
    (tmp_path / "r.parquet").write_bytes(b"PAR1")
    with pytest.raises(MonitorError, match=r"goldband\[parquet\]|cannot read the Parquet"):
        register_reference(store, "m", tmp_path / "r.parquet")


# -- batches ------------------------------------------------------------------------------------


def test_a_csv_batch_is_stored_and_bad_rows_are_refused_with_their_line(tmp_path: Path, store: Store) -> None:
    header = ["prediction_id", "time", "age", "plan", "prediction", "proba_yes", "proba_no"]
    path = write_csv(tmp_path / "b.csv", header, [
        ["a", "2026-03-02T10:00:00Z", 30, "pro", "yes", 0.8, 0.2],
        ["b", "2026-03-02T10:01:00Z", "", "basic", "no", 0.3, 0.7],  # a missing age: kept
        ["c", "not a time", 41, "pro", "yes", 0.9, 0.1],  # refused
        ["d", "2026-03-02T10:03:00Z", 22, "pro", "", "", ""],  # no prediction: refused
        ["a", "2026-03-02T10:04:00Z", 50, "pro", "no", 0.4, 0.6],  # duplicate id: refused
    ])
    report = ingest_predictions(store, "m", path)
    assert (report.rows, report.written, report.refused) == (5, 2, 3)
    assert report.problems[0] == f"{path}:4: prediction 'c': time 'not a time' is not an ISO 8601 time, a datetime " \
                                 "or a Unix timestamp"
    assert any("already logged" in p for p in report.problems)
    assert "stored 2 of 5 predictions, refused 3" in report.summary()
    row = store.conn.execute("SELECT features, layout, prediction, confidence, proba FROM monitor_predictions "
                             "WHERE prediction_id = 'a'").fetchone()
    assert db.decode_features(db.layouts(store.conn), row[1], row[0]) == {"age": "30", "plan": "pro"}
    assert json.loads(row[2]) == "yes" and row[3] == 0.8
    assert {(i["kind"], i["count"]) for i in db.issues(store.conn)} >= {("bad_time", 1), ("duplicate_id", 1)}


def test_ingesting_the_same_file_twice_stores_it_once(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(json.dumps({"age": i, "prediction": i % 2}) for i in range(30)) + "\n")
    assert ingest_predictions(store, "m", path).written == 30
    again = ingest_predictions(store, "m", path)
    assert (again.written, again.refused) == (0, 30)  # ids from the file's hash and line: a re-run is safe
    assert store.conn.execute("SELECT COUNT(*) FROM monitor_predictions").fetchone()[0] == 30


def test_labels_arrive_in_any_order_and_corrections_replace(tmp_path: Path, store: Store) -> None:
    labels = write_csv(tmp_path / "l.csv", ["prediction_id", "label"], [["x", 1], ["y", 0], ["x", 0], ["", 1]])
    report = ingest_labels(store, "m", labels)
    assert (report.written, report.refused) == (3, 1) and "without a prediction id" in report.problems[0]
    row = store.conn.execute("SELECT label, updates FROM monitor_labels WHERE prediction_id = 'x'").fetchone()
    assert row == ('"0"', 1)  # the later label for the same id is a correction (CSV text, JSON-encoded)


def test_empty_batches_and_missing_columns_are_clear_errors(tmp_path: Path, store: Store) -> None:
    with pytest.raises(MonitorError, match="empty batch"):
        ingest_predictions(store, "m", write_csv(tmp_path / "e.csv", ["a", "prediction"], []))
    with pytest.raises(MonitorError, match=r"no prediction column 'prediction'.*did you mean 'predicted'"):
        ingest_predictions(store, "m", write_csv(tmp_path / "p.csv", ["a", "predicted"], [[1, 0]]))
    assert ingest_predictions(store, "m", tmp_path / "p.csv", columns=ColumnsConfig(prediction="predicted")).written
    with pytest.raises(MonitorError, match="no label column"):
        ingest_labels(store, "m", write_csv(tmp_path / "l.csv", ["prediction_id", "y"], [["a", 1]]))
    with pytest.raises(MonitorError, match="no such file"):
        ingest_predictions(store, "m", tmp_path / "missing.csv")
    assert store.conn.execute("SELECT COUNT(*) FROM monitor_predictions").fetchone()[0] == 1  # nothing else stored


def test_columns_are_checked_against_the_reference(tmp_path: Path, store: Store) -> None:
    register_reference(store, "churn", churn_reference(tmp_path), version="1")
    path = write_csv(tmp_path / "b.csv", ["tenure_mnths", "monthly_charges", "support_calls", "contract",
                                          "payment_method", "prediction"], [[3, 50.0, 1, "one-year", "card", 0]])
    report = ingest_predictions(store, "churn", path, version="1")
    assert report.written == 1
    assert "column 'tenure_mnths' is not a feature of the reference of 'churn' (did you mean 'tenure_months'?)" \
        in report.warnings[0]
    assert "feature 'tenure_months' of the reference is not in the file" in report.warnings[1]
