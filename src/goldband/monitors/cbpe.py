"""Confidence-based performance estimation (CBPE): a classifier's accuracy, F1 and ROC AUC without labels.

If a model's class probabilities are calibrated (of the rows given 0.8, 80 %
are right), the confusion matrix a window *would* have once its labels arrive
is expected to be ``C[j, k] = sum_i [predicted_i = j] * p_ik`` (rows: the
predicted class, columns: the true one). Expected accuracy is its trace over
n; F1 (binary: of the positive class; multiclass: the macro mean of the
one-vs-rest F1s) comes from its cells; ROC AUC from the expected share of
positive-negative pairs the score orders right: with the uncalibrated score
``s`` ordering the rows and the calibrated ``p`` as each row's chance of
being positive, ``AUC = sum_{i != j} p_i (1 - p_j) [s_i > s_j] / sum_{i != j}
p_i (1 - p_j)`` (ties count one half; multiclass: the macro mean of the
one-vs-rest AUCs, as scikit-learn's ``roc_auc_score(multi_class="ovr")``).
These are ratios of expectations, as NannyML computes them, not the exact
expectation of the ratio; with a few hundred rows the difference is far
below the sampling error. With 0/1 probabilities (the labels) every formula
gives the realised metric, which is how the realised values are computed.

>>> import numpy as np
>>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
>>> found = classification_metrics(p, p.argmax(axis=1), p, positive=1)
>>> round(found["accuracy"], 3)  # (0.9 + 0.8 + 0.6 + 0.7) / 4
0.75

This is NannyML's CBPE: https://nannyml.readthedocs.io/en/stable/how_it_works/performance_estimation.html
and its code, ``nannyml/performance_estimation/confidence_based/metrics.py``
(``estimate_roc_auc``, ``estimate_f1``) and ``nannyml/calibration.py``.

Calibration. ``CBPE.fit`` measures the reference's expected calibration
error (ECE, ten equal-count bins of the predicted probability, one-vs-rest per
class and averaged) and asks whether it is larger than a perfectly calibrated
model would show on as many rows: labels are drawn from the probabilities
themselves ``draws`` times (consistency resampling, Broecker and Smith 2007)
and the p-value is the share of draws with an ECE at least as large. Below
``alpha`` the probabilities are recalibrated with isotonic regression per
class on the reference (as NannyML does; scipy's ``isotonic_regression``,
linear between fitted points, clipped outside them) and renormalised per row;
every window's probabilities then go through the same map. NannyML instead
calibrates whenever a cross-validated isotonic fit lowers the ECE.

Sampling error of an estimate. ``sampling_error`` draws the window's labels
from its own calibrated probabilities ``draws`` times; the sd of the realised
metric over the draws is how far the realised value will typically fall from
the estimate (the interval is +- 3 sd). NannyML instead scales the
reference's observation-level spread by 1/sqrt(n), which cannot see that a
window of hard cases is noisier than the reference.

Bands. ``band(metric, n)`` bootstraps the reference: ``draws`` windows of
``n`` rows drawn with replacement (at most ``MAX_BOOT`` rows, the spread
scaled by ``sqrt(m / n)`` beyond), the realised metric of each. Its mean is
the reference level, its standard deviation the sampling error of one window
of ``n`` rows; the alert band is mean +- ``k`` (3) sd, NannyML's default
threshold (which takes the spread of the reference's own chunks), widened
for the reference's own sampling error (``Band``).

Assumptions (from the method, not checked here): no concept drift (P(y|x)
unchanged) and calibration that holds under the covariate shift being
watched. Under concept drift the estimate stays put while the model gets
worse: that is what the realised metric and the concept detectors are for.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from goldband.errors import MonitorError

if TYPE_CHECKING:
    import numpy.typing as npt

    Floats = npt.NDArray[np.float64]
    Ints = npt.NDArray[np.int64]

__all__ = ["CBPE", "METRICS", "Band", "Calibration", "classification_metrics", "expected_calibration_error"]

METRICS = ("accuracy", "f1", "roc_auc")
MAX_BOOT = 2000  # bootstrap windows larger than this are drawn at this size and the spread scaled by sqrt(m / n)


@dataclass(frozen=True)
class Band:
    """The reference level of a metric for windows of ``n`` rows, and how far a window may stray from it.

    ``sd`` is the sampling error of one window of ``n`` rows (the interval
    around an estimate is +- ``k`` sd). The alert band also allows for the
    reference's own sampling error (its level is measured on ``reference_n``
    rows): ``spread = sd * sqrt(1 + n / reference_n)``, ``mean +- k * spread``.
    NannyML leaves that term out; with a small reference it is what keeps
    unchanged windows from alarming.
    """

    metric: str
    n: int
    mean: float
    sd: float
    reference_n: int
    k: float = 3.0

    @property
    def spread(self) -> float:
        return self.sd * math.sqrt(1.0 + self.n / self.reference_n)

    @property
    def lower(self) -> float:
        return self.mean - self.k * self.spread

    @property
    def upper(self) -> float:
        return self.mean + self.k * self.spread

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "n": self.n, "mean": self.mean, "sd": self.sd,
                "reference_n": self.reference_n, "spread": self.spread, "k": self.k, "lower": self.lower,
                "upper": self.upper}


@dataclass(frozen=True)
class Calibration:
    """The reference's calibration check: the ECE, its p-value under perfect calibration, and what was done."""

    ece: float
    p_value: float
    needed: bool
    ece_after: float | None  # in-sample, after isotonic calibration (optimistic: fitted on the same rows)
    reliability: list[dict[str, float]] = field(default_factory=list)  # per bin: mean predicted, observed, n

    def to_json(self) -> dict[str, Any]:
        return {"ece": self.ece, "p_value": self.p_value, "needed": self.needed, "ece_after": self.ece_after,
                "reliability": self.reliability}

    def describe(self) -> str:
        verdict = "recalibrated with isotonic regression" if self.needed else "calibrated well enough"
        after = f", {self.ece_after:.3f} after" if self.ece_after is not None else ""
        return f"reference ECE {self.ece:.3f} (p={self.p_value:.3g}): {verdict}{after}"


