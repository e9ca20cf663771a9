"""ADWIN: adaptive windowing, with exponential-histogram buckets (ADWIN2)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Self

from goldband.monitors import _adwin_batch
from goldband.monitors.base import StreamingDetector, dec, enc, finite, finite_array, require

__all__ = ["ADWIN"]


class ADWIN(StreamingDetector):
    r"""Adaptive windowing: drift when two parts of the recent window differ in mean.

    ADWIN keeps a window of recent values compressed into buckets of 1, 2, 4, ...
    values (at most ``max_buckets`` of each size). Every ``clock`` updates, once
    the window holds more than ``grace_period`` values, it tries every bucket
    boundary as a cut into an older part ``W0`` and a newer part ``W1`` (each at
    least ``min_window_length`` long) and reports drift when
    ``|mean(W0) - mean(W1)|`` exceeds the Hoeffding/Bernstein bound for
    significance ``delta``; it then drops the oldest buckets until no cut does.
    The next update starts afresh, as river does. Same arithmetic as river's
    ``drift.ADWIN`` (a port of the MOA/scikit-multiflow code), so both detect at
    the same indices; ``update_many`` runs the same test vectorised with numpy.

    Parameters (keyword-only): ``delta`` (default 0.002), ``clock`` (32),
    ``max_buckets`` (5), ``min_window_length`` (5), ``grace_period`` (10).

    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> adwin = ADWIN()
    >>> [i for i, x in enumerate(stream) if adwin.update(x).drift_detected]
    [1023]
    >>> ADWIN().update_many(stream)
    [1023]

    Reference: A. Bifet and R. Gavaldà (2007), Learning from time-changing data
    with adaptive windowing, Proceedings of the 2007 SIAM International
    Conference on Data Mining, 443-448.
    """

    name = "adwin"
    param_names = ("delta", "clock", "max_buckets", "min_window_length", "grace_period")

    def __init__(
        self,
        *,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        where = "ADWIN"
        require(0 < delta < 1, where, f"delta={delta!r}", "a number in (0, 1)")
        for knob, value, low in (("clock", clock, 1), ("max_buckets", max_buckets, 1),
                                 ("min_window_length", min_window_length, 1),
                                 ("grace_period", grace_period, 0)):
            require(isinstance(value, int) and value >= low, where, f"{knob}={value!r}",
                    f"an integer >= {low}")
        self.delta = float(delta)
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        super().__init__()

    def _reset(self) -> None:
        super()._reset()
        self._totals: list[list[float]] = [[]]  # per level (size 2**level), oldest first
        self._variances: list[list[float]] = [[]]
        self._width = 0  # values in the window
        self._total = 0.0  # their sum
        self._variance = 0.0  # their sum of squared deviations from the mean
        self._tick = 0  # updates since the last reset

    # -- public read-outs ------------------------------------------------------
    @property
    def width(self) -> int:
        """Number of values in the current window."""
        return self._width

    @property
    def estimation(self) -> float:
        """Mean of the current window (0.0 when it is empty)."""
        return self._total / self._width if self._width else 0.0

    @property
    def variance(self) -> float:
        """Variance of the current window (river's ``variance`` is this times ``width``)."""
        return self._variance / self._width if self._width else 0.0

    # -- updates -----------------------------------------------------------------
    def update(self, x: float) -> Self:
        """Feed one value; ``drift_detected`` then tells whether the window was cut."""
        value = finite(x, "ADWIN.update")
        if self._drift_detected:
            self._reset()
        self._insert(value)
        self._drift_detected = self._detect()
        return self

    def update_many(self, values: Iterable[float]) -> list[int]:
        """Feed ``values``; same detections as a loop of ``update``, vectorised with numpy."""
        return _adwin_batch.run(self, finite_array(values, "ADWIN.update_many"))

    def _insert(self, x: float) -> None:
        self._totals[0].append(x)
        self._variances[0].append(0.0)
        self._width += 1
        w = float(self._width)
        if w > 1.0:
            dv = x - self._total / (w - 1.0)
            self._variance += (w - 1.0) * dv * dv / w
        self._total += x
        self._compress()

    def _compress(self) -> None:
        """Merge the two oldest buckets of every level that overflowed."""
        level, full = 0, self.max_buckets + 1
        while len(self._totals[level]) == full:
            if level + 1 == len(self._totals):
                self._totals.append([])
                self._variances.append([])
            totals, variances = self._totals[level], self._variances[level]
            size = float(1 << level)
            d = totals[0] / size - totals[1] / size
            self._totals[level + 1].append(totals[0] + totals[1])
            self._variances[level + 1].append(variances[0] + variances[1] + size * 0.5 * d * d)
            del totals[:2], variances[:2]
            level += 1

    def _detect(self) -> bool:
        self._tick += 1
        if self._tick % self.clock or self._width <= self.grace_period:
            return False
        detected = False
        while self._has_cut():
            detected = True
            self._drop_oldest()
        return detected

    def _has_cut(self) -> bool:
        """Whether some bucket boundary splits the window into parts with distinct means."""
        width, least = float(self._width), float(self.min_window_length)
        n0, n1, u0, u1 = 0.0, width, 0.0, self._total
        var_w = self._variance / width
        log_term = math.nan
        for level in range(len(self._totals) - 1, -1, -1):
            size = float(1 << level)
            for total in self._totals[level]:
                n0 += size
                n1 -= size
                u0 += total
                u1 -= total
                if n0 < least or n1 < least:
                    continue
                if log_term != log_term:  # first admissible cut: ln(2 ln(width) / delta)
                    log_term = math.log(2.0 * math.log(width) / self.delta)
                m = 1.0 / (n0 - least + 1.0) + 1.0 / (n1 - least + 1.0)
                spread = 2.0 * m * var_w * log_term
                if spread >= 0.0 and abs(u0 / n0 - u1 / n1) > (
                    math.sqrt(spread) + 2.0 / 3.0 * log_term * m
                ):
                    return True
        return False

    def _drop_oldest(self) -> None:
        while not self._totals[-1] and len(self._totals) > 1:  # empty levels (max_buckets=1)
            self._totals.pop()
            self._variances.pop()
        level = len(self._totals) - 1
        size = float(1 << level)
        total, variance = self._totals[level].pop(0), self._variances[level].pop(0)
        self._width -= 1 << level
        self._total -= total
        w = float(self._width)
        d = total / size - self._total / w
        self._variance -= variance + size * w * d * d / (size + w)
        if not self._totals[level] and level > 0:
            self._totals.pop()
            self._variances.pop()

    # -- state -------------------------------------------------------------------
    def _dump(self) -> dict[str, Any]:
        return {
            "tick": self._tick,
            "width": self._width,
            "total": enc(self._total),
            "variance": enc(self._variance),
            "bucket_totals": [[enc(t) for t in level] for level in self._totals],
            "bucket_variances": [[enc(v) for v in level] for level in self._variances],
            "drift_detected": self._drift_detected,
        }

    def _load(self, state: Mapping[str, Any]) -> None:
        totals = [[dec(t) for t in level] for level in state["bucket_totals"]]
        variances = [[dec(v) for v in level] for level in state["bucket_variances"]]
        if [len(t) for t in totals] != [len(v) for v in variances] or not totals:
            raise ValueError("bucket_totals and bucket_variances differ in shape")
        width = sum(len(level) << i for i, level in enumerate(totals))
        if width != int(state["width"]):
            raise ValueError(f"buckets hold {width} values but width is {state['width']}")
        self._totals, self._variances = totals, variances
        self._width, self._tick = width, int(state["tick"])
        self._total, self._variance = dec(state["total"]), dec(state["variance"])
        self._drift_detected = bool(state["drift_detected"])
