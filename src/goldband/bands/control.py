"""History bands: Shewhart control limits for a case's pass rate, and its flip rate (pure).

Used by :mod:`goldband.bands.history` to learn a case's bar from its own past runs
and to quarantine cases that flip between PASS and not-PASS too often.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True, slots=True)
class ControlLimits:
    """Shewhart limits for a per-run pass rate; NaN everywhere when history is too short."""

    center: float
    lower: float
    upper: float
    n_history: int
    provisional: bool  # fewer than 20 points: Shewhart practice asks for 20-25

    def contains(self, value: float) -> bool:
        return bool(self.lower <= value <= self.upper)


def control_limits(
    history_values: ArrayLike,
    *,
    sigmas: float = 3.0,
    trials_per_run: int | None = None,
    min_history: int = 10,
) -> ControlLimits:
    """Band for the next run's pass rate from past runs' pass rates (values in [0, 1]).

    With ``trials_per_run`` this is a p-chart (binomial sigma sqrt(p(1-p)/n));
    without, an individuals chart whose sigma is the mean moving range / 1.128,
    which also absorbs run-to-run noise beyond the binomial. Fewer than
    ``min_history`` values give NaN limits: too little history to draw a band.
    Limits are clipped to [0, 1]; a history without spread collapses them onto
    the centre, so any change falls outside.
    """
    x = np.asarray(history_values, dtype=float).ravel()
    if x.size and (np.isnan(x).any() or x.min() < 0.0 or x.max() > 1.0):
        raise ValueError("history_values must be pass rates in [0, 1] without NaN")
    if x.size < max(min_history, 2):
        return ControlLimits(math.nan, math.nan, math.nan, int(x.size), True)
    center = float(x.mean())
    if trials_per_run is not None:
        sigma = math.sqrt(center * (1 - center) / trials_per_run)
    else:
        sigma = float(np.abs(np.diff(x)).mean()) / 1.128  # d2 for moving ranges of 2
    low, high = max(center - sigmas * sigma, 0.0), min(center + sigmas * sigma, 1.0)
    return ControlLimits(center, low, high, int(x.size), x.size < 20)


def flip_rate(outcomes: Sequence[bool]) -> float:
    """Share of consecutive runs whose pass/fail verdict flipped; NaN with < 2 runs.

    0.0 is a stable case, 1.0 one that alternates every run (flaky).
    """
    x = np.asarray(outcomes, dtype=bool).ravel()
    if x.size < 2:
        return math.nan
    return float(np.mean(x[1:] != x[:-1]))
