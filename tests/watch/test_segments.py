"""Segments: a drift confined to one country is flagged (and alerted) while the whole window looks calm;
small and unseen segments are reported, not tested; a segment column the reference lacks is refused."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from goldband.clock import ManualClock
from goldband.errors import MonitorError
from goldband.store import Store, open_store
from goldband.watch import ModelMonitorConfig, MonitorsConfig, check, register_reference
from goldband.watch.db import issues, predictions_after
from goldband.watch.demo import write_reference
from goldband.watch.scope import Scope
from goldband.watch.segments import check_segments, plan_segments
from monitorkit import T0, log_rows, phase

COUNTRIES = ("DE", "FR", "US")


def with_country(data: list[dict[str, Any]], countries: list[str], *, key: str = "country") -> list[dict[str, Any]]:
    for row, country in zip(data, countries, strict=True):
        row["features"][key] = country
    return data


def reference(folder: Path, *, key: str = "country") -> Path:
    data = phase(3000, "as in training", 1)
    path = folder / "ref.csv"
    shares = ["DE"] * 6 + ["FR"] * 17 + ["US"] * 17  # DE 15%, as in the windows below
    write_reference(path, with_country(data, [shares[i % 40] for i in range(3000)], key=key))
    return path


def mixed(de_phase: str, *, de: int = 150, others: int = 425, seed: int = 3) -> list[dict[str, Any]]:
    """A window of ``de`` German rows of ``de_phase`` and ``others`` French and US rows as in training."""
    rows = with_country(phase(de, de_phase, seed), ["DE"] * de)
    rows += with_country(phase(2 * others, "as in training", seed + 1), ["FR", "US"] * others)
    order = np.random.default_rng(seed).permutation(len(rows))
    return [rows[i] for i in order]


def run(store: Store, **cfg: Any) -> Any:
    monitors = MonitorsConfig(models={"churn": ModelMonitorConfig(**{"window": 1000, "segments": ["country"],
                                                                     **cfg})})
    return check(store, monitors, include_eval=False, clock=ManualClock(T0), stream=io.StringIO())


@pytest.fixture
def shifted_store(tmp_path: Path, store_at: str) -> Store:
    store = open_store(store_at)
    register_reference(store, "churn", reference(tmp_path), version="1")
    log_rows(store, mixed("covariate shift"))
    return store


def test_drift_in_one_country_is_flagged_while_the_whole_window_is_calm(shifted_store: Store) -> None:
    with shifted_store as store:
        window = run(store).models[0].windows[0]
        results = json.loads(store.conn.execute("SELECT results FROM monitor_windows").fetchone()[0])
    assert not window.input_drifted
    assert window.segments_drifted == ["country=DE"]
    assert "drift in segment(s) country=DE (tenure_months, monthly_charges" in window.summary
    by_value = {s["value"]: s for s in results["segments"]}
    assert by_value["DE"]["input_drifted"] and not by_value["FR"]["input_drifted"]
    assert not by_value["US"]["input_drifted"]
    assert {s["status"] for s in results["segments"]} == {"tested"}
    assert "country" not in {t["name"] for t in by_value["DE"]["features"]}  # constant within a segment


def test_the_segment_drift_opens_an_alert_labelled_with_the_segment(shifted_store: Store) -> None:
    with shifted_store as store:
        report = run(store)
        opened = store.conn.execute("SELECT rule, labels FROM alerts").fetchall()
        series = {json.loads(r[0]).get("segment") for r in store.conn.execute(
            "SELECT DISTINCT labels FROM series_points WHERE metric = 'input_drift'")}
    assert report.opened
    assert [(rule, json.loads(labels)) for rule, labels in opened] == [
        ("input-drift", {"segment": "country=DE", "version": "1"})]
    assert series == {None, "country=DE", "country=FR", "country=US"}


def test_benjamini_hochberg_runs_across_segments_and_features(tmp_path: Path, store_at: str) -> None:
    cfg = ModelMonitorConfig(window=1000, segments=["country"])
    with open_store(store_at) as store:
        ref = register_reference(store, "churn", reference(tmp_path), version="1")
        log_rows(store, mixed("as in training", seed=7))
        rows = list(predictions_after(store.conn, Scope("churn", "1"), ("", 0)))
    results = check_segments(plan_segments(ref, ["country"], min_rows=cfg.min_segment_rows), rows, cfg)
    ranked = sorted((t for r in results if r.check for t in [*r.check.features, *r.check.outputs]
                     if t.p_value is not None), key=lambda t: float(t.p_value or 0.0))
    assert len(ranked) > 12  # three segments' tests, one family
    m = len(ranked)
    step_up = min(float(t.p_value or 0.0) * m / (i + 1) for i, t in enumerate(ranked))
    assert ranked[0].p_adjusted == pytest.approx(min(1.0, step_up), rel=1e-9)
    assert not any(r.input_drifted for r in results)


def test_small_and_unseen_segments_are_reported_not_tested(tmp_path: Path, store_at: str) -> None:
    with open_store(store_at) as store:
        register_reference(store, "churn", reference(tmp_path), version="1")
        data = with_country(phase(1000, "as in training", 3), ["FR"] * 500 + ["US"] * 470 + ["DE"] * 20 +
                            ["JP"] * 10)
        log_rows(store, data)
        window = run(store).models[0].windows[0]
        results = json.loads(store.conn.execute("SELECT results FROM monitor_windows").fetchone()[0])
        counted = {i["kind"]: i for i in issues(store.conn, "churn")}
    by_value = {s["value"]: (s["status"], s["rows"]) for s in results["segments"]}
    assert by_value == {"FR": ("tested", 500), "US": ("tested", 470), "DE": ("too_small", 20), "JP": ("unseen", 10)}
    assert window.segments_small == ["country=DE"] and window.segments_unseen == ["country=JP"]
    assert counted["unseen_segment"]["count"] == 10 and "country=JP" in counted["unseen_segment"]["example"]


def test_a_segment_column_that_is_not_a_feature_but_a_reference_column(tmp_path: Path, store_at: str) -> None:
    with open_store(store_at) as store:
        features = {"tenure_months": "numeric", "monthly_charges": "numeric", "contract": "categorical"}
        register_reference(store, "churn", reference(tmp_path), version="1", features=features)
        log_rows(store, mixed("covariate shift"))
        window = run(store, features=features).models[0].windows[0]
    assert window.segments_drifted == ["country=DE"]


def test_an_unknown_segment_column_names_the_reference_columns(tmp_path: Path, store_at: str) -> None:
    with open_store(store_at) as store:
        register_reference(store, "churn", reference(tmp_path), version="1")
        log_rows(store, mixed("as in training"))
        with pytest.raises(MonitorError) as info:
            run(store, segments=["contry"])
    text = str(info.value)
    assert "segment column 'contry' is not a column of the reference" in text
    assert "monitors.models.churn.segments" in text and "tenure_months" in text and "did you mean 'country'" in text


def test_a_numeric_segment_column_is_refused(tmp_path: Path, store_at: str) -> None:
    with open_store(store_at) as store:
        register_reference(store, "churn", reference(tmp_path), version="1")
        log_rows(store, mixed("as in training"))
        with pytest.raises(MonitorError, match="segment column 'tenure_months' is numeric"):
            run(store, segments=["tenure_months"])


def test_repeated_segment_columns_are_a_config_error() -> None:
    with pytest.raises(ValueError, match="repeated: country"):
        ModelMonitorConfig(segments=["country", "country"])


def test_rebuild_forgets_the_segment_series_too(shifted_store: Store) -> None:
    with shifted_store as store:
        run(store)
        count = "SELECT COUNT(*) FROM series_points WHERE labels LIKE '%segment%'"
        before = store.conn.execute(count).fetchone()[0]
        monitors = MonitorsConfig(models={"churn": ModelMonitorConfig(window=1000, segments=["country"])})
        check(store, monitors, include_eval=False, clock=ManualClock(T0), stream=io.StringIO(), rebuild=True)
        assert store.conn.execute(count).fetchone()[0] == before > 0