# -- metrics from (expected) confusion matrices -------------------------------------------------


def _confusion(truth: Floats, predicted: Ints) -> Floats:
    """Rows: predicted class; columns: the true class, weighted by ``truth`` (probabilities or one-hot labels)."""
    matrix = np.zeros((truth.shape[1], truth.shape[1]))
    np.add.at(matrix, predicted, truth)
    return matrix


def _f1(matrix: Floats, positive: int | None) -> float:
    tp = np.diag(matrix)
    fp, fn = matrix.sum(axis=1) - tp, matrix.sum(axis=0) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = tp / (tp + 0.5 * (fp + fn))
    if positive is not None:
        return float(per_class[positive])
    return float(np.mean(per_class)) if np.all(np.isfinite(per_class)) else math.nan


def _ranks(score: Floats) -> tuple[Ints, int]:
    """Each row's group of equal scores (in increasing order) and the number of groups."""
    values, groups = np.unique(score, return_inverse=True)
    return groups, len(values)


def _auc(ranks: tuple[Ints, int], positive: Floats) -> float:
    """Expected ROC AUC: rows ordered by their score's ``ranks``, each positive with probability ``positive``
    (ties count one half)."""
    groups, count = ranks
    negative = 1.0 - positive
    pos = np.bincount(groups, weights=positive, minlength=count)
    neg = np.bincount(groups, weights=negative, minlength=count)
    self_pairs = float(np.sum(positive * negative))
    below = np.cumsum(neg) - neg
    tied = pos * neg - np.bincount(groups, weights=positive * negative, minlength=count)
    pairs = float(pos.sum() * neg.sum()) - self_pairs
    if pairs <= 1e-12:
        return math.nan
    return float((np.sum(pos * below) + 0.5 * np.sum(tied)) / pairs)


