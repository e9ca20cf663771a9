"""Parquet in and out of the monitor: a reference and a batch of predictions read in pyarrow batches."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa  # the goldband[parquet] extra, which goldband[test] includes
import pyarrow.parquet as pq
import pytest

from goldband.clock import ManualClock
from goldband.errors import MonitorError
from goldband.store import open_store
from goldband.watch import ModelMonitorConfig, MonitorsConfig, check, ingest_predictions, register_reference, tables
from monitorkit import T0, phase


def write(path: Path, data: list[dict[str, Any]], *, ids: bool = True, label: bool = False) -> Path:
    columns: dict[str, list[Any]] = {name: [r["features"][name] for r in data] for name in data[0]["features"]}
    if ids:
        columns["prediction_id"] = [f"p{i}" for i in range(len(data))]
        columns["time"] = [f"2026-03-02T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z" for i in range(len(data))]
    columns["prediction"] = [r["prediction"] for r in data]
    columns["proba_1"] = [r["proba"]["1"] for r in data]
    if label:
        columns["label"] = [r["label"] for r in data]
    pq.write_table(pa.table(columns), path, row_group_size=97)
    return path


def test_a_parquet_batch_is_read_in_batches_and_checked_like_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 store_at: str) -> None:
    monkeypatch.setattr(tables, "PARQUET_BATCH", 128)  # many batches, with boundaries inside row groups
    reference = write(tmp_path / "ref.parquet", phase(2000, "as in training", 1), ids=False, label=True)
    batch = write(tmp_path / "batch.parquet", phase(1000, "covariate shift", 2))
    with open_store(store_at) as store:
        ref = register_reference(store, "churn", reference)
        assert ref.rows == 2000 and ref.spec.features["tenure_months"] == "numeric" and ref.labels is not None
        report = ingest_predictions(store, "churn", batch)
        assert (report.rows, report.written, report.refused) == (1000, 1000, 0)
        again = ingest_predictions(store, "churn", batch)  # the same file twice is stored once
        assert again.written == 0 and again.refused == 1000
        found = check(store, MonitorsConfig(models={"churn": ModelMonitorConfig(window=500)}), include_eval=False,
                      clock=ManualClock(T0), stream=io.StringIO())
    windows = found.models[0].windows
    assert len(windows) == 2 and all(w.input_drifted for w in windows)
    assert "tenure_months" in windows[0].drifted_features


def test_a_bad_value_deep_in_a_parquet_file_names_its_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          store_at: str) -> None:
    monkeypatch.setattr(tables, "PARQUET_BATCH", 128)
    data = phase(600, "as in training", 3)
    path = write(tmp_path / "batch.parquet", data)
    table = pq.read_table(path)
    times = table.column("time").to_pylist()
    times[450] = "not a time"
    pq.write_table(table.set_column(table.schema.get_field_index("time"), "time", pa.array(times)), path)
    with open_store(store_at) as store:
        report = ingest_predictions(store, "churn", path)
    assert report.written == 599 and report.refused == 1
    assert any(p.startswith(f"{path}:451:") for p in report.problems)


def test_a_damaged_parquet_file_is_a_clear_error(tmp_path: Path, store_at: str) -> None:
    path = tmp_path / "batch.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    with open_store(store_at) as store, pytest.raises(MonitorError, match="cannot read the Parquet"):
        ingest_predictions(store, "churn", path)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_typed_timestamps_become_the_stores_utc_text(tmp_path: Path, unit: str) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    berlin = timezone(timedelta(hours=2))
    moments = [datetime(2026, 3, 2, 9, 5, 7, 250_000, tzinfo=UTC), datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
               None, datetime(2026, 3, 2, 11, 5, 7, 999_999, tzinfo=berlin)]
    aware = pa.array(moments, type=pa.timestamp(unit, tz="Europe/Berlin"))
    naive = pa.array([None if m is None else m.astimezone(UTC).replace(tzinfo=None) for m in moments],
                     type=pa.timestamp(unit))
    pq.write_table(pa.table({"aware": aware, "naive": naive}), tmp_path / "t.parquet")
    rows = [row for _, row in tables.read_rows(tmp_path / "t.parquet")]
    millis = "000" if unit == "s" else "250"
    last = "09:05:07.000" if unit == "s" else "09:05:07.999"  # truncated to the millisecond, never rounded up
    expected = [f"2026-03-02T09:05:07.{millis}+00:00", "1999-12-31T23:59:59.000+00:00", None,
                f"2026-03-02T{last}+00:00"]
    assert [r["aware"] for r in rows] == expected
    assert [r["naive"] for r in rows] == expected
