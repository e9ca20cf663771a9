"""Streaming detectors over one stream, with the direction of each change and exact save/resume.

A detector says *that* the stream changed; a monitor must also say *which
way* (an error rate that falls is good news), *from what to what*, and
*since when* (to look at the inputs of that moment). ``DetectorWatch`` wraps
one ``goldband.monitors`` detector and keeps the values since its last
detection (the latest ``TAIL``); at a detection it estimates the change point
in them (the split maximising the standardised difference of means, as in
binary segmentation) and reports the levels before and after it and the
time it began. This is sharper than a detector's own window: ADWIN keeps a
window that still mixes old and new values after its cut, and DDM's warning
zone can start well after the change.

``EvalWatch`` watches an LLM eval series (one point per nightly run) with two
Page-Hinkley tests, one per direction, whose threshold and tolerance are set
in units of the series' own night-to-night noise, measured over its first
``warmup`` points: a pass rate measured on 60 trials is four times noisier
than one on 1,000, and a threshold in raw units would alarm constantly on the
first or never on the second (see docs/monitor.md for the measured rates).

Both keep all their state in ``get_state()`` (strict JSON) so a nightly job
that saves it and resumes gets exactly the detections of one uninterrupted run.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from goldband.monitors import PageHinkley, StreamingDetector, make_detector
from goldband.monitors.base import dec, enc

__all__ = ["Detection", "DetectorWatch", "EvalWatch", "split"]

TAIL = 1000  # recent values (and their times) kept per segment for the change-point estimate


@dataclass(frozen=True)
class Detection:
    """A detector fired at ``index`` (of the values fed in one call) at ``time``."""

    index: int
    time: str
    detector: str
    direction: str  # up | down
    bad: bool  # the direction that hurts (an error rate up, a pass rate down)
    before: float | None
    after: float | None
    threshold: float | None = None
    start: str | None = None  # time of the first value of the new level (as far back as the kept tail reaches)

    def to_json(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}

    def describe(self, what: str) -> str:
        levels = f" from {self.before:.3g} to {self.after:.3g}" if self.before is not None and \
            self.after is not None else ""
        verb = "rose" if self.direction == "up" else "fell"
        return f"{what} {verb}{levels} ({self.detector})"


class DetectorWatch:
    """One detector on one stream; ``bad`` is the direction that hurts (``up`` or ``down``)."""

    def __init__(self, detector: StreamingDetector, *, bad: str = "up") -> None:
        self.detector, self.bad = detector, bad
        self._tail: deque[float] = deque(maxlen=TAIL)
        self._times: deque[str] = deque(maxlen=TAIL)

    def feed(self, values: Sequence[float], times: Sequence[str]) -> list[Detection]:
        """Feed values in order; one ``Detection`` per detector alarm."""
        found, det = [], self.detector
        for i, x in enumerate(values):
            det.update(x)
            self._tail.append(x)
            self._times.append(times[i])
            if det.drift_detected:
                found.append(self._detection(i, times[i]))
                self._tail.clear()
                self._times.clear()
        return found

    def _detection(self, index: int, time: str) -> Detection:
        before, after, recent = self._levels()
        mode = getattr(self.detector, "mode", None)
        if mode in ("up", "down"):  # a one-sided test knows its direction
            direction = str(mode)
        elif before is not None and after is not None and before != after:
            direction = "up" if after > before else "down"
        else:
            direction = self.bad
        threshold = getattr(self.detector, "threshold", None) or getattr(self.detector, "delta", None)
        start = self._times[-min(recent, len(self._times))] if recent and self._times else None
        return Detection(index, time, self.detector.name, direction, direction == self.bad, before, after,
                         threshold, start)

    def reset(self) -> None:
        """Start afresh (the detector and the values kept), as after a detection."""
        self.detector.reset()
        self._tail.clear()
        self._times.clear()

    def _levels(self) -> tuple[float | None, float | None, int]:
        """Levels before and after the most likely change point in the recent values, and how many follow it."""
        tail = list(self._tail)
        k = split(tail)
        if k is None:
            return None, None, 0
        return sum(tail[:k]) / k, sum(tail[k:]) / (len(tail) - k), len(tail) - k

    def get_state(self) -> dict[str, Any]:
        return {"detector": self.detector.get_state(), "bad": self.bad, "tail": [enc(x) for x in self._tail],
                "times": list(self._times)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> DetectorWatch:
        watch = cls(StreamingDetector.from_state(state["detector"]), bad=state["bad"])
        watch._tail.extend(dec(x) for x in state["tail"])
        watch._times.extend(state["times"])
        return watch


def split(values: Sequence[float]) -> int | None:
    """The most likely single change point in ``values``: the first index of the new level (None if < 2 values).

    The split ``k`` maximises ``|mean(x[:k]) - mean(x[k:])| * sqrt(k (n - k) / n)`` (the standardised
    difference of means, as in binary segmentation).

    >>> split([0.0, 0.0, 0.0, 1.0, 1.0])
    3
    """
    n = len(values)
    if n < 2:
        return None
    total, left, best, best_k = sum(values), 0.0, -1.0, 1
    for k in range(1, n):
        left += values[k - 1]
        gap = abs(left / k - (total - left) / (n - k)) * math.sqrt(k * (n - k) / n)
        if gap > best:
            best, best_k = gap, k
    return best_k


class EvalWatch:
    """Two noise-scaled Page-Hinkley tests on one eval series (and optionally ADWIN); see the module docstring.

    ``bad`` is the direction that hurts (``down`` for a pass rate). ``active``
    is true from a detection in the bad direction until one in the good direction.
    """

    def __init__(self, *, bad: str = "down", warmup: int = 10, threshold_sd: float = 12.0, delta_sd: float = 0.5,
                 min_sd: float = 0.005, adwin: Mapping[str, Any] | None = None) -> None:
        self.bad, self.warmup = bad, warmup
        self.threshold_sd, self.delta_sd, self.min_sd = threshold_sd, delta_sd, min_sd
        self.scale: float | None = None
        self._warm: list[tuple[float, str]] = []
        self._worse: DetectorWatch | None = None
        self._better: DetectorWatch | None = None
        self._adwin = None if adwin is None else DetectorWatch(make_detector("adwin", **adwin), bad=bad)
        self.active = False
        self.n = 0

    def feed(self, values: Sequence[float], times: Sequence[str]) -> list[Detection]:
        found: list[Detection] = []
        for x, t in zip(values, times, strict=True):
            found += self._one(x, t)
        return found

    def _one(self, x: float, t: str) -> list[Detection]:
        """Feed one point; detections carry their position in the whole series as ``index``."""
        self.n += 1
        found = [replace(d, index=self.n - 1) for d in self._adwin.feed([x], [t])] if self._adwin else []
        if self._worse is None or self._better is None:
            self._warm.append((x, t))
            if len(self._warm) < self.warmup:
                return self._settle(found)
            self._start()
            warm, self._warm = self._warm, []
            first = self.n - len(warm)
            return self._settle(found + [replace(d, index=first + j) for j, (v, w) in enumerate(warm)
                                         for d in self._step(v, w)])
        return self._settle(found + [replace(d, index=self.n - 1) for d in self._step(x, t)])

    def _start(self) -> None:
        xs = [x for x, _ in self._warm]
        mean = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
        self.scale = max(sd, self.min_sd)
        good = "up" if self.bad == "down" else "down"
        self._worse = DetectorWatch(self._ph(self.bad), bad=self.bad)
        self._better = DetectorWatch(self._ph(good), bad=self.bad)

    def _ph(self, mode: str) -> PageHinkley:
        assert self.scale is not None
        return PageHinkley(min_instances=self.warmup, delta=self.delta_sd * self.scale,
                           threshold=self.threshold_sd * self.scale, mode=mode)

    def _step(self, x: float, t: str) -> list[Detection]:
        assert self._worse is not None and self._better is not None
        worse, better = self._worse.feed([x], [t]), self._better.feed([x], [t])
        if worse:
            self._better.reset()  # learn the new level in both directions
        if better:
            self._worse.reset()
        return worse + better

    def _settle(self, found: list[Detection]) -> list[Detection]:
        for d in found:
            self.active = d.bad
        return found

    def get_state(self) -> dict[str, Any]:
        return {"bad": self.bad, "warmup": self.warmup, "threshold_sd": self.threshold_sd,
                "delta_sd": self.delta_sd, "min_sd": self.min_sd, "scale": self.scale, "active": self.active,
                "n": self.n, "warm": [[enc(x), t] for x, t in self._warm],
                "worse": None if self._worse is None else self._worse.get_state(),
                "better": None if self._better is None else self._better.get_state(),
                "adwin": None if self._adwin is None else self._adwin.get_state()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> EvalWatch:
        watch = cls(bad=state["bad"], warmup=state["warmup"], threshold_sd=state["threshold_sd"],
                    delta_sd=state["delta_sd"], min_sd=state["min_sd"])
        watch.scale, watch.active, watch.n = state["scale"], bool(state["active"]), int(state["n"])
        watch._warm = [(dec(x), t) for x, t in state["warm"]]
        for name in ("worse", "better", "adwin"):
            if state.get(name) is not None:
                setattr(watch, f"_{name}", DetectorWatch.from_state(state[name]))
        return watch
