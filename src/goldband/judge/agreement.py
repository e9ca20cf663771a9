"""Agreement between the judge and human labels (pure functions).

Cohen's kappa corrects raw agreement for the agreement two raters would reach by
chance; on an ordinal scale (1-5) the weighted kappa also counts a near miss (4 vs 5)
as better than a far one (1 vs 5). With observed counts ``O``, chance counts ``E``
(outer product of the marginals over n) and disagreement weights ``W``::

    kappa = 1 - sum(W * O) / sum(W * E)

``W`` is 0 on the diagonal and 1 elsewhere (unweighted), ``|i - j| / (k - 1)``
(linear) or ``((i - j) / (k - 1)) ** 2`` (quadratic), for category positions i, j in
``labels``. Undefined input gives NaN, and says so: no pairs, or chance disagreement
of zero (both raters used a single category), where kappa is 0/0.

>>> round(cohen_kappa([1, 1, 2, 2], [1, 2, 2, 2]), 4)
0.5
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Literal

Weights = Literal["linear", "quadratic"] | None


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable], *, labels: Sequence[Hashable] | None = None,
                weights: Weights = None) -> float:
    """Cohen's kappa of two raters' labels for the same items; NaN where undefined."""
    if len(a) != len(b):
        raise ValueError(f"two raters must label the same items: {len(a)} != {len(b)} labels")
    cats = list(labels) if labels is not None else sorted(set(a) | set(b), key=repr)
    index = {c: i for i, c in enumerate(cats)}
    missing = sorted({repr(x) for x in [*a, *b] if x not in index})
    if missing:
        raise ValueError(f"labels {', '.join(missing)} are not among the categories {cats!r}")
    n, k = len(a), len(cats)
    if n == 0:
        return math.nan
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b, strict=True):
        observed[index[x]][index[y]] += 1
    rows = [sum(r) for r in observed]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    w = _weights(k, weights)
    seen = sum(w[i][j] * observed[i][j] for i in range(k) for j in range(k))
    chance = sum(w[i][j] * rows[i] * cols[j] / n for i in range(k) for j in range(k))
    return math.nan if chance == 0 else 1 - seen / chance


def _weights(k: int, kind: Weights) -> list[list[float]]:
    def w(i: int, j: int) -> float:
        if kind is None:
            return 0.0 if i == j else 1.0
        d = abs(i - j) / (k - 1) if k > 1 else 0.0
        return d if kind == "linear" else d * d
    return [[w(i, j) for j in range(k)] for i in range(k)]


def accuracy(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Share of items where both raters agree exactly; NaN for no items."""
    if len(a) != len(b):
        raise ValueError(f"two raters must label the same items: {len(a)} != {len(b)} labels")
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else math.nan


def mean_absolute_error(human: Sequence[float], judge: Sequence[float]) -> float:
    """Mean |human - judge| on the rubric's scale; NaN for no items."""
    if len(human) != len(judge):
        raise ValueError(f"two raters must score the same items: {len(human)} != {len(judge)} scores")
    return sum(abs(x - y) for x, y in zip(human, judge, strict=True)) / len(human) if human else math.nan


def nearest_level(value: float, low: int, high: int) -> int:
    """A weighted score (3.5) as a level of the scale, halves rounded up (4), clamped."""
    return min(high, max(low, math.floor(value + 0.5)))
