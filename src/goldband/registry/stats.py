"""The evaluation gate's statistics: metrics, paired tests, and the promote-or-park decision.

A candidate model version replaces the serving one (the *champion*) only after
both are scored on the same labelled evaluation set. The **example is the
unit**: both models answer the same examples, so the comparison is paired, and
the noise shared by an example (an easy or a hard one) cancels in its own
difference instead of hiding a real change or faking one.

* metrics: :data:`METRICS` (scikit-learn, imported at first use), :func:`metric_spec`;
* accuracy, paired: :func:`mcnemar_exact` (exact McNemar test, Tango's interval);
* any metric, paired: :func:`paired_bootstrap` (percentile bootstrap over examples);
* the decision: :func:`decide`, from results and :class:`MetricRule` s to a :class:`GateDecision`.

Every delta is in the metric's **good direction**: positive means the candidate
is better, for a loss too. Pure functions, keyword-only knobs, no I/O; empty
input raises ``ValueError``, a configuration mistake raises ``ConfigError``.

>>> champion = [True] * 150 + [False] * 50          # right on 150 of 200 examples
>>> candidate = [True] * 140 + [False] * 10 + [True] * 25 + [False] * 25
>>> result = mcnemar_exact(candidate, champion, confidence=0.9)
>>> gate = decide([result], [MetricRule("accuracy", floor=0.8, min_improvement=0.01)], primary="accuracy")
>>> gate.passed
True
>>> for reason in gate.reasons: print(reason)
accuracy: candidate 0.825 clears the floor 0.8
accuracy: candidate 0.825 vs champion 0.75, +0.075 [+0.0274, +0.125] at 90%:
    significantly better (one-sided p 0.00834, min improvement 0.01)
"""

from __future__ import annotations

import difflib
import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from goldband.errors import ConfigError

Better = Literal["higher", "lower"]
Needs = Literal["labels", "scores", "probabilities", "values"]
Task = Literal["classification", "regression"]
Policy = Literal["superior", "non_inferior"]
Test = Literal["mcnemar-exact", "paired-bootstrap"]
Floats = NDArray[np.float64]
RowStatistic = Callable[[NDArray[np.intp]], Floats]
MetricFn = Callable[..., float]  # (y_true, y_pred, *, labels=None) -> float; labels: the classes to average over

INSTALL_HINT = "pip install 'goldband[registry]'"
_MAX_TABLE_CLASSES = 10  # the exact multinomial shortcut keeps a K**3 joint table per resample
_CHUNK_ELEMENTS = 1 << 17  # resampled indices per batch (1 MB): the working set stays in cache


# --------------------------------------------------------------------------- metrics


def _sklearn() -> ModuleType:
    """``sklearn.metrics``, imported at first use: an optional extra that costs ~0.7 s."""
    try:
        return importlib.import_module("sklearn.metrics")
    except ImportError as exc:
        raise ConfigError("the registry gate's metrics need scikit-learn, which is not installed",
                          fix=INSTALL_HINT) from exc


def _is_binary(labels: ArrayLike) -> bool:
    return {*np.asarray(labels).tolist()} <= {0, 1}


def _scorer(function: str, *, classes: bool = False) -> MetricFn:
    """``sklearn.metrics.<function>``, with its class handling made explicit when ``classes``."""

    def score(y_true: ArrayLike, y_pred: ArrayLike, /, *, labels: ArrayLike | None = None) -> float:
        options = _class_options(function, y_true, labels) if classes else {}
        return float(getattr(_sklearn(), function)(y_true, y_pred, **options))  # y_pred: positional (log_loss 1.9)

    return score


