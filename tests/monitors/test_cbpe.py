"""CBPE: realised metrics agree with scikit-learn, estimates track realised ones, calibration is checked."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from goldband.errors import MonitorError
from goldband.monitors.cbpe import CBPE, classification_metrics

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def binary(rng: np.random.Generator, n: int, *, spread: float = 1.0, warp: float = 1.0) -> dict[str, Any]:
    """A calibrated binary model (``p`` true), or over-confident with ``warp`` != 1; ``spread`` < 1: harder cases."""
    x = rng.normal(0.0, spread, n)
    p = 1.0 / (1.0 + np.exp(-2.5 * x))
    y = (rng.random(n) < p).astype(int)
    shown = 1.0 / (1.0 + np.exp(-2.5 * warp * x))
    return {"proba": np.column_stack([1 - shown, shown]), "pred": (shown >= 0.5).astype(int), "y": y}


def multiclass(rng: np.random.Generator, n: int, *, spread: float = 1.0) -> dict[str, Any]:
    logits = rng.normal(0.0, spread, (n, 3)) * np.array([2.0, 1.5, 1.0])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random((n, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
    return {"proba": p, "pred": p.argmax(axis=1), "y": np.minimum(y, 2)}


def test_realised_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    b = binary(rng, 800)
    b["proba"] = b["proba"].round(2)  # ties in the score
    found = classification_metrics(np.eye(2)[b["y"]], b["pred"], b["proba"], positive=1)
    assert found["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(b["y"], b["pred"]))
    assert found["f1"] == pytest.approx(sklearn_metrics.f1_score(b["y"], b["pred"]))
    assert found["roc_auc"] == pytest.approx(sklearn_metrics.roc_auc_score(b["y"], b["proba"][:, 1]))
    m = multiclass(rng, 800)
    found = classification_metrics(np.eye(3)[m["y"]], m["pred"], m["proba"], positive=None)
    assert found["f1"] == pytest.approx(sklearn_metrics.f1_score(m["y"], m["pred"], average="macro"))
    assert found["roc_auc"] == pytest.approx(sklearn_metrics.roc_auc_score(m["y"], m["proba"], multi_class="ovr"))


def test_isotonic_map_matches_scikit_learn() -> None:
    isotonic = pytest.importorskip("sklearn.isotonic")
    rng = np.random.default_rng(4)
    b = binary(rng, 3000, warp=3.0)
    est = CBPE.fit(b["proba"], b["pred"], b["y"])
    assert est.calibrators is not None
    ours = est.calibrators[1]
    theirs = isotonic.IsotonicRegression(out_of_bounds="clip").fit(b["proba"][:, 1], b["y"])
    probe = np.concatenate([rng.random(200), [0.0, 1.0]])
    assert np.allclose(ours(probe), theirs.predict(probe))


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_estimates_fall_within_their_band_of_the_realised_metric(kind: str) -> None:
    make = binary if kind == "binary" else multiclass
    inside, total, flagged = 0, 0, 0
    for seed in range(3):
        rng = np.random.default_rng(seed)
        ref = make(rng, 3000)
        est = CBPE.fit(ref["proba"], ref["pred"], ref["y"], seed=seed)
        for _ in range(10):
            w = make(rng, 500)
            guess, real = est.estimate(w["proba"], w["pred"]), est.realised(w["proba"], w["pred"], w["y"])
            for metric in ("accuracy", "f1", "roc_auc"):
                band = est.band(metric, 500)
                inside += abs(guess[metric] - real[metric]) <= band.k * band.sd
                flagged += guess[metric] < band.lower
                total += 1
    assert inside / total >= 0.9  # +-3 sampling errors: ~99 % expected
    assert flagged == 0  # unchanged windows: the estimate stays inside the reference band


def test_a_calibrated_reference_is_mostly_left_alone() -> None:
    needed = [CBPE.fit(**fit_args(binary(np.random.default_rng(s), 2000))).calibration.needed for s in range(10)]
    assert sum(needed) <= 3  # the check's level is 0.05


def fit_args(data: dict[str, Any]) -> dict[str, Any]:
    return {"proba": data["proba"], "predicted": data["pred"], "labels": data["y"]}


def test_a_miscalibrated_reference_is_detected_and_recalibrated() -> None:
    rng = np.random.default_rng(11)
    ref = binary(rng, 3000, warp=3.0)  # over-confident: 0.95 where 0.75 is true
    est = CBPE.fit(**fit_args(ref))
    cal = est.calibration
    assert cal.needed and cal.ece > 0.05 and cal.p_value < 0.05
    assert cal.ece_after is not None and cal.ece_after < cal.ece / 3
    assert "recalibrated" in cal.describe()
    w = binary(rng, 2000, warp=3.0)
    real = est.realised(w["proba"], w["pred"], w["y"])
    raw = classification_metrics(w["proba"], w["pred"], w["proba"], positive=1)  # what no calibration would say
    guess = est.estimate(w["proba"], w["pred"])
    assert abs(raw["accuracy"] - real["accuracy"]) > 0.08
    assert abs(guess["accuracy"] - real["accuracy"]) < 0.03
    assert abs(guess["roc_auc"] - real["roc_auc"]) < 0.03


def test_more_hard_cases_lower_the_estimate_with_the_realised_accuracy_and_flag_it() -> None:
    rng = np.random.default_rng(21)
    ref = binary(rng, 3000)
    est = CBPE.fit(**fit_args(ref))
    w = binary(rng, 500, spread=0.35)  # covariate shift: inputs near the boundary
    guess, real = est.estimate(w["proba"], w["pred"]), est.realised(w["proba"], w["pred"], w["y"])
    band = est.band("accuracy", 500)
    assert real["accuracy"] < band.mean - 0.1
    assert abs(guess["accuracy"] - real["accuracy"]) <= 3 * band.sd
    assert guess["accuracy"] < band.lower and guess["roc_auc"] < est.band("roc_auc", 500).lower


def test_bands_shrink_with_the_window() -> None:
    b = binary(np.random.default_rng(5), 3000)
    est = CBPE.fit(**fit_args(b))
    assert est.band("accuracy", 2000).sd < est.band("accuracy", 200).sd / 2
    assert est.band("accuracy", 200).mean == est.band("accuracy", 2000).mean


def test_undefined_metrics_are_nan() -> None:
    empty = classification_metrics(np.zeros((0, 2)), np.zeros(0, dtype=np.int64), np.zeros((0, 2)), positive=1)
    assert all(np.isnan(v) for v in empty.values())
    one_class = classification_metrics(np.eye(2)[[1, 1, 1]], np.array([1, 1, 0]), np.eye(2)[[1, 1, 0]], positive=1)
    assert np.isnan(one_class["roc_auc"]) and one_class["accuracy"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(("proba", "pred", "y", "what"), [
    ([[0.5, 0.5]] * 3, [0, 1], [0, 1, 1], "2 predictions"),
    ([[0.5, 0.5]] * 3, [0, 1, 2], [0, 1, 1], "outside"),
    ([[1.5, -0.5]] * 3, [0, 1, 1], [0, 1, 1], "outside [0, 1]"),
    ([0.5, 0.5, 0.5], [0, 1, 1], [0, 1, 1], "shape"),
])
def test_bad_input_says_what_was_expected(proba: Any, pred: Any, y: Any, what: str) -> None:
    with pytest.raises(MonitorError, match="CBPE") as info:
        CBPE.fit(proba, pred, y)
    assert what in str(info.value)
