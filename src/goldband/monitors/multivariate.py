"""Multivariate drift: tests of the joint distribution of all features at once.

Per-feature tests (KS, chi-square, ...) compare marginals. Two features whose
correlation flips while each keeps its distribution, or a combination of
categories never seen together in the reference, leave every marginal as it
was; these tests see them.

Both detectors encode the features the same way (``Encoder``, fitted on the
reference): a numeric feature has its missing values imputed with the
reference mean and is standardised with the reference's mean and standard
deviation; a categorical feature is one-hot encoded over its reference levels
with at least 1 % of the rows (at most 20, missing counted as a level; the
most frequent level is the baseline and gets no column, so the columns are not
collinear), plus one ``other`` column for rarer levels and levels never seen
in the reference; every column is then standardised.

``ReconstructionDrift`` (NannyML's data reconstruction drift [1]): a PCA fitted
on the encoded reference keeps the fewest components that explain at least
``variance`` (0.65) of its variance; a row's reconstruction error is the
Euclidean distance between it and its projection back from those components.
Rows that follow the reference's correlations reconstruct well; rows that break
them do not. The encoder and the PCA are fitted on a seeded half of the
reference; the window's mean error is compared with the **other half's**
errors with **Welch's t-test** (``scipy.stats.ttest_ind``, ``equal_var=False``),
so both samples are errors of one fixed model on data it never saw. The test
is **one-sided**: only a rise is drift. Broken correlations raise the error; a
fall means the window sits closer to the reference's main directions (a
feature stuck at a constant, say), which the per-feature tests see, and
flagging it too would double the false alarms for no new finding. The effect
size is the relative rise of the mean error, ``window / reference - 1``
(negative for a fall). NannyML instead alerts when a chunk's mean error
leaves the reference chunks' mean +- 3 standard deviations, with the PCA
fitted on the whole reference and the reference chunks scored in-sample; that
rule has no stated false-alarm rate, ours has ``alpha`` (measured in
docs/bench-multivariate.md). ``reconstruction_errors`` gives NannyML's
per-row errors, for comparison.

``MMDDrift``: the kernel two-sample test of Gretton et al. [2] with the RBF
kernel ``exp(-|x - y|^2 / (2 s^2))``, ``s`` the median distance between
reference rows (the median heuristic), the unbiased estimate of MMD^2 as the
statistic and effect size, and a **permutation p-value**
``(1 + #{permuted >= observed}) / (1 + permutations)`` (exact at any sample
size, Phipson and Smyth 2010 [3]). The encoder and ``s`` are fitted on
reference rows the test does not use, so the kernel is one fixed function for
reference and window rows alike, which exactness needs (fitted on the tested
rows, 7.5-10 % of unchanged windows had p < 0.05). For a bounded cost both
samples are subsampled to at most ``max_rows`` rows (default 500 each, and at
most half the reference; seeded), so a window of 5,000 rows is tested on 500
of them: time is bounded, power is that of 500 rows.

``drifted`` needs ``p < alpha`` **and** ``effect >= min_effect``, as for every
batch test: with huge windows a negligible change is significant.

Deterministic given ``seed``. No I/O.

[1] https://nannyml.readthedocs.io/en/stable/how_it_works/multivariate_drift.html
[2] Gretton, Borgwardt, Rasch, Schoelkopf, Smola, "A kernel two-sample test", JMLR 13 (2012).
[3] Phipson, Smyth, "Permutation p-values should never be zero", Stat. Appl. Genet. Mol. Biol. 9 (2010).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from goldband.errors import MonitorError
from goldband.monitors.result import check_knobs

if TYPE_CHECKING:
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float64]
    Floats = npt.NDArray[np.float64]

__all__ = ["DEFAULT_MIN_EFFECT", "MIN_FEATURES", "MIN_ROWS", "Encoder", "MMDDrift", "MultivariateResult",
           "ReconstructionDrift", "mmd", "reconstruction_drift",
           "reconstruction_errors", "unfit_reason"]

MIN_FEATURES = 2  # a joint test of one feature is the per-feature test
MIN_ROWS = 20  # per sample: below this the tests are skipped (undefined), not guessed
MAX_LEVELS = 20
MIN_LEVEL_SHARE = 0.01
# Relative rise of the mean reconstruction error (pca); MMD^2 (mmd). With them an unchanged 500-row
# window of 20 features is flagged about 1 % of the time (p alone: 5 %), bench/bench_multivariate.py.
DEFAULT_MIN_EFFECT = {"pca": 0.04, "mmd": 0.002}

Columns = Mapping[str, Any]  # feature -> float array (NaN missing) or list of category keys (None missing)


@dataclass(frozen=True)
class MultivariateResult:
    """One joint test of a window against the reference.

    ``statistic`` is the window's mean reconstruction error (pca) or MMD^2
    (mmd); ``expected`` the reference's value of the same (its mean
    held-out error; 0 for MMD^2) and ``spread`` the standard deviation of a
    window's value under no drift (pca: the reference errors' sd / sqrt(n);
    mmd: of the permuted statistics). NaN and ``drifted=False`` when the test
    is undefined (``detail`` says why).
    """

    test: str
    statistic: float
    p_value: float
    effect_size: float
    drifted: bool
    detail: str
    n: int
    expected: float = math.nan
    spread: float = math.nan

    @property
    def defined(self) -> bool:
        return math.isfinite(self.p_value)


def undefined(test: str, why: str, n: int = 0) -> MultivariateResult:
    """The result for input the test cannot judge (too few rows or features)."""
    return MultivariateResult(test, math.nan, math.nan, math.nan, False, f"undefined: {why}", n)


def _decide(test: str, statistic: float, p: float, effect: float, *, alpha: float, min_effect: float,
            detail: str, n: int, expected: float, spread: float) -> MultivariateResult:
    drifted = p < alpha and effect >= min_effect
    verdict = ("drifted" if drifted else f"no drift: p {p:.3g} >= alpha {alpha:g}" if p >= alpha
               else f"no drift: effect {effect:.4g} < min_effect {min_effect:g}")
    return MultivariateResult(test, float(statistic), float(p), float(effect), bool(drifted),
                              f"{detail}; {verdict}", n, float(expected), float(spread))


# -- encoding -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Categorical:
    name: str
    baseline: str | None  # the most frequent reference level: no column (all zeros)
    levels: tuple[str | None, ...]  # one column each, then one ``other`` column


@dataclass(frozen=True)
class Encoder:
    """Columns of features -> a standardised numeric matrix, fitted on the reference."""

    numeric: tuple[str, ...]
    categorical: tuple[_Categorical, ...]
    means: Floats  # per output column: numeric means first, then the one-hot columns
    scales: Floats

    @classmethod
    def fit(cls, reference: Columns) -> Encoder:
        numeric = tuple(n for n, v in reference.items() if _is_numeric(v))
        cats = tuple(_Categorical(n, *_levels(list(v))) for n, v in reference.items() if not _is_numeric(v))
        raw_means = np.array([_nanmean(np.asarray(reference[n], dtype=np.float64)) for n in numeric])
        raw = _raw(reference, numeric, cats, raw_means)
        scales = raw.std(axis=0)
        scales[~(scales > 1e-12)] = 1.0  # a constant column: any change shows as its raw size
        return cls(numeric, cats, raw.mean(axis=0), scales)

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + tuple(c.name for c in self.categorical)

    def transform(self, columns: Columns) -> Matrix:
        missing = [n for n in self.features if n not in columns]
        if missing:
            raise MonitorError(f"feature {missing[0]!r} of the reference is not in the window",
                               where="multivariate drift", expected=f"the features {', '.join(self.features)}")
        raw = _raw(columns, self.numeric, self.categorical, self.means[:len(self.numeric)])
        out: Matrix = (raw - self.means) / self.scales
        return out


def _is_numeric(values: Any) -> bool:
    return isinstance(values, np.ndarray) and values.dtype.kind == "f"


def _nanmean(values: Floats) -> float:
    present = values[~np.isnan(values)]
    return float(present.mean()) if len(present) else 0.0


def _levels(values: list[str | None]) -> tuple[str | None, tuple[str | None, ...]]:
    """The baseline (most frequent) level, and the other levels frequent enough to get a column."""
    counts = Counter(values).most_common(MAX_LEVELS + 1)
    kept = [level for level, c in counts if c >= MIN_LEVEL_SHARE * len(values)][:MAX_LEVELS]
    return (kept[0] if kept else None), tuple(kept[1:])


def _raw(columns: Columns, numeric: tuple[str, ...], cats: tuple[_Categorical, ...], fill: Floats) -> Matrix:
    n = _length(columns, numeric, cats)
    parts = []
    for i, name in enumerate(numeric):
        values = np.asarray(columns[name], dtype=np.float64)
        parts.append(np.where(np.isnan(values), fill[i], values)[:, None])
    for cat in cats:
        parts.append(_one_hot(list(columns[cat.name]), cat, n))
    return np.hstack(parts) if parts else np.empty((n, 0))


def _length(columns: Columns, numeric: tuple[str, ...], cats: tuple[_Categorical, ...]) -> int:
    sizes = {name: len(columns[name]) for name in (*numeric, *(c.name for c in cats))}
    if len(set(sizes.values())) > 1:
        raise MonitorError(f"the feature columns have different lengths ({sizes})", where="multivariate drift",
                           expected="one value per row in every column")
    return next(iter(sizes.values()), 0)


def _one_hot(values: list[str | None], cat: _Categorical, n: int) -> Matrix:
    """One column per kept level, then ``other`` (rare and unseen levels); the baseline is all zeros."""
    index: dict[str | None, int] = {level: i for i, level in enumerate(cat.levels)}
    index[cat.baseline] = -1
    other = len(cat.levels)
    codes = np.array([index.get(v, other) for v in values], dtype=np.intp)
    out = np.zeros((n, len(cat.levels) + 1))
    hit = codes >= 0
    out[np.nonzero(hit)[0], codes[hit]] = 1.0
    return out


def _as_columns(data: Any, *, name: str) -> Columns:
    """A mapping of feature columns as given, or the columns ``x0, x1, ...`` of a 2-D numeric array."""
    if isinstance(data, Mapping):
        return {k: (np.asarray(v, dtype=np.float64) if _numbers(v) else list(v)) for k, v in data.items()}
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise MonitorError(f"the {name} sample is neither a mapping of columns nor numeric", where="multivariate drift",
                           expected="{feature: values} or a 2-D array of numbers (rows x features)") from None
    if arr.ndim != 2:
        raise MonitorError(f"the {name} sample has shape {arr.shape}", where="multivariate drift",
                           expected="a 2-D array (rows x features)")
    return {f"x{i}": arr[:, i] for i in range(arr.shape[1])}


def _numbers(values: Any) -> bool:
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "fiub"
    return all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values) and \
        any(v is not None for v in values)


def unfit_reason(reference: Columns) -> str:
    """Why a joint test cannot be fitted on ``reference`` ('' when it can)."""
    if len(reference) < MIN_FEATURES:
        return (f"the reference has {len(reference)} feature{'s' * (len(reference) != 1)}; a joint test needs at "
                f"least {MIN_FEATURES} (the per-feature tests cover one)")
    rows = len(next(iter(reference.values())))
    if rows < MIN_ROWS * 2:
        return f"the reference has {rows} rows; a joint test needs at least {MIN_ROWS * 2}"
    return ""


def _fit_check(reference: Columns, test: str) -> None:
    if why := unfit_reason(reference):
        raise MonitorError(why, where=f"{test}()", expected=f"at least {MIN_FEATURES} features and "
                           f"{MIN_ROWS * 2} rows", fix="leave the joint test off for this model")


def _window_check(n: int) -> str:
    return f"the window has {n} rows; a joint test needs at least {MIN_ROWS}" if n < MIN_ROWS else ""


# -- PCA reconstruction error ----------------------------------------------------------------


@dataclass(frozen=True)
class ReconstructionDrift:
    """PCA reconstruction error of windows against a reference (fit once, test many windows).

    Split, not cross-fitted: the encoder and the PCA are fitted on half of the
    reference (seeded), and the other half gives the reference's errors. Under
    no drift, a window row and a held-out reference row are then draws from
    the same distribution of errors of one fixed model, which is what Welch's
    test needs. (Out-of-fold errors of 5-fold cross-fitting were overdispersed,
    a known property of cross-validation estimates, and standardising on the
    whole reference biased them upward: in a simulation while building this
    (20 features, 3,000 rows) 21 % of 100 references were more than 1.96
    standard errors off the population's mean error. With the split the
    p-values are calibrated: docs/bench-multivariate.md.)
    """

    encoder: Encoder
    centre: Floats
    components: Matrix  # k x d, orthonormal rows
    reference_errors: Floats  # the held-out half's errors
    explained: float  # share of the fitted half's variance the components explain

    @classmethod
    def fit(cls, reference: Any, *, variance: float = 0.65, seed: int = 0) -> ReconstructionDrift:
        """Fit the encoder and the PCA (fewest components explaining ``variance``) on half; score the other half."""
        if not 0.0 < variance < 1.0:
            raise MonitorError(f"variance={variance!r}", where="reconstruction_drift()", expected="a number in (0, 1)")
        columns = _as_columns(reference, name="reference")
        _fit_check(columns, "reconstruction_drift")
        order = np.random.default_rng(seed).permutation(_length(columns, tuple(columns), ()))
        fitted, held = _take(columns, order[: len(order) // 2]), _take(columns, order[len(order) // 2:])
        encoder = Encoder.fit(fitted)
        centre, vt, ratio = _pca(encoder.transform(fitted))
        k = _n_components(ratio, variance)
        return cls(encoder, centre, vt[:k], _errors(encoder.transform(held), centre, vt[:k]), float(ratio[:k].sum()))

    def errors(self, current: Any) -> Floats:
        """The reconstruction error of every row of ``current``."""
        return _errors(self.encoder.transform(_as_columns(current, name="current")), self.centre, self.components)

    def test(self, current: Any, *, alpha: float = 0.05,
             min_effect: float = DEFAULT_MIN_EFFECT["pca"]) -> MultivariateResult:
        """Welch's t-test (one-sided: a rise) of the window's errors against the held-out reference errors."""
        check_knobs("reconstruction_drift", alpha=alpha, min_effect=min_effect)
        err = self.errors(current)
        if why := _window_check(len(err)):
            return undefined("pca", why, len(err))
        ref = self.reference_errors
        expected, mean = float(ref.mean()), float(err.mean())
        t, p = welch_greater(err, ref)
        if not math.isfinite(float(p)) or expected <= 0.0:
            return undefined("pca", "the reconstruction errors do not vary (constant data)", len(err))
        detail = (f"mean error {mean:.4g} vs {expected:.4g} (held-out reference), t={float(t):.3g}, "
                  f"{len(self.components)} components explain {self.explained:.0%}, n_ref={len(ref)}, n_cur={len(err)}")
        return _decide("pca", mean, float(p), mean / expected - 1.0, alpha=alpha, min_effect=min_effect,
                       detail=detail, n=len(err), expected=expected,
                       spread=float(ref.std(ddof=1) / math.sqrt(len(err))))


def welch_greater(a: Floats, b: Floats) -> tuple[float, float]:
    """Welch's t and its one-sided p-value for ``mean(a) > mean(b)``: ``scipy.stats.ttest_ind(a, b,
    equal_var=False, alternative="greater")`` in closed form (tests/monitors/test_multivariate.py), so a window's
    test does not import ``scipy.stats`` (a second) for one t distribution tail from ``scipy.special``.

    Identical rows in ``a`` (all missing, say) are legal: the reference's variance carries ``t``; NaN when
    neither varies.
    """
    from scipy import special

    n1, n2 = len(a), len(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        v1, v2 = float(np.var(a, ddof=1)) / n1, float(np.var(b, ddof=1)) / n2
        # as scipy: squares of tiny variances underflow to 0/0, and an undefined df is 1 (it cannot matter then)
        df = float(np.divide((v1 + v2) ** 2, v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1)))
        t = float(np.divide(float(np.mean(a)) - float(np.mean(b)), math.sqrt(v1 + v2)))
    return t, float(special.stdtr(1.0 if math.isnan(df) else df, -t))


def reconstruction_errors(reference: Any, current: Any, *, variance: float = 0.65) -> Floats:
    """NannyML's per-row errors: encoder and PCA fitted on the **whole** reference (for comparison, no test)."""
    columns = _as_columns(reference, name="reference")
    _fit_check(columns, "reconstruction_errors")
    encoder = Encoder.fit(columns)
    centre, vt, ratio = _pca(encoder.transform(columns))
    k = _n_components(ratio, variance)
    return _errors(encoder.transform(_as_columns(current, name="current")), centre, vt[:k])


