"""Band and run settings: as written in golden sets, and resolved for one case.

Settings merge field by field: golden set ``defaults``, then the case, then the
``--goldband-band`` option. Impossible combinations (``max_runs < min_runs``,
``runs`` beside ``min_runs``) are refused at load with file:line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pydantic import Field

from goldband.config.base import Strict

Policy = Literal["fail", "warn", "more"]


class HistorySpec(Strict):
    """Learn the band from the case's own past runs on the same target (a p-chart)."""

    window: int = Field(20, ge=5, le=1000)  # past runs to learn from
    sigmas: float = Field(3.0, gt=0, le=6)  # control-limit width


class QuarantineSpec(Strict):
    """Quarantine a case whose verdict flips too often across recent runs."""

    max_flip_rate: float = Field(0.3, gt=0, le=1)
    window: int = Field(10, ge=3, le=1000)


class BandSpec(Strict):
    """Band settings as written; every field optional so cases can override some."""

    min_pass_rate: float | None = Field(None, ge=0.0, le=1.0)
    min_score: float | None = Field(None, ge=0.0, le=1.0)
    max_std: float | None = Field(None, ge=0.0, le=1.0)
    confidence: float | None = Field(None, gt=0.0, lt=1.0)
    max_error_rate: float | None = Field(None, ge=0.0, le=1.0)
    inconclusive: Policy | None = None  # what an INCONCLUSIVE verdict does: fail, warn, more runs
    indifference: float | None = Field(None, gt=0.0, lt=0.5)  # the SPRT's zone, +/- around the bar
    sequential: Literal["sprt", "interval"] | None = None  # the adaptive stopping rule (goldband.bands.sprt)
    futility: float | None = Field(None, ge=0.0, lt=1.0)  # stop undecidable cases below this chance of a verdict
    history: HistorySpec | bool | None = None
    quarantine: QuarantineSpec | bool | None = None


@dataclass(frozen=True)
class Band:
    """Resolved band settings for one case."""

    min_pass_rate: float = 1.0
    min_score: float | None = None
    max_std: float | None = None
    confidence: float = 0.9
    max_error_rate: float = 0.0
    inconclusive: Policy = "fail"
    indifference: float = 0.1
    sequential: Literal["sprt", "interval"] = "sprt"
    futility: float = 0.1
    history: HistorySpec | None = None
    quarantine: QuarantineSpec | None = None


@dataclass(frozen=True)
class Runs:
    """How many trials a case may use: fixed (``min == max``) or adaptive."""

    min: int
    max: int
    adaptive: bool

    @property
    def fixed(self) -> bool:
        return not self.adaptive


def merge_band(*specs: BandSpec | None) -> Band:
    """Later specs override earlier ones field by field."""
    band = Band()
    for spec in specs:
        band = override(band, spec)
    return band


def resolve_runs(runs: int | None, min_runs: int | None, max_runs: int | None, policy: Policy) -> Runs:
    """``runs: N`` is fixed; ``min_runs``/``max_runs`` is adaptive; ``inconclusive: more``
    lets a fixed case continue up to ``max_runs`` (default 3 x runs) when undecided."""
    if min_runs is None and max_runs is None:
        n = runs or 1
        return Runs(n, 3 * n, adaptive=True) if policy == "more" else Runs(n, n, adaptive=False)
    if runs is not None and min_runs is not None:
        raise ValueError("give 'runs' (fixed) or 'min_runs'/'max_runs' (adaptive), not both")
    low = min_runs or runs or 3
    high = max_runs or max(low, 20)
    if high < low:
        raise ValueError(f"max_runs {high} is below min_runs {low}")
    return Runs(low, high, adaptive=True)


def override(band: Band, spec: BandSpec | None) -> Band:
    """``band`` with the fields ``spec`` sets (the ``--goldband-band`` option) replaced."""
    if spec is None:
        return band
    fields = {k: getattr(spec, k) for k in spec.model_fields_set if getattr(spec, k) is not None}
    for key, model in (("history", HistorySpec), ("quarantine", QuarantineSpec)):
        if fields.get(key) is True:
            fields[key] = model()
        elif fields.get(key) is False:
            fields[key] = None
    return replace(band, **fields)