def _class_options(function: str, y_true: ArrayLike, labels: ArrayLike | None) -> dict[str, Any]:
    """The same classes on every resample: class 1 when they are within {0, 1}, else a macro average."""
    if function == "log_loss":
        return {"labels": labels}
    found = np.unique(np.asarray(y_true)) if labels is None else np.asarray(labels)
    if function == "roc_auc_score":
        if found.size != 2:
            raise ValueError(f"roc_auc needs exactly two classes in y_true, found {found.size}: undefined otherwise")
        return {}
    binary = _is_binary(found)
    return {"labels": None if binary else found, "average": "binary" if binary else "macro", "zero_division": 0.0}


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One gate metric: how to compute it and which way is better.

    ``better`` is the good direction ("higher" for accuracy, "lower" for a
    loss); the issue's *bad direction* is its opposite. ``needs`` says what a
    model must hand in: hard ``labels``, a ranking ``scores`` for class 1,
    class ``probabilities`` (1-D for class 1, or one column per sorted class),
    or numeric ``values``. Calling a spec calls scikit-learn. precision, recall
    and f1 score class 1 when the set's classes are within {0, 1}, else macro-
    average over them; zero division counts 0. roc_auc is binary.
    """

    name: str
    better: Better
    needs: Needs
    task: Task
    fn: MetricFn = field(repr=False)

    @property
    def sign(self) -> float:
        """+1.0 when higher is better, -1.0 when lower is: ``sign * (cand - champ)`` is the gain."""
        return 1.0 if self.better == "higher" else -1.0

    def __call__(self, y_true: ArrayLike, y_pred: ArrayLike, *, labels: ArrayLike | None = None) -> float:
        return self.fn(y_true, y_pred, labels=labels)


METRICS: Mapping[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("accuracy", "higher", "labels", "classification", _scorer("accuracy_score")),
        MetricSpec("precision", "higher", "labels", "classification", _scorer("precision_score", classes=True)),
        MetricSpec("recall", "higher", "labels", "classification", _scorer("recall_score", classes=True)),
        MetricSpec("f1", "higher", "labels", "classification", _scorer("f1_score", classes=True)),
        MetricSpec("roc_auc", "higher", "scores", "classification", _scorer("roc_auc_score", classes=True)),
        MetricSpec("log_loss", "lower", "probabilities", "classification", _scorer("log_loss", classes=True)),
        MetricSpec("rmse", "lower", "values", "regression", _scorer("root_mean_squared_error")),
        MetricSpec("mae", "lower", "values", "regression", _scorer("mean_absolute_error")),
        MetricSpec("r2", "higher", "values", "regression", _scorer("r2_score")),
    )
}


def metric_spec(name: str) -> MetricSpec:
    """The :class:`MetricSpec` called ``name``; an unknown name is a ConfigError naming the closest.

    >>> metric_spec("roc_auc").better
    'higher'
    >>> metric_spec("f_1")
    Traceback (most recent call last):
    goldband.errors.ConfigError: unknown metric 'f_1'; expected one of accuracy, ...; fix: did you mean 'f1'?
    """
    if name in METRICS:
        return METRICS[name]
    close = difflib.get_close_matches(name, list(METRICS), n=1)
    raise ConfigError(f"unknown metric {name!r}", expected="one of " + ", ".join(METRICS),
                      fix=f"did you mean {close[0]!r}?" if close else "use one of the names above")


# --------------------------------------------------------------------------- paired results


@dataclass(frozen=True, slots=True)
class PairedResult:
    """Candidate vs champion on one metric, the same examples on both sides.

    ``delta`` is the gain in the metric's good direction (positive: the
    candidate is better, also for a loss); ``low``/``high`` bound it at level
    ``confidence`` (two-sided). ``p_better`` is the one-sided p-value against
    "the candidate is no better"; ``p_value`` is two-sided.
    """

    metric: str
    better: Better
    candidate: float
    champion: float
    delta: float
    low: float
    high: float
    confidence: float
    p_better: float
    p_value: float
    test: Test
    n: int


def _level(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def _correct(values: ArrayLike, name: str) -> NDArray[np.bool_]:
    x = np.asarray(values).ravel()
    if x.size == 0:
        raise ValueError(f"{name} is empty: the gate needs a labelled evaluation set")
    if not np.isin(x, (0, 1)).all():
        raise ValueError(f"{name} must hold booleans (or 0/1): one per example, was it answered right")
    return x.astype(bool)


def mcnemar_exact(candidate_correct: ArrayLike, champion_correct: ArrayLike, *,
                  confidence: float = 0.9) -> PairedResult:
    """Paired accuracy: the exact McNemar test on the discordant examples.

    Only examples the models disagree on carry information: ``wins`` (the
    candidate right, the champion wrong) and ``losses`` (the reverse). Under
    "equally accurate" the wins are Binomial(wins + losses, 1/2), so
    ``scipy.stats.binomtest`` gives exact p-values, valid at every sample size.
    The interval for the accuracy gain is :func:`paired_proportion_interval`
    (Tango's score interval). No discordant example gives p-values of 1.
    Empty or unequal inputs raise ValueError.
    """
    cand, champ = _correct(candidate_correct, "candidate_correct"), _correct(champion_correct, "champion_correct")
    if cand.shape != champ.shape:
        raise ValueError(f"candidate_correct and champion_correct differ in length: {cand.size} vs {champ.size}")
    wins, losses, n = int((cand & ~champ).sum()), int((champ & ~cand).sum()), cand.size
    low, high = paired_proportion_interval(wins, losses, n, confidence=confidence)
    p_better = p_value = 1.0
    if wins + losses:
        p_value = float(stats.binomtest(wins, wins + losses).pvalue)
        p_better = float(stats.binomtest(wins, wins + losses, alternative="greater").pvalue)
    return PairedResult("accuracy", "higher", float(cand.mean()), float(champ.mean()), (wins - losses) / n,
                        low, high, confidence, p_better, p_value, "mcnemar-exact", n)


def paired_proportion_interval(wins: int, losses: int, n: int, *, confidence: float = 0.9) -> tuple[float, float]:
    """Tango's (1998) asymptotic score interval for the paired difference ``(wins - losses) / n``.

    It inverts the score test of "the gain is d" (nuisance parameter at its
    restricted maximum likelihood), so at d = 0 it is McNemar's test itself.
    Fagerland, Lydersen and Laake (2014, *Stat. Med.* 33:2850) recommend it:
    near-nominal coverage (the tests simulate it), sensible at 0 or n
    discordant pairs where Wald's collapses. Within [-1, 1], holding the
    estimate. Their example (6 wins, 16 losses, 161 pairs) gives -0.1240 to -0.0054:

    >>> paired_proportion_interval(6, 16, 161, confidence=0.95)
    (-0.1240..., -0.0054...)
    """
    if n < 1 or wins < 0 or losses < 0 or wins + losses > n:
        raise ValueError(f"need wins, losses >= 0 and wins + losses <= n >= 1, got {wins}, {losses}, {n}")
    z = float(stats.norm.ppf(0.5 + _level(confidence) / 2))
    estimate = (wins - losses) / n

    def score(d: float) -> float:
        return _tango_score(wins, losses, n, d)

    low = -1.0 if score(-1.0) <= z else optimize.brentq(lambda d: score(d) - z, -1.0, estimate, xtol=1e-13)
    high = 1.0 if score(1.0) >= -z else optimize.brentq(lambda d: score(d) + z, estimate, 1.0, xtol=1e-13)
    return (min(float(low), estimate), max(float(high), estimate))


def _tango_score(wins: int, losses: int, n: int, d: float) -> float:
    """Tango's score statistic for "gain = d" (his x12 = wins, x21 = losses); +-inf where its variance is 0."""
    a, b, c = 2.0 * n, -wins - losses + (2.0 * n - wins + losses) * d, -losses * d * (1.0 - d)
    q = (math.sqrt(max(b * b - 4.0 * a * c, 0.0)) - b) / (2.0 * a)  # restricted MLE of P(loss)
    variance, numerator = n * (2.0 * q + d * (1.0 - d)), wins - losses - n * d
    if variance > 0.0:
        return numerator / math.sqrt(variance)
    return 0.0 if numerator == 0.0 else math.copysign(math.inf, numerator)


# --------------------------------------------------------------------------- paired bootstrap


def paired_bootstrap(
    metric: str | MetricSpec, y_true: ArrayLike, candidate: ArrayLike, champion: ArrayLike,
    *, confidence: float = 0.9, n_resamples: int = 2000, seed: int = 0,
) -> PairedResult:
    """Any metric, paired: resample examples (the same ones for both models) and recompute the gain.

    Point values are scikit-learn's on the whole set. Each resample draws n
    example indices with replacement and takes ``sign * (metric(candidate) -
    metric(champion))``; the interval is the percentile interval of those
    gains, as ``scipy.stats.bootstrap(..., paired=True, method="percentile")``
    computes it (widened, if needed, to hold the estimate). Not BCa: its
    jackknife costs n metric evaluations (hopeless at 100,000 rows), and the
    percentile interval is dual to ``p_better = (1 + #{gain <= 0}) /
    (n_resamples + 1)``, the bootstrap's one-sided p-value of "no better": it is
    at most (1 - confidence) / 2 about when ``low > 0``. ``p_value`` is
    ``min(1, 2 * min(p_better, p_worse))``. 2,000 resamples leave 100 in each
    tail of a 90 % interval: the bound's Monte-Carlo noise is ~1/20 of its
    standard error. Same ``seed``, same result.

    Exact shortcuts replace scikit-learn inside resamples (tested against it
    to 1e-12): accuracy, precision, recall and f1 draw the joint confusion
    table from its multinomial (up to 10 labels; beyond, they count tables of
    resampled indices); mae, rmse, r2, log_loss and roc_auc gather
    per-example terms; a user's MetricSpec is called per resample. Macro
    averages keep the evaluation set's classes in every resample. A resample
    where the metric is undefined (roc_auc with one class) raises ValueError.
    """
    spec = metric_spec(metric) if isinstance(metric, str) else metric
    confidence = _level(confidence)
    y, cand, champ = _paired_arrays(y_true, candidate, champion)
    labels = np.unique(y) if spec.needs in ("labels", "probabilities") else None
    cand_value, champ_value = spec(y, cand, labels=labels), spec(y, champ, labels=labels)
    rng = np.random.default_rng(seed)
    gains = spec.sign * _resampled_differences(spec, y, cand, champ, labels, rng, n_resamples)
    if np.isnan(gains).any():
        raise ValueError(f"{spec.name} is undefined on {int(np.isnan(gains).sum())} of {n_resamples} resamples "
                         "(roc_auc without both classes, r2 with constant truth): the evaluation set is too "
                         "small or too lopsided for a bootstrap interval; give it more of its rarest class")
    delta = spec.sign * (cand_value - champ_value)
    return _summary(spec, cand_value, champ_value, delta, gains, confidence, y.size)


def _floats(values: Any) -> Floats:
    return np.asarray(values, dtype=np.float64)


def _paired_arrays(y_true: ArrayLike, candidate: ArrayLike, champion: ArrayLike) -> tuple[NDArray[Any], ...]:
    y, cand, champ = np.asarray(y_true), np.asarray(candidate), np.asarray(champion)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array, got shape {y.shape}")
    if cand.shape != champ.shape or cand.shape[:1] != y.shape:
        raise ValueError(f"y_true, candidate and champion differ in length: {y.shape}, {cand.shape}, {champ.shape}")
    if cand.dtype.kind == "f":
        cand, champ = cand.astype(np.float64), champ.astype(np.float64)
    return y, cand, champ


def _summary(spec: MetricSpec, cand: float, champ: float, delta: float, gains: Floats, confidence: float,
             n: int) -> PairedResult:
    tail = (1.0 - confidence) / 2.0
    low, high = (float(q) for q in np.quantile(gains, [tail, 1.0 - tail]))
    p_better = (1 + int(np.count_nonzero(gains <= 0.0))) / (gains.size + 1)
    p_worse = (1 + int(np.count_nonzero(gains >= 0.0))) / (gains.size + 1)
    return PairedResult(spec.name, spec.better, cand, champ, delta, min(low, delta), max(high, delta),
                        confidence, p_better, min(1.0, 2.0 * min(p_better, p_worse)), "paired-bootstrap", n)


def _resampled_differences(
    spec: MetricSpec, y: NDArray[Any], cand: NDArray[Any], champ: NDArray[Any],
    labels: NDArray[Any] | None, rng: np.random.Generator, n_resamples: int,
) -> Floats:
    """metric(candidate) - metric(champion) on each resample (raw direction)."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if _registered(spec) and spec.name in _TABLE_METRICS and labels is not None:
        codes, averaged = _coded(y, cand, champ, labels=labels)
        if averaged.size <= _MAX_TABLE_CLASSES:
            return _table_differences(spec.name, codes, averaged, rng, n_resamples)
    statistic = _row_statistic(spec, y, cand, champ, labels)
    n, out = y.size, np.empty(n_resamples)
    step = max(1, min(n_resamples, _CHUNK_ELEMENTS // n))
    for start in range(0, n_resamples, step):  # the draws of scipy.stats.bootstrap(batch=step)
        size = min(step, n_resamples - start)
        out[start : start + size] = statistic(rng.integers(0, n, (size, n)))
    return out


# The joint table of (truth, candidate, champion) over one resample is Multinomial(n, observed
# cell shares): drawing it directly is the same bootstrap distribution as resampling indices.
_TABLE_METRICS = ("accuracy", "precision", "recall", "f1")


def _registered(spec: MetricSpec) -> bool:
    """Only goldband's own specs get the shortcuts; a user's spec is called as it is."""
    return METRICS.get(spec.name) is spec


def _coded(*arrays: NDArray[Any], labels: NDArray[Any]) -> tuple[list[NDArray[np.intp]], NDArray[np.bool_]]:
    """Labels as codes 0..k-1, and which codes the metric averages over: 1 (binary) or the set's classes."""
    everything = np.unique(np.concatenate(arrays))
    averaged = everything == 1 if _is_binary(labels) else np.isin(everything, labels)
    return [np.searchsorted(everything, a) for a in arrays], np.asarray(averaged, dtype=bool)


def _table_differences(name: str, codes: list[NDArray[np.intp]], averaged: NDArray[np.bool_],
                       rng: np.random.Generator, n_resamples: int) -> Floats:
    (y, cand, champ), k = codes, averaged.size
    cells = np.bincount((y * k + cand) * k + champ, minlength=k**3)
    tables = rng.multinomial(y.size, cells / y.size, size=n_resamples).reshape(n_resamples, k, k, k)
    return _from_tables(name, tables.sum(axis=3), averaged) - _from_tables(name, tables.sum(axis=2), averaged)


def _confusion_statistic(name: str, codes: list[NDArray[np.intp]], averaged: NDArray[np.bool_]) -> RowStatistic:
    """The index-resampling twin of :func:`_table_differences`, for more labels than a joint table holds."""
    (y, cand, champ), k = codes, averaged.size
    pairs = (y * k + cand, y * k + champ)

    def statistic(idx: NDArray[np.intp]) -> Floats:
        offsets = k * k * np.arange(idx.shape[0])[:, None]
        tables = [np.bincount((code[idx] + offsets).ravel(), minlength=offsets.size * k * k) for code in pairs]
        first, second = (t.reshape(-1, k, k) for t in tables)
        return _from_tables(name, first, averaged) - _from_tables(name, second, averaged)

    return statistic


def _from_tables(name: str, tables: NDArray[np.int64], averaged: NDArray[np.bool_]) -> Floats:
    """The metric from confusion tables (resample, truth, prediction), dividing as scikit-learn does."""
    tp = np.diagonal(tables, axis1=1, axis2=2).astype(np.float64)
    if name == "accuracy":
        return _floats(tp.sum(axis=1) / tables.sum(axis=(1, 2)))
    if not averaged.any():  # binary, and no example is or is predicted class 1
        return np.zeros(tables.shape[0])
    truth, predicted = tables.sum(axis=2), tables.sum(axis=1)
    parts = {"precision": (tp, predicted), "recall": (tp, truth)}
    numerator, denominator = parts.get(name, (2 * tp, truth + predicted))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.where(denominator > 0, numerator / denominator, 0.0)  # zero_division=0
    return _floats(np.mean(per_class[:, averaged], axis=1))


def _row_statistic(
    spec: MetricSpec, y: NDArray[Any], cand: NDArray[Any], champ: NDArray[Any], labels: NDArray[Any] | None
) -> RowStatistic:
    """metric(cand) - metric(champ) for each row of a (resamples, n) index array."""
    if _registered(spec):
        if spec.name in _TABLE_METRICS and labels is not None:
            return _confusion_statistic(spec.name, *_coded(y, cand, champ, labels=labels))
        if spec.name in ("mae", "log_loss"):
            terms = _terms(spec.name, y, cand, labels) - _terms(spec.name, y, champ, labels)
            return lambda idx: np.mean(terms[idx], axis=1)
        if spec.name in ("rmse", "r2"):
            return _squared_error_statistic(spec.name, y, cand, champ)
        if spec.name == "roc_auc":
            auc_cand, auc_champ = _auc_statistic(y, cand), _auc_statistic(y, champ)
            return lambda idx: auc_cand(idx) - auc_champ(idx)

    def by_sklearn(idx: NDArray[np.intp]) -> Floats:
        return np.array([spec(y[i], cand[i], labels=labels) - spec(y[i], champ[i], labels=labels) for i in idx])

    return by_sklearn


def _terms(name: str, y: NDArray[Any], pred: NDArray[Any], labels: NDArray[Any] | None) -> Floats:
    """Per-example absolute error, or log loss exactly as scikit-learn clips and sums it."""
    if name == "mae":
        return _floats(np.abs(y.astype(np.float64) - pred))
    proba = np.stack([1.0 - pred, pred], axis=1) if pred.ndim == 1 else pred
    eps = np.finfo(proba.dtype).eps
    column = np.searchsorted(np.asarray(labels), y)
    return _floats(-np.log(np.clip(proba[np.arange(y.size), column], eps, 1.0 - eps)))


def _squared_error_statistic(name: str, y: NDArray[Any], cand: NDArray[Any], champ: NDArray[Any]) -> RowStatistic:
    truth = y.astype(np.float64)
    cand_squares, champ_squares = (truth - cand) ** 2, (truth - champ) ** 2
    if name == "rmse":
        return lambda idx: _floats(np.sqrt(np.mean(cand_squares[idx], 1)) - np.sqrt(np.mean(champ_squares[idx], 1)))
    centred, gain = truth - truth.mean(), champ_squares - cand_squares

    def r2_difference(idx: NDArray[np.intp]) -> Floats:
        sampled = centred[idx]  # total sum of squares, shifted by the full mean for accuracy
        total = np.einsum("ij,ij->i", sampled, sampled) - np.sum(sampled, axis=1) ** 2 / idx.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):  # constant truth: r2 undefined, NaN
            return _floats(np.where(total > 0, np.sum(gain[idx], axis=1) / total, np.nan))

    return r2_difference


