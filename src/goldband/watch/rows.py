"""One test of one window (a feature's drift, an output test, the joint test), as stored and shown.

Its own module so that the window checks (``goldband.watch.checks``) and the
joint test (``goldband.watch.joint``) share it without importing each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["TestRow"]


@dataclass(frozen=True)
class TestRow:
    """One test in one window."""

    name: str  # the feature, or prediction | confidence | low_confidence_share | collapse
    kind: str  # numeric | categorical | missing | output
    test: str  # ks, chi2, psi, ..., rule (collapse)
    statistic: float
    p_value: float | None
    effect: float
    threshold: float
    drifted: bool = False
    p_adjusted: float | None = None
    value: str = ""  # the window's side, for people: "mean 18.2", "'monthly' 71%"
    reference: str = ""  # the reference's side
    n: int = 0
    out_of_range_share: float | None = None  # numeric: share of the window outside the reference's [min, max]
    unseen_share: float | None = None  # categorical: share of the window in labels the reference never had

    def to_json(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)  # asdict() would deep-copy
                for k, v in ((k, getattr(self, k)) for k in self.__dataclass_fields__)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestRow:
        values: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__}
        for key in ("statistic", "effect", "threshold"):
            values[key] = math.nan if values[key] is None else values[key]
        return cls(**values)
