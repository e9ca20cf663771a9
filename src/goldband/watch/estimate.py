"""Performance without labels: estimated accuracy, F1, ROC AUC (CBPE) or MAE, RMSE (DLE) per window.

Labels arrive days or weeks late; for the windows they have not reached yet,
``build_estimator`` fits, once per reference and check, a CBPE
(``goldband.monitors.cbpe``, classification: from the reference's
``proba_<class>`` columns, predictions and labels) or a DLE
(``goldband.monitors.dle``, regression: from its features, predictions and
labels). ``Estimator.window`` then turns one window of logged predictions
into ``Observation``s ``estimated_accuracy``, ``estimated_f1``,
``estimated_roc_auc`` (or ``estimated_mae``, ``estimated_rmse``), flagged when
the estimate leaves the reference's band (mean -+ 3 sd of bootstrap windows
of the same size) on the bad side: below it for accuracy, F1 and AUC, above it
for losses. ``Estimator.realised`` computes the same metrics from the
labelled rows, for the status to show once the labels are in.

A reference the estimator cannot use (no labels, no probabilities, one class,
scikit-learn missing for DLE) does not stop the check: the estimator is *off*
and ``off`` says why in one line. A binary model whose reference (or window)
has a ``confidence`` and a prediction but no class probabilities is read as
``p(predicted class) = confidence``. Window rows whose probabilities give mass
to a class the reference never had, or that have no probabilities at all, are
left out of the estimate and counted as issues (``unseen_class``,
``no_proba``).
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from goldband.alerts.rules import Observation
from goldband.errors import MonitorError
from goldband.monitors.cbpe import CBPE, METRICS
from goldband.monitors.dle import DLE, LOSS_METRICS, regression_metrics
from goldband.watch.records import Issue, category_key, number

if TYPE_CHECKING:
    import numpy.typing as npt

    from goldband.monitors.cbpe import Band, Calibration
    from goldband.watch.db import StoredPrediction
    from goldband.watch.reference import Reference

__all__ = ["Estimator", "Realised", "WindowEstimate", "build_estimator", "window_proba"]

SOURCE = "classic-ml"
MIN_ROWS = 30
MAX_CODES = 250  # categorical levels kept as codes for the loss model (HistGradientBoosting takes < 255)
CHUNK = 500


@dataclass(frozen=True)
class WindowEstimate:
    """One window's estimates, their observations, and the rows left out (as issues)."""

    n: int  # rows estimated
    metrics: dict[str, float]
    sampling_error: dict[str, float] = field(default_factory=dict)  # sd of the realised value around the estimate
    observations: list[Observation] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


@dataclass(frozen=True)
class Realised:
    """The realised metrics of the labelled rows of a window (``n`` of them)."""

    n: int
    metrics: dict[str, float]