def reconstruction_drift(reference: Any, current: Any, *, variance: float = 0.65, alpha: float = 0.05,
                         min_effect: float = DEFAULT_MIN_EFFECT["pca"], seed: int = 0) -> MultivariateResult:
    """``ReconstructionDrift.fit(reference).test(current)``: one window; fit once for many.

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(1000, 1)); b = rng.normal(size=(1000, 1))
    >>> ref = np.hstack([a, a + 0.3 * b])              # two correlated features
    >>> flipped = np.hstack([a[:500], -a[:500] + 0.3 * b[:500]])  # same marginals, correlation flipped
    >>> reconstruction_drift(ref, flipped).drifted, reconstruction_drift(ref, ref[500:]).drifted
    (True, False)
    """
    return ReconstructionDrift.fit(reference, variance=variance, seed=seed).test(current, alpha=alpha,
                                                                                 min_effect=min_effect)


def _pca(z: Matrix) -> tuple[Floats, Matrix, Floats]:
    """Centre, principal axes (rows) and explained-variance ratios of ``z``."""
    centre = z.mean(axis=0)
    _, s, vt = np.linalg.svd(z - centre, full_matrices=False)
    var = s**2
    total = float(var.sum())
    ratio = var / total if total > 0 else np.zeros_like(var)
    return centre, vt, ratio