def classification_metrics(truth: Floats, predicted: Ints, score: Floats, *, positive: int | None,
                           ranks: list[tuple[Ints, int]] | None = None) -> dict[str, float]:
    """Accuracy, F1 and ROC AUC from class probabilities ``truth`` (n, k) or one-hot labels (realised).

    ``predicted``: the predicted class index per row; ``score``: the model's own
    (uncalibrated) probabilities (n, k), which order the rows for the AUC;
    ``positive``: the positive class index (binary) or None (multiclass: macro);
    ``ranks``: ``_ranks`` of each scored class, when already known. NaN where
    a metric is undefined (no row, or a class with no expected case).
    """
    if len(predicted) == 0:
        return dict.fromkeys(METRICS, math.nan)
    matrix = _confusion(truth, predicted)
    classes = [positive] if positive is not None else list(range(truth.shape[1]))
    ranks = ranks or [_ranks(score[:, c]) for c in classes]
    aucs = [_auc(r, truth[:, c]) for r, c in zip(ranks, classes, strict=True)]
    return {"accuracy": float(np.trace(matrix) / len(predicted)), "f1": _f1(matrix, positive),
            "roc_auc": float(np.mean(aucs)) if all(math.isfinite(a) for a in aucs) else math.nan}


# -- calibration --------------------------------------------------------------------------------


