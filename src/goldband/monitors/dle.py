"""Direct loss estimation (DLE): a regressor's MAE and RMSE without labels.

On the reference (features, prediction and label), a second model learns each
row's loss from the features and the prediction: one for the absolute error,
one for the squared error (scikit-learn's ``HistGradientBoostingRegressor``,
which takes missing values and categorical codes as they are). A window's
estimated MAE is the mean of its predicted absolute errors, its estimated
RMSE the square root of the mean predicted squared error (each prediction
floored at 0). This is NannyML's DLE
(https://nannyml.readthedocs.io/en/stable/how_it_works/performance_estimation.html#direct-loss-estimation-dle,
``nannyml/performance_estimation/direct_loss_estimation/metrics.py``), with
HistGradientBoosting in place of LightGBM.

Bands: as for CBPE (``goldband.monitors.cbpe``), the realised MAE and RMSE of
``draws`` bootstrap windows of ``n`` reference rows; mean +- ``k`` (3) sd. A
loss is flagged when its estimate rises *above* the band.

Assumptions: no concept drift, and the loss model extrapolates to the shifted
inputs (it has seen how the error depends on x only where the reference has
data; far outside it, tree models predict the edge's loss).

The loss models run on one thread (``_one_thread``). scikit-learn is an
optional extra (``pip install 'goldband[registry]'``); a clear
``MonitorError`` says so when it is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from goldband.errors import MonitorError
from goldband.monitors.cbpe import MAX_BOOT, Band

if TYPE_CHECKING:
    import numpy.typing as npt

    Floats = npt.NDArray[np.float64]

__all__ = ["DLE", "LOSS_METRICS", "regression_metrics"]

LOSS_METRICS = ("mae", "rmse")


def regression_metrics(predictions: Any, labels: Any) -> dict[str, float]:
    """The realised MAE and RMSE (NaN for no rows)."""
    error = np.asarray(predictions, dtype=np.float64) - np.asarray(labels, dtype=np.float64)
    if not len(error):
        return dict.fromkeys(LOSS_METRICS, math.nan)
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error ** 2)))}


def _regressor(categorical: list[bool], seed: int) -> Any:
    import importlib

    try:
        ensemble = importlib.import_module("sklearn.ensemble")
    except ImportError:
        raise MonitorError("direct loss estimation needs scikit-learn, which is not installed", where="DLE",
                           expected="scikit-learn importable",
                           fix="pip install 'goldband[registry]' (or turn estimation off for this model)") from None
    mask = np.array(categorical, dtype=bool) if any(categorical) else None
    return ensemble.HistGradientBoostingRegressor(categorical_features=mask, random_state=seed)


@dataclass
class DLE:
    """DLE fitted on a reference; build once per reference with ``DLE.fit``, then ``estimate`` each window."""

    abs_model: Any
    sq_model: Any
    reference_predictions: Floats
    reference_labels: Floats
    draws: int = 200
    k: float = 3.0
    seed: int = 0
    _bands: dict[tuple[str, int], Band] = field(default_factory=dict, repr=False)

    @classmethod
    def fit(cls, features: Any, predictions: Any, labels: Any, *, categorical: list[bool] | None = None,
            draws: int = 200, k: float = 3.0, seed: int = 0) -> DLE:
        """Fit the loss models on the reference: ``features`` (n, d; NaN missing; categorical columns as
        integer codes 0..254 flagged in ``categorical``), the model's predictions and the labels."""
        x, pred, y = _inputs(features, predictions), np.asarray(predictions, dtype=np.float64), \
            np.asarray(labels, dtype=np.float64)
        if len(x) != len(y) or not np.all(np.isfinite(pred)) or not np.all(np.isfinite(y)):
            raise MonitorError(f"{len(x)} rows of features and {len(y)} labels, or non-finite values", where="DLE",
                               expected="one finite prediction and label per reference row")
        mask = [*(categorical or [False] * (x.shape[1] - 1)), False]
        with _one_thread():
            abs_model = _regressor(mask, seed).fit(x, np.abs(pred - y))
            sq_model = _regressor(mask, seed).fit(x, (pred - y) ** 2)
        return cls(abs_model, sq_model, pred, y, draws, k, seed)

    def estimate(self, features: Any, predictions: Any) -> dict[str, float]:
        """Estimated MAE and RMSE of one window."""
        x = _inputs(features, predictions)
        if not len(x):
            return dict.fromkeys(LOSS_METRICS, math.nan)
        with _one_thread():
            absolute = np.maximum(self.abs_model.predict(x), 0.0)
            squared = np.maximum(self.sq_model.predict(x), 0.0)
        return {"mae": float(np.mean(absolute)), "rmse": float(np.sqrt(np.mean(squared)))}

    def band(self, metric: str, n: int) -> Band:
        """The reference level and sampling error of ``metric`` for a window of ``n`` rows (cached)."""
        if (metric, n) not in self._bands:
            rng = np.random.default_rng(self.seed + n)
            size, total = max(1, min(n, MAX_BOOT)), len(self.reference_labels)
            draws = [regression_metrics(self.reference_predictions[r], self.reference_labels[r])
                     for r in (rng.integers(0, total, size) for _ in range(self.draws))]
            level = regression_metrics(self.reference_predictions, self.reference_labels)
            scale = math.sqrt(size / n)
            for name in LOSS_METRICS:
                sd = float(np.std([d[name] for d in draws])) * scale
                self._bands[name, n] = Band(name, n, level[name], sd, total, self.k)
        return self._bands[metric, n]


def _one_thread() -> Any:
    """OpenMP limited to one thread: on a busy two-core machine its spinning threads made a 4,000-row fit
    27 times slower (7.9 s against 0.29 s single-threaded)."""
    import importlib

    return importlib.import_module("threadpoolctl").threadpool_limits(limits=1, user_api="openmp")


def _inputs(features: Any, predictions: Any) -> Floats:
    """The loss model's input: the features and the prediction as the last column."""
    x = np.asarray(features, dtype=np.float64)
    pred = np.asarray(predictions, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(pred):
        raise MonitorError(f"features of shape {x.shape} for {len(pred)} predictions", where="DLE",
                           expected="a (rows, features) array with one row per prediction")
    return np.column_stack([x, pred])
