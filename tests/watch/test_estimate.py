"""Performance estimates per window from a real store: CBPE and DLE observations, realised metrics, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from goldband.store import Store, open_store
from goldband.watch import db, register_reference
from goldband.watch.db import StoredPrediction
from goldband.watch.estimate import Estimator, build_estimator, window_proba
from goldband.watch.reference import Reference
from goldband.watch.scope import Scope
from monitorkit import log_labels, log_rows, write_csv

pytest.importorskip("sklearn")


def customers(rng: np.random.Generator, n: int, *, spread: float = 1.0, warp: float = 1.0) -> list[dict[str, Any]]:
    """A calibrated binary model (``warp`` != 1: over-confident); ``spread`` < 1 gives more hard cases."""
    x = rng.normal(0.0, spread, n)
    plan = rng.choice(["basic", "pro"], n)
    p = 1.0 / (1.0 + np.exp(-2.5 * x))
    shown = 1.0 / (1.0 + np.exp(-2.5 * warp * x))
    y = (rng.random(n) < p).astype(int)
    return [{"features": {"x": float(x[i]), "plan": str(plan[i])}, "prediction": int(shown[i] >= 0.5),
             "proba": {"0": float(1 - shown[i]), "1": float(shown[i])}, "label": int(y[i])} for i in range(n)]


def reference_csv(folder: Path, data: list[dict[str, Any]], *, proba: bool = True, labels: bool = True) -> Path:
    header = ["x", "plan", "prediction"] + (["proba_0", "proba_1"] if proba else []) + (["label"] if labels else [])
    rows = [[r["features"]["x"], r["features"]["plan"], r["prediction"]]
            + ([r["proba"]["0"], r["proba"]["1"]] if proba else []) + ([r["label"]] if labels else []) for r in data]
    return write_csv(folder / "ref.csv", header, rows)


def stored(store: Store, model: str = "churn") -> list[StoredPrediction]:
    return list(db.predictions_after(store.conn, Scope(model, "1"), ("", 0)))


@pytest.fixture
def store(store_at: str) -> Any:
    with open_store(store_at) as s:
        yield s


def fitted(store: Store, tmp_path: Path, data: list[dict[str, Any]], **kw: Any) -> tuple[Reference, Estimator]:
    ref = register_reference(store, "churn", reference_csv(tmp_path, data, **kw), version="1")
    return ref, build_estimator(ref)


def test_the_reference_keeps_class_probabilities(store: Store, tmp_path: Path) -> None:
    data = customers(np.random.default_rng(0), 100)
    ref, _ = fitted(store, tmp_path, data)
    assert ref.proba is not None and sorted(ref.proba) == ["0", "1"]
    assert ref.proba["1"][:3] == pytest.approx([r["proba"]["1"] for r in data[:3]])


def test_an_unchanged_window_is_estimated_within_the_band(store: Store, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    _, est = fitted(store, tmp_path, customers(rng, 3000))
    assert est.method == "cbpe" and est.off is None and est.calibration is not None
    data = customers(rng, 500)
    ids = log_rows(store, data)
    rows = stored(store)
    result = est.window(store.conn, rows)
    assert [o.metric for o in result.observations] == ["estimated_accuracy", "estimated_f1", "estimated_roc_auc"]
    assert result.n == 500 and not any(o.flagged for o in result.observations)
    obs = result.observations[0]
    assert obs.detector == "cbpe" and obs.labels == {"version": "1"} and obs.time == rows[-1].time
    assert obs.details["band"]["lower"] < obs.value < obs.details["band"]["upper"]
    assert est.realised(store.conn, rows).n == 0  # no labels yet
    log_labels(store, [(pid, r["label"]) for pid, r in zip(ids, data, strict=True)])
    real = est.realised(store.conn, stored(store))
    assert real.n == 500 and set(real.metrics) == {"accuracy", "f1", "roc_auc"}


def test_more_hard_cases_are_flagged_and_followed_by_the_estimate(store: Store, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    _, est = fitted(store, tmp_path, customers(rng, 3000))
    data = customers(rng, 500, spread=0.35)
    ids = log_rows(store, data)
    log_labels(store, [(pid, r["label"]) for pid, r in zip(ids, data, strict=True)])
    rows = stored(store)
    result = est.window(store.conn, rows)
    flagged = {o.metric for o in result.observations if o.flagged}
    assert {"estimated_accuracy", "estimated_roc_auc"} <= flagged
    real = est.realised(store.conn, rows)
    assert abs(result.metrics["accuracy"] - real.metrics["accuracy"]) <= 3 * result.sampling_error["accuracy"]
    assert "below the reference band" in result.observations[0].summary


def test_a_miscalibrated_reference_is_recalibrated(store: Store, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    _, est = fitted(store, tmp_path, customers(rng, 3000, warp=3.0))
    assert est.calibration is not None and est.calibration.needed
    assert "recalibrated" in est.describe()
    data = customers(rng, 1000, warp=3.0)
    ids = log_rows(store, data)
    log_labels(store, [(pid, r["label"]) for pid, r in zip(ids, data, strict=True)])
    rows = stored(store)
    guess, real = est.window(store.conn, rows).metrics, est.realised(store.conn, rows).metrics
    assert abs(guess["accuracy"] - real["accuracy"]) < 0.04


def test_a_reference_without_labels_turns_estimation_off_and_says_why(store: Store, tmp_path: Path) -> None:
    _, est = fitted(store, tmp_path, customers(np.random.default_rng(5), 200), labels=False)
    assert est.off is not None and "no label column" in est.off
    assert "performance estimation is off" in est.describe()
    log_rows(store, customers(np.random.default_rng(6), 50))
    assert est.window(store.conn, stored(store)).observations == []


def test_a_reference_without_probabilities_turns_estimation_off(store: Store, tmp_path: Path) -> None:
    data = customers(np.random.default_rng(7), 200)
    ref = register_reference(store, "churn", reference_csv(tmp_path, data, proba=False), version="1")
    est = build_estimator(ref)
    assert est.off is not None and "no class probabilities" in est.off and "proba_<class>" in est.off


def test_a_binary_reference_with_confidence_only_is_read_from_it(store: Store, tmp_path: Path) -> None:
    data = customers(np.random.default_rng(8), 2000)
    rows = [[r["features"]["x"], r["features"]["plan"], r["prediction"], max(r["proba"].values()), r["label"]]
            for r in data]
    path = write_csv(tmp_path / "conf.csv", ["x", "plan", "prediction", "confidence", "label"], rows)
    est = build_estimator(register_reference(store, "churn", path, version="1"))
    assert est.off is None and est.classes == ["0", "1"]


def test_a_class_never_seen_in_the_reference_is_left_out_and_counted(store: Store, tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    _, est = fitted(store, tmp_path, customers(rng, 1000))
    data = customers(rng, 100)
    for row in data[:10]:
        row["proba"] = {"0": 0.2, "1": 0.3, "2": 0.5}
    for row in data[10:15]:
        row["prediction"] = 7
    log_rows(store, data)
    result = est.window(store.conn, stored(store))
    assert result.n == 85
    kinds = [i.kind for i in result.issues]
    assert kinds.count("unseen_class") == 15
    assert "class '2'" in result.issues[0].message
    assert result.observations[0].details["skipped"] == {"unseen_class": 15}


def test_a_window_without_probabilities_is_undefined_and_counted(store: Store, tmp_path: Path) -> None:
    _, est = fitted(store, tmp_path, customers(np.random.default_rng(14), 500))
    data = customers(np.random.default_rng(15), 40)
    for row in data:
        row["proba"] = None  # nor a confidence: nothing to estimate from
    log_rows(store, data)
    result = est.window(store.conn, stored(store))
    assert result.n == 0 and {i.kind for i in result.issues} == {"no_proba"} and len(result.issues) == 40
    assert all(o.value is None and not o.flagged for o in result.observations)
    assert "undefined over 0 predictions" in result.observations[0].summary


def test_window_proba_reads_by_row_id(store: Store) -> None:
    log_rows(store, customers(np.random.default_rng(10), 5))
    rows = stored(store)
    found = window_proba(store.conn, [r.id for r in rows])
    assert set(found) == {r.id for r in rows} and set(found[rows[0].id]) == {"0", "1"}


# -- regression ---------------------------------------------------------------------------------------


def houses(rng: np.random.Generator, n: int, *, shift: float = 0.0) -> list[dict[str, Any]]:
    x = rng.normal(shift, 1.0, n)
    area = rng.choice(["north", "south", "east"], n)
    mean = 3.0 * x + (area == "south") * 1.0
    y = mean + rng.normal(0.0, 1.0, n) * (0.3 + np.abs(x))
    return [{"features": {"x": float(x[i]), "area": str(area[i])}, "prediction": float(mean[i]),
             "label": float(y[i])} for i in range(n)]


def test_regression_windows_get_dle_estimates(store: Store, tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    ref_rows = [[r["features"]["x"], r["features"]["area"], r["prediction"], r["label"]] for r in houses(rng, 3000)]
    path = write_csv(tmp_path / "houses.csv", ["x", "area", "prediction", "label"], ref_rows)
    ref = register_reference(store, "houses", path, version="1", task="regression")
    est = build_estimator(ref, draws=100)
    assert est.method == "dle" and est.off is None
    calm, moved = houses(rng, 500), houses(rng, 500, shift=1.5)
    ids = log_rows(store, calm + moved, model="houses")
    log_labels(store, [(pid, r["label"]) for pid, r in zip(ids, calm + moved, strict=True)], model="houses")
    rows = stored(store, "houses")
    first, second = est.window(store.conn, rows[:500]), est.window(store.conn, rows[500:])
    assert [o.metric for o in first.observations] == ["estimated_mae", "estimated_rmse"]
    assert not any(o.flagged for o in first.observations)
    assert second.observations[0].flagged and "above the reference band" in second.observations[0].summary
    real = est.realised(store.conn, rows[500:])
    assert abs(second.metrics["mae"] - real.metrics["mae"]) / real.metrics["mae"] < 0.25


def test_an_unknown_metric_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    ref, _ = fitted(store, tmp_path, customers(np.random.default_rng(13), 100))
    with pytest.raises(ValueError, match=r"unknown estimate metric 'mae'.*accuracy, f1, roc_auc"):
        build_estimator(ref, metrics=["mae"])


# -- real data -------------------------------------------------------------------------------------------


def test_a_scikit_learn_model_on_breast_cancer_data_under_covariate_shift(store: Store, tmp_path: Path) -> None:
    """Trained on 200 rows; the reference is 185 held-out rows; windows resample the other 184, the shifted
    ones towards the cases the model is least sure of (a shift in x alone: P(y|x) is unchanged)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    train, held, pool = order[:200], order[200:385], order[385:]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x[train], y[train])
    names = ["mean radius", "mean texture", "worst area"]
    cols = [0, 1, 23]

    def rows(index: np.ndarray) -> list[dict[str, Any]]:
        p = model.predict_proba(x[index])[:, 1]
        return [{"features": dict(zip(names, map(float, x[i, cols]), strict=True)), "prediction": int(q >= 0.5),
                 "proba": {"0": float(1 - q), "1": float(q)}, "label": int(y[i])}
                for i, q in zip(index, p, strict=True)]

    ref_rows = rows(held)
    table = [[*r["features"].values(), r["prediction"], r["proba"]["0"], r["proba"]["1"], r["label"]] for r in ref_rows]
    path = write_csv(tmp_path / "cancer.csv", [*names, "prediction", "proba_0", "proba_1", "label"], table)
    est = build_estimator(register_reference(store, "cancer", path, version="1"))
    assert est.off is None
    rng = np.random.default_rng(1)
    margin = np.abs(model.predict_proba(x[pool])[:, 1] - 0.5)
    hard = np.exp(-6 * margin)
    calm, shifted = rng.choice(pool, 300), rng.choice(pool, 300, p=hard / hard.sum())
    data = rows(calm) + rows(shifted)
    ids = log_rows(store, data, model="cancer")
    log_labels(store, [(pid, r["label"]) for pid, r in zip(ids, data, strict=True)], model="cancer")
    stored_rows = stored(store, "cancer")
    for part, expect_flag in ((stored_rows[:300], False), (stored_rows[300:], True)):
        result, real = est.window(store.conn, part), est.realised(store.conn, part)
        assert abs(result.metrics["accuracy"] - real.metrics["accuracy"]) <= 3 * result.sampling_error["accuracy"]
        assert result.observations[0].flagged is expect_flag
