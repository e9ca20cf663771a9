"""DLE: estimated MAE and RMSE track the realised ones, rise with a shift into noisier inputs, and need sklearn."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from goldband.errors import MonitorError
from goldband.monitors.dle import DLE, regression_metrics

pytest.importorskip("sklearn.ensemble")


def world(rng: np.random.Generator, n: int, *, shift: float = 0.0) -> dict[str, Any]:
    """A regressor that knows the mean; the noise grows with |x1|, so inputs moving out make it worse."""
    x = np.column_stack([rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n), rng.integers(0, 3, n)])
    mean = 2.0 * x[:, 0] + x[:, 1] + 0.5 * x[:, 2]
    y = mean + rng.normal(0.0, 1.0, n) * (0.3 + np.abs(x[:, 0]))
    return {"x": x, "pred": mean, "y": y}


@pytest.fixture(scope="module")
def fitted() -> DLE:
    ref = world(np.random.default_rng(0), 4000)
    return DLE.fit(ref["x"], ref["pred"], ref["y"], categorical=[False, False, True], draws=100)


def test_estimates_fall_within_their_band_of_the_realised_loss(fitted: DLE) -> None:
    rng = np.random.default_rng(1)
    inside = total = flagged = 0
    for _ in range(12):
        w = world(rng, 500)
        guess, real = fitted.estimate(w["x"], w["pred"]), regression_metrics(w["pred"], w["y"])
        for metric in ("mae", "rmse"):
            band = fitted.band(metric, 500)
            inside += abs(guess[metric] - real[metric]) <= 3 * band.sd
            flagged += guess[metric] > band.upper
            total += 1
    assert inside / total >= 0.85
    assert flagged == 0


def test_a_shift_into_noisier_inputs_raises_the_estimate_with_the_realised_loss(fitted: DLE) -> None:
    w = world(np.random.default_rng(2), 500, shift=1.5)
    guess, real = fitted.estimate(w["x"], w["pred"]), regression_metrics(w["pred"], w["y"])
    band = fitted.band("mae", 500)
    assert real["mae"] > band.upper
    assert guess["mae"] > band.upper
    assert abs(guess["mae"] - real["mae"]) / real["mae"] < 0.25


def test_realised_metrics_match_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    w = world(np.random.default_rng(3), 300)
    found = regression_metrics(w["pred"], w["y"])
    assert found["mae"] == pytest.approx(metrics.mean_absolute_error(w["y"], w["pred"]))
    assert found["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(w["y"], w["pred"])))
    assert all(np.isnan(v) for v in regression_metrics([], []).values())


def test_missing_scikit_learn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)  # as if scikit-learn were not installed
    w = world(np.random.default_rng(4), 100)
    with pytest.raises(MonitorError, match=r"goldband\[registry\]"):
        DLE.fit(w["x"], w["pred"], w["y"])


def test_bad_input_says_what_was_expected() -> None:
    with pytest.raises(MonitorError, match="one row per prediction"):
        DLE.fit(np.zeros((5, 2)), np.zeros(4), np.zeros(4))
    with pytest.raises(MonitorError, match="finite"):
        DLE.fit(np.zeros((5, 2)), np.zeros(5), [0, 1, np.nan, 2, 3])
