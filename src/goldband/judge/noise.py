"""Noise split: how much of a rubric score's variance is the judge's, how much generation's.

Generate N outputs for a case, freeze them, and judge each M times: ``y[i][j]`` is
judge sample j of output i, on the rubric's scale. A one-way random-effects
analysis of variance (the output is the group) separates the two sources::

    judge variance       = MSW                      (spread of re-judgements of one output)
    generation variance  = max(0, (MSB - MSW) / M)  (spread of the outputs' true scores)

with ``MSW = sum (y_ij - mean_i)^2 / (N (M - 1))`` and
``MSB = M sum (mean_i - mean)^2 / (N - 1)``. A large judge share means the rubric
or the judge, not the model, is what moves the score: fix the rubric (anchors) or
judge with more samples before trusting small differences.

Undefined parts are NaN, and say so: with M = 1 the judge's variance cannot be
seen; with N = 1 generation's cannot.

>>> s = split([[4, 4], [2, 2]])
>>> (s.judge_var, s.generation_var)
(0.0, 2.0)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class NoiseSplit:
    outputs: int  # N
    rejudges: int  # M
    mean: float
    judge_var: float
    generation_var: float

    @property
    def total_var(self) -> float:
        return self.judge_var + self.generation_var

    @property
    def judge_share(self) -> float:
        """Judge variance over total; NaN when either part is undefined or both are 0."""
        total = self.total_var
        return self.judge_var / total if total > 0 else math.nan


def split(scores: Sequence[Sequence[float]]) -> NoiseSplit:
    """Split the variance of ``scores[output][rejudge]`` (a balanced N x M table)."""
    n = len(scores)
    if n == 0 or not scores[0]:
        return NoiseSplit(n, 0, math.nan, math.nan, math.nan)
    m = len(scores[0])
    if any(len(row) != m for row in scores):
        raise ValueError("every output needs the same number of judge samples (a balanced table)")
    means = [statistics.fmean(row) for row in scores]
    grand = statistics.fmean(means)
    msw = sum((y - means[i]) ** 2 for i, row in enumerate(scores) for y in row) / (n * (m - 1)) if m > 1 \
        else math.nan
    msb = m * sum((x - grand) ** 2 for x in means) / (n - 1) if n > 1 else math.nan
    generation = max(0.0, (msb - (msw if m > 1 else 0.0)) / m) if n > 1 else math.nan
    return NoiseSplit(n, m, grand, msw, generation)


def pooled(splits: Sequence[NoiseSplit]) -> NoiseSplit:
    """Overall: the mean of each variance component over cases (each case counts once)."""
    usable = [s for s in splits if not math.isnan(s.judge_var) and not math.isnan(s.generation_var)]
    if not usable:
        return NoiseSplit(0, 0, math.nan, math.nan, math.nan)
    return NoiseSplit(sum(s.outputs for s in usable), usable[0].rejudges, statistics.fmean(s.mean for s in usable),
                      statistics.fmean(s.judge_var for s in usable),
                      statistics.fmean(s.generation_var for s in usable))