def _bin_edges(n: int, bins: int) -> list[tuple[int, int]]:
    count = max(1, min(bins, n // 2))
    cuts = np.linspace(0, n, count + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(cuts) if b > a]


def _ece_one(prob: Floats, hit: Floats, bins: int) -> tuple[float, list[dict[str, float]]]:
    order = np.argsort(prob, kind="stable")
    prob, hit = prob[order], hit[order]
    table, total = [], 0.0
    for a, b in _bin_edges(len(prob), bins):
        mean_p, mean_y = float(prob[a:b].mean()), float(hit[a:b].mean())
        total += (b - a) / len(prob) * abs(mean_p - mean_y)
        table.append({"predicted": mean_p, "observed": mean_y, "n": float(b - a)})
    return total, table


def expected_calibration_error(proba: Floats, onehot: Floats, *, classes: list[int],
                               bins: int = 10) -> tuple[float, list[dict[str, float]]]:
    """The ECE (equal-count bins, NannyML's binning), one-vs-rest per class in ``classes`` and averaged;
    with the reliability table of the first of them."""
    results = [_ece_one(proba[:, c], onehot[:, c], bins) for c in classes]
    return float(np.mean([r[0] for r in results])), results[0][1]


def _calibration_p_value(proba: Floats, classes: list[int], observed: float, bins: int, draws: int,
                         rng: np.random.Generator) -> float:
    """Share of label draws from ``proba`` itself (a perfectly calibrated world) with an ECE >= ``observed``."""
    cumulative = np.cumsum(proba, axis=1)
    cumulative[:, -1] = 1.0
    eye = np.eye(proba.shape[1])
    hits = 0
    for _ in range(draws):
        labels = (rng.random((len(proba), 1)) > cumulative).sum(axis=1)
        hits += expected_calibration_error(proba, eye[labels], classes=classes, bins=bins)[0] >= observed
    return (hits + 1) / (draws + 1)


@dataclass(frozen=True)
class _Isotonic:
    """One class's isotonic map: fitted points, linear between them, clipped outside (sklearn's predict)."""

    x: Floats
    y: Floats

    @classmethod
    def fit(cls, prob: Floats, hit: Floats) -> _Isotonic:
        from scipy.optimize import isotonic_regression

        x, groups = np.unique(prob, return_inverse=True)
        counts = np.bincount(groups).astype(np.float64)
        means = np.bincount(groups, weights=hit) / counts
        return cls(x, np.asarray(isotonic_regression(means, weights=counts).x, dtype=np.float64))

    def __call__(self, prob: Floats) -> Floats:
        return np.interp(prob, self.x, self.y)


# -- the fitted estimator ---------------------------------------------------------------------


@dataclass
class CBPE:
    """CBPE fitted on a reference; build once per reference with ``CBPE.fit``, then ``estimate`` each window."""

    n_classes: int
    positive: int | None
    calibration: Calibration
    reference_proba: Floats  # the model's own, uncalibrated
    reference_predicted: Ints
    reference_onehot: Floats
    calibrators: list[_Isotonic] | None = None
    draws: int = 200
    k: float = 3.0
    seed: int = 0
    _bands: dict[tuple[str, int], Band] = field(default_factory=dict, repr=False)

    @classmethod
    def fit(cls, proba: Any, predicted: Any, labels: Any, *, positive: int | None = None, alpha: float = 0.05,
            bins: int = 10, draws: int = 200, k: float = 3.0, seed: int = 0) -> CBPE:
        """Fit on the reference's probabilities (n, k), predicted and true class indices.

        ``positive``: the positive class index for a binary model (None: class 1
        when there are two classes; multiclass metrics are macro averages).
        """
        p, pred, y = _arrays(proba, predicted, labels)
        if p.shape[1] == 2 and positive is None:
            positive = 1
        onehot = np.eye(p.shape[1])[y]
        classes = [positive] if positive is not None else list(range(p.shape[1]))
        ece, table = expected_calibration_error(p, onehot, classes=classes, bins=bins)
        rng = np.random.default_rng(seed)
        p_value = _calibration_p_value(p, classes, ece, bins, draws, rng)
        calibrators = None
        after = None
        if p_value < alpha:
            calibrators = [_Isotonic.fit(p[:, c], onehot[:, c]) for c in range(p.shape[1])]
            after = expected_calibration_error(_apply(calibrators, p, positive), onehot, classes=classes, bins=bins)[0]
        check = Calibration(ece, p_value, p_value < alpha, after, table)
        return cls(p.shape[1], positive if p.shape[1] == 2 else None, check, p, pred, onehot, calibrators,
                   draws, k, seed)

    def calibrate(self, proba: Any) -> Floats:
        """The window's probabilities through the reference's calibration map (unchanged when none was needed)."""
        p = np.asarray(proba, dtype=np.float64)
        return p if self.calibrators is None else _apply(self.calibrators, p, self.positive)

    def estimate(self, proba: Any, predicted: Any) -> dict[str, float]:
        """Estimated accuracy, F1 and ROC AUC of one window from its (uncalibrated) probabilities."""
        p = np.asarray(proba, dtype=np.float64)
        pred = np.asarray(predicted, dtype=np.int64)
        return classification_metrics(self.calibrate(p), pred, p, positive=self.positive)

    def sampling_error(self, proba: Any, predicted: Any) -> dict[str, float]:
        """Per metric, the sd of the realised value if the window's labels were drawn from its calibrated
        probabilities (``draws`` draws on at most ``MAX_BOOT`` of its rows, scaled by sqrt(m / n)).

        Unlike the reference's spread this follows the window: a window of hard
        cases has a noisier accuracy than the reference's windows.
        """
        p = np.asarray(proba, dtype=np.float64)
        pred = np.asarray(predicted, dtype=np.int64)
        if len(pred) < 2:
            return dict.fromkeys(METRICS, math.nan)
        rng = np.random.default_rng(self.seed + len(pred))
        if len(pred) > MAX_BOOT:
            keep = rng.choice(len(pred), MAX_BOOT, replace=False)
            p, pred = p[keep], pred[keep]
        calibrated, eye = self.calibrate(p), np.eye(p.shape[1])
        cumulative = np.cumsum(calibrated, axis=1)
        cumulative[:, -1] = 1.0
        values: dict[str, list[float]] = {m: [] for m in METRICS}
        ranks = [_ranks(p[:, c]) for c in ([self.positive] if self.positive is not None else range(p.shape[1]))]
        for _ in range(self.draws):
            labels = (rng.random((len(pred), 1)) > cumulative).sum(axis=1)
            found = classification_metrics(eye[labels], pred, p, positive=self.positive, ranks=ranks)
            for name, value in found.items():
                values[name].append(value)
        scale = math.sqrt(len(pred) / len(np.asarray(predicted)))
        return {m: float(np.nanstd(v)) * scale if np.isfinite(v).sum() > 1 else math.nan for m, v in values.items()}

    def realised(self, proba: Any, predicted: Any, labels: Any) -> dict[str, float]:
        """The realised metrics of labelled rows (the same formulas with one-hot labels)."""
        p, pred, y = _arrays(proba, predicted, labels, n_classes=self.n_classes)
        return classification_metrics(np.eye(self.n_classes)[y], pred, p, positive=self.positive)

    def band(self, metric: str, n: int) -> Band:
        """The reference level and sampling error of ``metric`` for a window of ``n`` rows (cached)."""
        if (metric, n) not in self._bands:
            for name, band in _bootstrap(self, n).items():
                self._bands[name, n] = band
        return self._bands[metric, n]


def _bootstrap(est: CBPE, n: int) -> dict[str, Band]:
    rng = np.random.default_rng(est.seed + n)
    size = max(1, min(n, MAX_BOOT))
    total = len(est.reference_predicted)
    values: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(est.draws):
        rows = rng.integers(0, total, size)
        found = classification_metrics(est.reference_onehot[rows], est.reference_predicted[rows],
                                       est.reference_proba[rows], positive=est.positive)
        for name, value in found.items():
            values[name].append(value)
    level = classification_metrics(est.reference_onehot, est.reference_predicted, est.reference_proba,
                                   positive=est.positive)
    scale = math.sqrt(size / n) if n > 0 else math.nan
    return {m: Band(m, n, level[m], float(np.nanstd(v)) * scale if np.isfinite(v).sum() > 1 else math.nan, total,
                    est.k) for m, v in values.items()}


def _apply(calibrators: list[_Isotonic], proba: Floats, positive: int | None) -> Floats:
    """Calibrate per class and renormalise rows (uniform where every class maps to 0), as NannyML does."""
    if proba.shape[1] == 2 and positive is not None:
        pos = calibrators[positive](proba[:, positive])
        out = np.empty_like(proba)
        out[:, positive], out[:, 1 - positive] = pos, 1.0 - pos
        return out
    raw = np.column_stack([cal(proba[:, c]) for c, cal in enumerate(calibrators)])
    total = raw.sum(axis=1, keepdims=True)
    uniform = np.full_like(raw, 1.0 / raw.shape[1])
    scaled: Floats = np.divide(raw, total, out=uniform, where=total > 0)
    return scaled


def _arrays(proba: Any, predicted: Any, labels: Any, *, n_classes: int | None = None) -> tuple[Floats, Ints, Ints]:
    p = np.asarray(proba, dtype=np.float64)
    pred, y = np.asarray(predicted, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    if p.ndim != 2 or p.shape[1] < 2 or len(pred) != len(p) or len(y) != len(p):
        raise MonitorError(f"class probabilities of shape {p.shape}, {len(pred)} predictions, {len(y)} labels",
                           where="CBPE", expected="probabilities (n, k >= 2) and n predicted and true class indices")
    k = n_classes or p.shape[1]
    if len(p) and (pred.min() < 0 or pred.max() >= k or y.min() < 0 or y.max() >= k):
        raise MonitorError("a class index outside the probability columns", where="CBPE",
                           expected=f"class indices in 0..{k - 1}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise MonitorError("class probabilities outside [0, 1] or not finite", where="CBPE",
                           expected="probabilities in [0, 1]", fix="drop or repair those rows first")
    return p, pred, y