@dataclass
class Estimator:
    """A fitted CBPE or DLE for one reference, or why estimation is off (``off``)."""

    model: str
    version: str
    task: str
    off: str | None = None
    metrics: tuple[str, ...] = ()
    classes: list[str] = field(default_factory=list)
    cbpe: CBPE | None = None
    dle: DLE | None = None
    encoders: dict[str, dict[str, int]] = field(default_factory=dict)  # DLE: categorical codes
    features: dict[str, str] = field(default_factory=dict)  # DLE: the reference's features and kinds

    @property
    def method(self) -> str | None:
        return "cbpe" if self.cbpe else "dle" if self.dle else None

    @property
    def calibration(self) -> Calibration | None:
        return self.cbpe.calibration if self.cbpe else None

    def describe(self) -> str:
        """One line for the check's output: what is estimated, or why not."""
        who = f"{self.model} v{self.version}"
        if self.off:
            return f"{who}: performance estimation is off: {self.off}"
        cal = f"; {self.cbpe.calibration.describe()}" if self.cbpe else ""
        return f"{who}: estimating {', '.join(self.metrics)} with {self.method}{cal}"

    def window(self, conn: sqlite3.Connection, rows: Sequence[StoredPrediction], *,
               time: str | None = None, labels: dict[str, str] | None = None) -> WindowEstimate:
        """Estimate one window (labels, if any, are not used); no observations when estimation is off.

        ``labels``: its series' (the scope's version and environment; default: this version's)."""
        if self.off or not rows:
            return WindowEstimate(0, {})
        if self.cbpe:
            proba, predicted, _, issues = _class_rows(self, rows, window_proba(conn, [r.id for r in rows]))
            n = len(predicted)
            found = self.cbpe.estimate(proba, predicted) if n else dict.fromkeys(METRICS, math.nan)
            spread = self.cbpe.sampling_error(proba, predicted)
        else:
            assert self.dle is not None
            x, pred, _ = _regression_rows(self, rows)
            found, n, issues = self.dle.estimate(x, pred), len(pred), []
            spread = {m: self.dle.band(m, n).sd if n else math.nan for m in LOSS_METRICS}
        observations = self._observations(found, spread, n, time or rows[-1].time, issues,
                                          labels or {"version": self.version})
        return WindowEstimate(n, found, spread, observations, issues)

    def realised(self, conn: sqlite3.Connection, rows: Sequence[StoredPrediction]) -> Realised:
        """The realised metrics of the rows that have labels (the same names as the estimates)."""
        labelled = [r for r in rows if r.labelled]
        if self.off or not labelled:
            return Realised(0, {})
        if self.cbpe:
            proba, predicted, labels, _ = _class_rows(self, labelled, window_proba(conn, [r.id for r in labelled]))
            known = labels >= 0
            return Realised(int(known.sum()), self.cbpe.realised(proba[known], predicted[known], labels[known]))
        _, pred, y = _regression_rows(self, labelled)
        known = ~np.isnan(y)
        return Realised(int(known.sum()), regression_metrics(pred[known], y[known]))

    def band(self, metric: str, n: int) -> Band:
        """The reference band of ``metric`` (without the ``estimated_`` prefix) for ``n`` rows."""
        fitted: Any = self.cbpe or self.dle
        band: Band = fitted.band(metric, n)
        return band

    def _observations(self, found: dict[str, float], spread: dict[str, float], n: int, time: str,
                      issues: list[Issue], labels: dict[str, str]) -> list[Observation]:
        out = []
        who = f"{self.model} v{self.version}" + (f" in {labels['environment']}" if labels.get("environment") else "")
        skipped = dict(Counter(i.kind for i in issues))
        for metric in self.metrics:
            value = found.get(metric, math.nan)
            band = self.band(metric, n) if n else None
            bad = (band is not None and math.isfinite(value) and math.isfinite(band.sd)
                   and (value > band.upper if metric in LOSS_METRICS else value < band.lower))
            out.append(Observation(SOURCE, self.model, f"estimated_{metric}", time,
                                   value if math.isfinite(value) else None, bool(bad), labels,
                                   self.method, _summary(self, who, metric, value, spread.get(metric, math.nan),
                                                         band, n, bad),
                                   _details(value, spread.get(metric, math.nan), band, n, skipped)))
        return out


def build_estimator(ref: Reference, *, metrics: Sequence[str] | None = None, alpha: float = 0.05,
                    k: float = 3.0, draws: int = 200, seed: int = 0) -> Estimator:
    """Fit CBPE (classification) or DLE (regression) on ``ref``; an estimator that is off says why.

    ``metrics``: the subset to report (default: accuracy, f1, roc_auc or mae,
    rmse); ``alpha``: the calibration check's level; ``k``: the band's width in
    sampling errors; ``draws``: bootstrap and calibration-check draws.
    """
    task = ref.spec.task
    allowed = LOSS_METRICS if task == "regression" else METRICS
    chosen = tuple(metrics) if metrics else allowed
    unknown = [m for m in chosen if m not in allowed]
    if unknown:
        raise MonitorError(f"unknown estimate metric {unknown[0]!r} for a {task} model",
                           where=f"monitors.models.{ref.model}", expected=f"one of: {', '.join(allowed)}")
    est = Estimator(ref.model, ref.version, task, metrics=chosen)
    try:
        if task == "regression":
            _fit_dle(est, ref, k=k, draws=draws, seed=seed)
        else:
            _fit_cbpe(est, ref, alpha=alpha, k=k, draws=draws, seed=seed)
    except MonitorError as exc:
        est.off, est.cbpe, est.dle = str(exc), None, None
    return est