def _n_components(ratio: Floats, variance: float) -> int:
    """scikit-learn's rule for a float ``n_components``, capped at d - 1 so some residual is left to measure."""
    k = int(np.searchsorted(np.cumsum(ratio), variance, side="right")) + 1
    return max(1, min(k, len(ratio) - 1))


def _errors(z: Matrix, centre: Floats, components: Matrix) -> Floats:
    r = z - centre
    out: Floats = np.linalg.norm(r - (r @ components.T) @ components, axis=1)
    return out


def _take(columns: Columns, rows: npt.NDArray[np.intp]) -> Columns:
    return {k: (v[rows] if isinstance(v, np.ndarray) else [v[i] for i in rows]) for k, v in columns.items()}


# -- kernel MMD with a permutation p-value -----------------------------------------------------


@dataclass(frozen=True)
class MMDDrift:
    """Kernel maximum mean discrepancy of windows against a (subsampled) reference.

    The encoder and the kernel width are fitted on reference rows that are
    **not** among the rows the test uses, so the kernel is a fixed function
    that treats reference and window rows alike: what the permutation
    p-value needs to be exact.
    """

    encoder: Encoder
    reference: Matrix  # the encoded reference rows used, at most ``max_rows``
    bandwidth: float  # the RBF kernel's s: the median distance between reference rows
    max_rows: int
    reference_kernel: Matrix  # the reference rows' kernel block, computed once

    @classmethod
    def fit(cls, reference: Any, *, max_rows: int = 500, seed: int = 0) -> MMDDrift:
        """Keep at most ``max_rows`` rows (at most half, seeded) to test with; fit encoder and width on the rest."""
        if not (isinstance(max_rows, int) and max_rows >= MIN_ROWS):
            raise MonitorError(f"max_rows={max_rows!r}", where="mmd()", expected=f"an integer >= {MIN_ROWS}")
        columns = _as_columns(reference, name="reference")
        _fit_check(columns, "mmd")
        rng = np.random.default_rng(seed)
        order = rng.permutation(_length(columns, tuple(columns), ()))
        used = min(max_rows, len(order) // 2)
        encoder = Encoder.fit(_take(columns, order[used:]))
        z = encoder.transform(_take(columns, np.sort(order[:used])))
        rest = _subsample(encoder.transform(_take(columns, order[used:])), max_rows, rng)
        bandwidth = _median_distance(rest)
        return cls(encoder, z, bandwidth, max_rows, _rbf(z, z, bandwidth))

    def test(self, current: Any, *, alpha: float = 0.05, min_effect: float = DEFAULT_MIN_EFFECT["mmd"],
             permutations: int = 200, seed: int = 0) -> MultivariateResult:
        """Unbiased MMD^2 of (a subsample of) ``current`` against the reference, and its permutation p-value."""
        check_knobs("mmd", alpha=alpha, min_effect=min_effect)
        if not (isinstance(permutations, int) and permutations >= 19):
            raise MonitorError(f"permutations={permutations!r}", where="mmd()",
                               expected="an integer >= 19 (p-values down to 0.05)")
        rng = np.random.default_rng(seed)
        cur = self.encoder.transform(_as_columns(current, name="current"))
        if why := _window_check(len(cur)):
            return undefined("mmd", why, len(cur))
        used = _subsample(cur, self.max_rows, rng)
        between = _rbf(self.reference, used, self.bandwidth)
        kernel = np.block([[self.reference_kernel, between], [between.T, _rbf(used, used, self.bandwidth)]])
        observed, permuted = _mmd_permutations(kernel, len(self.reference), permutations, rng)
        p = (1.0 + float((permuted >= observed).sum())) / (1.0 + permutations)
        detail = (f"MMD^2={observed:.4g} (RBF, s={self.bandwidth:.3g}), p={p:.3g} ({permutations} permutations), "
                  f"n_ref={len(self.reference)}, n_cur={len(used)} of {len(cur)}")
        return _decide("mmd", observed, p, observed, alpha=alpha, min_effect=min_effect, detail=detail, n=len(cur),
                       expected=0.0, spread=float(permuted.std(ddof=1)))


def mmd(reference: Any, current: Any, *, alpha: float = 0.05, min_effect: float = DEFAULT_MIN_EFFECT["mmd"],
        permutations: int = 200, max_rows: int = 500, seed: int = 0) -> MultivariateResult:
    """``MMDDrift.fit(reference).test(current)``: one window; fit once for many.

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(1000, 1)); b = rng.normal(size=(1000, 1))
    >>> ref = np.hstack([a, a + 0.3 * b])
    >>> flipped = np.hstack([a[:500], -a[:500] + 0.3 * b[:500]])
    >>> mmd(ref, flipped).drifted, mmd(ref, ref[500:]).drifted
    (True, False)
    """
    return MMDDrift.fit(reference, max_rows=max_rows, seed=seed).test(
        current, alpha=alpha, min_effect=min_effect, permutations=permutations, seed=seed)


def _subsample(z: Matrix, max_rows: int, rng: np.random.Generator) -> Matrix:
    if len(z) <= max_rows:
        return z
    out: Matrix = z[np.sort(rng.choice(len(z), size=max_rows, replace=False))]
    return out


def _squared_distances(x: Matrix, y: Matrix) -> Matrix:
    """``|x_i - y_j|^2`` for every pair, in place where it can (the kernels are the cost of a test)."""
    d2: Matrix = x @ y.T
    d2 *= -2.0
    d2 += (x * x).sum(axis=1)[:, None]
    d2 += (y * y).sum(axis=1)[None, :]
    np.maximum(d2, 0.0, out=d2)
    return d2


def _median_distance(z: Matrix) -> float:
    d2 = _squared_distances(z, z)
    upper = d2[np.triu_indices(len(z), k=1)]
    positive = upper[upper > 0]
    return float(np.sqrt(np.median(positive))) if len(positive) else 1.0


def _rbf(x: Matrix, y: Matrix, bandwidth: float) -> Matrix:
    k = _squared_distances(x, y)
    k *= -1.0 / (2.0 * bandwidth**2)
    np.exp(k, out=k)
    return k


def _mmd_permutations(kernel: Matrix, n: int, permutations: int, rng: np.random.Generator) -> tuple[float, Floats]:
    """Unbiased MMD^2 of the split (first ``n`` rows | the rest), and of ``permutations`` random splits.

    Every split's within- and between-block sums come from one product
    ``K @ A`` (A: one 0/1 membership column per split), so the permutations
    cost one matrix product instead of a loop.
    """
    total_n = len(kernel)
    m = total_n - n
    members = np.zeros((total_n, permutations + 1))
    members[:n, 0] = 1.0
    picks = rng.random((permutations, total_n)).argpartition(n, axis=1)[:, :n]
    members[picks.T, np.arange(1, permutations + 1)] = 1.0
    ka = kernel @ members
    s_xx = (members * ka).sum(axis=0)
    s_xy = ((1.0 - members) * ka).sum(axis=0)
    s_yy = float(kernel.sum()) - 2.0 * s_xy - s_xx
    trace_x = members.T @ np.diag(kernel)  # diagonal terms, left out of the unbiased estimate
    trace_y = float(np.trace(kernel)) - trace_x
    stat = (s_xx - trace_x) / (n * (n - 1)) + (s_yy - trace_y) / (m * (m - 1)) - 2.0 * s_xy / (n * m)
    return float(stat[0]), stat[1:]
