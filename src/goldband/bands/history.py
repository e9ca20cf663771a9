"""Bands learned from a case's own history, and flaky quarantine (pure functions).

The history is the case's verdicts in earlier runs on the same target, newest
first; the store provides it (``Store.case_history``), anything with the same
fields will do.

- ``band.history``: the case's bar becomes the lower control limit of its
  past pass rates (a p-chart), so a case that always passed is held to that,
  and a case that was always shaky is not failed for its usual shakiness.
- ``band.quarantine``: a case whose verdict flipped between PASS and not-PASS
  too often in recent runs is QUARANTINED: shown, never gating, until its
  flip rate falls back under the limit.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from goldband._util.lazy import LazyModule

if TYPE_CHECKING:
    from goldband.bands import control
else:  # numpy: imported when a history band is learned
    control = LazyModule("goldband.bands.control")
from goldband.bands.spec import Band

MIN_HISTORY = 10  # past runs needed before a learned band replaces the written one


class Point(Protocol):
    """One past verdict of the case (``goldband.store.models.HistoryPoint`` has these)."""

    @property
    def status(self) -> str: ...
    @property
    def n(self) -> int: ...
    @property
    def pass_rate(self) -> float | None: ...
    @property
    def run_status(self) -> str: ...


class History(Protocol):
    def case_history(self, goldenset: str, case_id: str, target: str, *, limit: int = 50) -> Sequence[Point]: ...


@dataclass(frozen=True)
class Learned:
    band: Band
    notes: tuple[str, ...] = ()
    quarantine: str | None = None  # why the case is quarantined, when it is


def learn(band: Band, points: Sequence[Point]) -> Learned:
    """Apply ``band.history`` and ``band.quarantine`` to one case, given its past verdicts."""
    usable = [p for p in points if p.run_status == "complete" and p.status != "ERROR"]
    learned, notes = _learned_band(band, usable)
    return Learned(learned, notes, _quarantine(band, usable))


def _learned_band(band: Band, points: Sequence[Point]) -> tuple[Band, tuple[str, ...]]:
    spec = band.history
    if spec is None:
        return band, ()
    rates = [p.pass_rate for p in points[: spec.window] if p.pass_rate is not None]
    if len(rates) < MIN_HISTORY:
        return band, (f"history band: {len(rates)} past runs (needs {MIN_HISTORY}); "
                      f"using min_pass_rate {band.min_pass_rate:g}",)
    trials = int(statistics.median(p.n for p in points[: spec.window])) or None
    limits = control.control_limits(rates, sigmas=spec.sigmas, trials_per_run=trials, min_history=MIN_HISTORY)
    bar = round(min(max(limits.lower, 0.0), 1.0), 4)
    note = (f"band learned from {len(rates)} past runs: mean pass rate {limits.center:.2f}, lower control limit "
            f"{bar:.2f} ({spec.sigmas:g} sigma) replaces min_pass_rate {band.min_pass_rate:g}")
    return replace(band, min_pass_rate=bar), (note,)


def _passed(point: Point, bar: float) -> bool:
    """A quarantined run's underlying result is read off its pass rate."""
    if point.status == "QUARANTINED":
        return point.pass_rate is not None and point.pass_rate >= bar
    return point.status == "PASS"


def _quarantine(band: Band, points: Sequence[Point]) -> str | None:
    spec = band.quarantine
    if spec is None:
        return None
    recent = [_passed(p, band.min_pass_rate) for p in points[: spec.window]]
    rate = control.flip_rate(recent[::-1])
    if math.isnan(rate) or len(recent) < 3 or rate <= spec.max_flip_rate:
        return None
    flips = round(rate * (len(recent) - 1))
    return (f"quarantined: flipped between PASS and not-PASS {flips} times in the last {len(recent)} runs "
            f"(flip rate {rate:.2f} > max_flip_rate {spec.max_flip_rate:g})")
