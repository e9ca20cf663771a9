"""Page-Hinkley: a cumulative-sum test for a change in the mean of a stream."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Self

from goldband.monitors.base import StreamingDetector, finite, finite_array, require

__all__ = ["PageHinkley"]

_MODES = ("up", "down", "both")


class PageHinkley(StreamingDetector):
    """Page-Hinkley test for a change in the mean, upward, downward or both.

    The detector keeps the running mean of the stream and two cumulative sums of
    the deviations from it (with a tolerance ``delta`` and a forgetting factor
    ``alpha``). It signals drift when a sum moves more than ``threshold`` (the
    paper's lambda) away from its running extreme, once ``min_instances`` values
    have been seen. The next update then starts afresh. Same semantics and
    floating-point operations as river's ``drift.PageHinkley``, so both detect
    at the same indices.

    Parameters (keyword-only): ``min_instances`` (default 30), ``delta``
    (0.005), ``threshold`` (50.0), ``alpha`` (1 - 0.0001), ``mode`` (``"up"``,
    ``"down"`` or ``"both"``, the default).

    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> ph = PageHinkley()
    >>> [i for i, x in enumerate(stream) if ph.update(x).drift_detected]
    [1006]
    >>> PageHinkley().update_many(stream)
    [1006]

    References: E. S. Page (1954), Continuous inspection schemes, Biometrika
    41(1/2), 100-115; R. Sebastião and J. M. Fernandes (2017), Supporting the
    Page-Hinkley test with empirical mode decomposition for change detection,
    ISMIS 2017, 492-498.
    """

    name = "page_hinkley"
    param_names = ("min_instances", "delta", "threshold", "alpha", "mode")
    state_floats = ("n", "mean", "sum_increase", "sum_decrease", "min_increase", "max_decrease")

    def __init__(
        self,
        *,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        where = "PageHinkley"
        require(isinstance(min_instances, int) and min_instances >= 1, where,
                f"min_instances={min_instances!r}", "an integer >= 1")
        require(math.isfinite(delta) and delta >= 0, where, f"delta={delta!r}", "a number >= 0")
        require(math.isfinite(threshold) and threshold > 0, where,
                f"threshold={threshold!r}", "a number > 0")
        require(0 < alpha <= 1, where, f"alpha={alpha!r}", "a number in (0, 1]")
        require(mode in _MODES, where, f"mode={mode!r}", f"one of {', '.join(_MODES)}")
        self.min_instances = min_instances
        self.delta = float(delta)
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.mode = mode
        super().__init__()

    def _reset(self) -> None:
        super()._reset()
        self._n = 0.0
        self._mean = 0.0
        self._sum_increase = 0.0
        self._sum_decrease = 0.0
        self._min_increase = math.inf
        self._max_decrease = -1.0  # river's starting value

    def update(self, x: float) -> Self:
        """Feed one value; ``drift_detected`` then tells whether it set off the test."""
        self._run([finite(x, "PageHinkley.update")])
        return self

    def update_many(self, values: Iterable[float]) -> list[int]:
        return self._run(finite_array(values, "PageHinkley.update_many").tolist())

    def _run(self, xs: list[float]) -> list[int]:
        """The test over ``xs`` with the state held in locals (this is the hot loop)."""
        n, mean, inc, dec_ = self._n, self._mean, self._sum_increase, self._sum_decrease
        lo, hi, drift = self._min_increase, self._max_decrease, self._drift_detected
        alpha, delta, lam, warm = self.alpha, self.delta, self.threshold, float(self.min_instances)
        up, down = self.mode != "down", self.mode != "up"
        hits: list[int] = []
        for i, x in enumerate(xs):
            if drift:
                n = mean = inc = dec_ = 0.0
                lo, hi, drift = math.inf, -1.0, False
            n += 1.0
            mean += (1.0 / n) * (x - mean)
            dev = x - mean
            inc = alpha * inc + dev - delta
            dec_ = alpha * dec_ + dev + delta
            if inc < lo:
                lo = inc
            if dec_ > hi:
                hi = dec_
            if n >= warm and ((up and inc - lo > lam) or (down and hi - dec_ > lam)):
                drift = True
                hits.append(i)
        self._n, self._mean, self._sum_increase, self._sum_decrease = n, mean, inc, dec_
        self._min_increase, self._max_decrease, self._drift_detected = lo, hi, drift
        return hits