def window_proba(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """The logged class probabilities of predictions by their row id (rows without any are absent)."""
    import json

    found: dict[int, dict[str, float]] = {}
    for start in range(0, len(ids), CHUNK):
        part = list(ids[start:start + CHUNK])
        marks = ",".join("?" * len(part))
        for rid, text in conn.execute(f"SELECT id, proba FROM monitor_predictions WHERE id IN ({marks}) "
                                      "AND proba IS NOT NULL", part):
            found[int(rid)] = {str(k): float(v) for k, v in json.loads(text).items()}
    return found


# -- classification ------------------------------------------------------------------------------


def _fit_cbpe(est: Estimator, ref: Reference, *, alpha: float, k: float, draws: int, seed: int) -> None:
    if ref.labels is None:
        raise MonitorError("the reference has no label column", where=ref.path,
                           expected=f"a {ref.spec.columns.get('label', 'label')!r} column: CBPE checks calibration "
                                    "and sets its bands on labelled reference rows")
    classes, matrix = _reference_proba(ref)
    est.classes = classes
    index = {c: i for i, c in enumerate(classes)}
    predicted = [_predicted(p, row, index) for p, row in zip(ref.predictions or [None] * ref.rows, matrix,
                                                             strict=True)]
    labels = [index.get(str(y), -1) if y is not None else -1 for y in ref.labels]
    keep = [i for i in range(ref.rows) if labels[i] >= 0 and predicted[i] >= 0 and np.all(np.isfinite(matrix[i]))]
    if len(keep) < MIN_ROWS:
        raise MonitorError(f"only {len(keep)} reference rows have class probabilities, a prediction and a label "
                           f"among the classes {', '.join(classes)}", where=ref.path,
                           expected=f"at least {MIN_ROWS} such rows")
    positive = _positive(classes)
    est.cbpe = CBPE.fit(matrix[keep], np.array(predicted)[keep], np.array(labels)[keep],
                        positive=positive, alpha=alpha, draws=draws, k=k, seed=seed)


def _reference_proba(ref: Reference) -> tuple[list[str], npt.NDArray[np.float64]]:
    """The classes and the (rows, classes) probability matrix; a binary model's confidence when no proba."""
    if ref.proba:
        classes = sorted(ref.proba)
        if len(classes) < 2:
            raise MonitorError(f"the reference has probabilities for one class only ({classes[0]!r})",
                               where=ref.path, expected="a proba_<class> column for every class")
        matrix = np.column_stack([ref.proba[c] for c in classes])
        return classes, _fill_missing_class(matrix)
    seen = {str(v) for v in [*(ref.predictions or []), *(ref.labels or [])] if v is not None}
    if ref.confidence is None or ref.predictions is None or len(seen) != 2:
        raise MonitorError("the reference has no class probabilities", where=ref.path,
                           expected="proba_<class> columns (or, for a binary model, a confidence column and "
                                    "predictions)", fix="add the model's class probabilities to the reference file")
    classes = sorted(seen)
    matrix = np.full((ref.rows, 2), np.nan)
    for i, (pred, conf) in enumerate(zip(ref.predictions, ref.confidence, strict=True)):
        if pred is not None and math.isfinite(conf):
            j = classes.index(str(pred))
            matrix[i, j], matrix[i, 1 - j] = conf, 1.0 - conf
    return classes, matrix


def _fill_missing_class(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A row missing exactly one class's probability gets 1 minus the others (binary rows give one)."""
    out = matrix.copy()
    missing = np.isnan(out)
    one = missing.sum(axis=1) == 1
    rows, cols = np.nonzero(missing & one[:, None])
    out[rows, cols] = np.clip(1.0 - np.nansum(out[rows], axis=1), 0.0, 1.0)
    return out


def _positive(classes: list[str]) -> int | None:
    """The positive class of a binary model: '1', else 'true', else the last in sorted order."""
    if len(classes) != 2:
        return None
    for name in ("1", "true"):
        if name in classes:
            return classes.index(name)
    return 1


def _predicted(prediction: Any, proba: npt.NDArray[np.float64], index: dict[str, int]) -> int:
    """The predicted class index: the logged prediction, else the most probable class; -1 when unknown."""
    if prediction is not None:
        return index.get(str(category_key(prediction)), -1)
    return int(np.nanargmax(proba)) if np.any(np.isfinite(proba)) else -1


def _class_rows(est: Estimator, rows: Sequence[StoredPrediction], logged: dict[int, dict[str, float]]
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64], list[Issue]]:
    """Probabilities, predicted and true class indices (-1: no label) of the usable rows; the rest as issues."""
    index = {c: i for i, c in enumerate(est.classes)}
    probs, preds, labels, issues = [], [], [], []
    for row in rows:
        vector, issue = _row_proba(est, row, logged.get(row.id), index)
        predicted = _predicted(row.prediction, vector, index) if issue is None else -1
        if issue is None and predicted < 0:
            issue = Issue("unseen_class", "prediction", f"prediction {row.prediction_id!r}: predicted class "
                                                        f"{row.prediction!r} is not a class of the reference")
        if issue is not None:
            issues.append(issue)
            continue
        probs.append(vector)
        preds.append(predicted)
        labels.append(index.get(str(category_key(row.label)), -1) if row.labelled else -1)
    matrix = np.array(probs, dtype=np.float64).reshape(len(probs), len(est.classes))
    return matrix, np.array(preds, dtype=np.int64), np.array(labels, dtype=np.int64), issues


def _row_proba(est: Estimator, row: StoredPrediction, logged: dict[str, float] | None,
               index: dict[str, int]) -> tuple[npt.NDArray[np.float64], Issue | None]:
    vector = np.full(len(est.classes), np.nan)
    if logged is None:
        key = str(category_key(row.prediction))
        if len(est.classes) == 2 and row.confidence is not None and key in index:
            vector[index[key]], vector[1 - index[key]] = row.confidence, 1.0 - row.confidence
            return vector, None
        return vector, Issue("no_proba", "proba", f"prediction {row.prediction_id!r} has no class probabilities; "
                                                  "left out of the performance estimate")
    extra = {k: v for k, v in logged.items() if k not in index and v > 0}
    if extra:
        name = next(iter(extra))
        return vector, Issue("unseen_class", "proba", f"prediction {row.prediction_id!r}: class {name!r} "
                                                      f"(p={extra[name]:.3g}) is not a class of the reference "
                                                      f"({', '.join(est.classes)}); left out of the estimate")
    for key, value in logged.items():
        if key in index:
            vector[index[key]] = value
    gaps = np.isnan(vector)
    if gaps.sum() == 1:  # one class missing (a binary row gives one): 1 minus the others, as _fill_missing_class
        vector[gaps] = min(max(1.0 - float(np.nansum(vector)), 0.0), 1.0)
    return np.nan_to_num(vector, nan=0.0), None


# -- regression ---------------------------------------------------------------------------------------


def _fit_dle(est: Estimator, ref: Reference, *, k: float, draws: int, seed: int) -> None:
    if ref.labels is None or ref.predictions is None:
        raise MonitorError("the reference has no " + ("label" if ref.labels is None else "prediction") + " column",
                           where=ref.path, expected="predictions and labels: DLE learns the loss from them")
    est.encoders = {name: _codes(values) for name, values in ref.categorical.items()}
    est.features = dict(ref.spec.features)
    x = _encode(est, ref.spec.features, {**ref.numeric, **ref.categorical})
    pred = np.array([np.nan if p is None else p for p in ref.predictions], dtype=np.float64)
    y = np.array([np.nan if v is None else v for v in ref.labels], dtype=np.float64)
    keep = np.isfinite(pred) & np.isfinite(y)
    if keep.sum() < MIN_ROWS:
        raise MonitorError(f"only {int(keep.sum())} reference rows have a numeric prediction and label",
                           where=ref.path, expected=f"at least {MIN_ROWS}")
    categorical = [ref.spec.features[n] == "categorical" for n in ref.spec.features]
    est.dle = DLE.fit(x[keep], pred[keep], y[keep], categorical=categorical, draws=draws, k=k, seed=seed)


def _codes(values: list[str | None]) -> dict[str, int]:
    common = Counter(v for v in values if v is not None).most_common(MAX_CODES)
    return {name: i for i, (name, _) in enumerate(common)}


def _encode(est: Estimator, features: dict[str, str], columns: dict[str, Any]) -> npt.NDArray[np.float64]:
    """The loss model's feature matrix: numeric values, categorical codes (unknown or missing: NaN)."""
    out = []
    for name, kind in features.items():
        if kind == "numeric":
            out.append(np.asarray(columns[name], dtype=np.float64))
        else:
            codes = est.encoders[name]
            out.append(np.array([codes.get(v, np.nan) if v is not None else np.nan for v in columns[name]],
                                dtype=np.float64))
    return np.column_stack(out) if out else np.zeros((len(next(iter(columns.values()), [])), 0))


def _regression_rows(est: Estimator, rows: Sequence[StoredPrediction]
                     ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Features, predictions and labels (NaN: none) of the rows with a numeric prediction."""
    usable = [r for r in rows if _number(r.prediction) is not None]
    columns: dict[str, list[Any]] = {}
    for name, kind in est.features.items():
        read = _nan_number if kind == "numeric" else category_key
        columns[name] = [read(r.feature(name)) for r in usable]
    x = _encode(est, est.features, columns) if usable else np.zeros((0, len(est.features)))
    pred = np.array([_number(r.prediction) for r in usable], dtype=np.float64)
    y = np.array([_nan_number(r.label) if r.labelled else math.nan for r in usable], dtype=np.float64)
    return x, pred, y


def _nan_number(value: Any) -> float:
    found = _number(value)
    return math.nan if found is None else found


def _number(value: Any) -> float | None:
    try:
        result = number(value)
    except ValueError:
        return None
    return result if result is not None and math.isfinite(result) else None


# -- observations ---------------------------------------------------------------------------------


def _summary(est: Estimator, who: str, metric: str, value: float, sd: float, band: Band | None, n: int,
             bad: bool) -> str:
    if not math.isfinite(value) or band is None:
        return f"{who}: estimated {metric} undefined over {n} predictions"
    side = "above" if metric in LOSS_METRICS else "below"
    where = f"the reference band [{band.lower:.3f}, {band.upper:.3f}]"
    return (f"{who}: estimated {metric} {value:.3f} ± {3 * sd:.3f} over {n} predictions ({est.method}), "
            + (f"{side} {where}" if bad else f"within {where}"))


def _details(value: float, sd: float, band: Band | None, n: int, skipped: dict[str, int]) -> dict[str, Any]:
    if band is None:
        return {"n": n, "skipped": skipped}
    interval = [value - band.k * sd, value + band.k * sd] if math.isfinite(value) and math.isfinite(sd) else None
    return {"n": n, "band": band.to_json(), "sampling_error": sd, "interval": interval, "skipped": skipped}