def _auc_statistic(y: NDArray[Any], score: NDArray[Any]) -> RowStatistic:
    """ROC AUC of resamples: per tied-score group, count positives and negatives; ties count 1/2."""
    groups = np.unique(score, return_inverse=True)[1].ravel()
    width = int(groups.max()) + 1
    code = groups + width * (y == y.max())

    def statistic(idx: NDArray[np.intp]) -> Floats:
        rows = idx.shape[0]
        counts = np.bincount((code[idx] + 2 * width * np.arange(rows)[:, None]).ravel(), minlength=2 * width * rows)
        negative, positive = counts.reshape(rows, 2, width).transpose(1, 0, 2)
        below_twice = 2 * np.cumsum(negative, axis=1) - negative  # 2 * (lower negatives + half the tied ones)
        pairs = np.sum(positive, axis=1) * np.sum(negative, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _floats(np.where(pairs > 0, np.einsum("ij,ij->i", positive, below_twice) / (2.0 * pairs), np.nan))

    return statistic


# --------------------------------------------------------------------------- the decision


@dataclass(frozen=True, slots=True)
class MetricRule:
    """What the gate asks of one metric; values are in the metric's own units and good direction.

    ``floor``: the candidate's value must be at least this (at most, for a
    loss). ``margin``: non-inferiority, the gain's lower bound must be >=
    ``-margin``; the default 0 is strict (it asks for evidence of *no loss at
    all*, which equal models show only about (1 - confidence) / 2 of the
    time), so give secondary metrics the loss you can live with, e.g. 0.01.
    ``min_improvement``: the primary metric only, under policy "superior":
    the gain's lower bound must exceed it. Negative values are a ConfigError.
    """

    name: str
    floor: float | None = None
    margin: float = 0.0
    min_improvement: float = 0.0

    def __post_init__(self) -> None:
        for knob in ("margin", "min_improvement"):
            value = getattr(self, knob)
            if not (math.isfinite(value) and value >= 0.0):
                raise ConfigError(f"{knob} is {value!r}", where=f"gate rule '{self.name}'",
                                  expected="a number >= 0, in the metric's units")


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Promote or park: ``passed``, one sentence per check in ``reasons``, the blocking ones in ``failures``."""

    passed: bool
    reasons: tuple[str, ...]
    failures: tuple[str, ...]
    results: tuple[PairedResult, ...]
    primary: str
    policy: Policy


def decide(results: Iterable[PairedResult], rules: Iterable[MetricRule] = (), *, primary: str,
           policy: Policy = "superior") -> GateDecision:
    """Does the candidate replace the champion? Every check must pass.

    Both policies check each rule's ``floor`` and that every metric other
    than the primary is non-inferior (a metric without a rule gets
    ``MetricRule(name)``). Policy ``"superior"`` (default) also requires the
    primary metric to be *significantly better*: its one-sided ``p_better`` at
    most (1 - confidence) / 2 **and** its gain's lower bound above
    ``min_improvement``. Under ``"non_inferior"`` the primary is held to its
    margin like the rest. So with two equally good models, "superior" promotes
    at most (1 - confidence) / 2 of the time (5 % at the default 0.9): exactly
    so with :func:`mcnemar_exact` (an exact test, conservative), up to the
    bootstrap's approximation with :func:`paired_bootstrap`; floors and margins
    only lower that rate (the tests simulate both). Against a true gain of
    exactly ``min_improvement`` > 0 the rate is the interval's one-sided miss
    rate, nominal up to the method's approximation. A NaN bound never passes.
    A rule or primary with no result, two results for one metric, or
    ``min_improvement`` on a secondary metric raise ConfigError.
    """
    results = tuple(results)
    by_metric = {result.metric: result for result in results}
    if len(by_metric) < len(results):
        raise ConfigError("two results for one metric", expected="one result per metric")
    named = _rules(rules, by_metric, primary)
    checks: list[tuple[bool, str]] = []
    for name in sorted(by_metric, key=lambda metric: metric != primary):
        result, rule = by_metric[name], named.get(name, MetricRule(name))
        if rule.floor is not None:
            checks.append(_floor(result, rule.floor))
        superior = policy == "superior" and name == primary
        checks.append(_superiority(result, rule) if superior else _non_inferiority(result, rule))
    failures = tuple(reason for ok, reason in checks if not ok)
    return GateDecision(not failures, tuple(r for _, r in checks), failures, tuple(by_metric.values()), primary, policy)


def _rules(rules: Iterable[MetricRule], by_metric: Mapping[str, PairedResult], primary: str) -> dict[str, MetricRule]:
    named = {rule.name: rule for rule in rules}
    for name in sorted({primary, *named} - set(by_metric)):
        raise ConfigError(f"the gate has no result for metric '{name}'",
                          expected="a result for the primary metric and every rule: " + ", ".join(by_metric))
    for rule in named.values():
        if rule.min_improvement and rule.name != primary:
            raise ConfigError(f"min_improvement is set on '{rule.name}', which is not the primary metric '{primary}'",
                              where=f"gate rule '{rule.name}'", fix="use margin for secondary metrics")
    return named


def _floor(result: PairedResult, floor: float) -> tuple[bool, str]:
    return floor_check(result.metric, result.better, result.candidate, floor)


def floor_check(metric: str, better: Better, value: float, floor: float) -> tuple[bool, str]:
    """Whether ``value`` clears ``floor`` in the metric's good direction, and the sentence that says so.

    >>> floor_check("log_loss", "lower", 0.47, 0.45)
    (False, 'log_loss: candidate 0.47 is above the floor 0.45')
    """
    higher = better == "higher"
    ok = value >= floor if higher else value <= floor
    verdict = "clears" if ok else ("is below" if higher else "is above")
    return ok, f"{metric}: candidate {_num(value)} {verdict} the floor {_num(floor)}"


def _superiority(result: PairedResult, rule: MetricRule) -> tuple[bool, str]:
    alpha = round((1.0 - result.confidence) / 2.0, 12)  # 0.05 at 0.9, not 0.04999999999999999
    significant, clears = result.p_better <= alpha, result.low > rule.min_improvement
    evidence = f"one-sided p {_num(result.p_better)}, min improvement {_num(rule.min_improvement)}"
    if significant and clears:
        return True, f"{_comparison(result)}: significantly better ({evidence})"
    why = [f"p {_num(result.p_better)} > {_num(alpha)}"] if not significant else []
    why += [] if clears else [f"lower bound {_signed(result.low)} <= min improvement {_num(rule.min_improvement)}"]
    return False, f"{_comparison(result)}: not significantly better ({'; '.join(why)})"


def _non_inferiority(result: PairedResult, rule: MetricRule) -> tuple[bool, str]:
    if result.low >= -rule.margin:
        return True, f"{_comparison(result)}: non-inferior (margin {_num(rule.margin)})"
    return False, (f"{_comparison(result)}: may be worse by more than the margin {_num(rule.margin)} "
                   f"(lower bound {_signed(result.low)} < {_signed(-rule.margin)})")


def _comparison(result: PairedResult) -> str:
    direction = "" if result.better == "higher" else " (lower is better)"
    return (f"{result.metric}: candidate {_num(result.candidate)} vs champion {_num(result.champion)}{direction}, "
            f"{_signed(result.delta)} [{_signed(result.low)}, {_signed(result.high)}] at {result.confidence:.0%}")


def _num(x: float) -> str:
    """Three significant digits; whole numbers from 1,000 on (an RMSE in dollars)."""
    return f"{x:.3g}" if abs(x) < 1000 or not math.isfinite(x) else f"{x:.0f}"


def _signed(x: float) -> str:
    return ("+" if x >= 0 else "") + _num(x)
