"""Bands: turn the N scored trials of one case into one verdict (pure functions).

The first band is a minimum pass rate: a trial passes when all its checks
pass; the case passes when the share of passing trials reaches
``min_pass_rate``. Errors are a third outcome: an errored trial never counts
as a pass, and a case whose trials all errored is ERROR, not FAIL.

``Verdict`` already carries every field the statistical bands fill in
(intervals, spread, baseline delta), so stores and reports read one shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from goldband.goldenset import Band
from goldband.trial import ScoredTrial

Status = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED"]
STATUSES: tuple[Status, ...] = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED")


@dataclass(frozen=True)
class BaselineDelta:
    """This case against its baseline (the case is the unit)."""

    outcome: Literal["regressed", "improved", "unchanged", "new", "removed"]
    baseline_run: str | None = None
    delta: float | None = None  # head pass rate minus base pass rate
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None  # Benjamini-Hochberg across cases


@dataclass(frozen=True)
class Verdict:
    status: Status
    n: int
    passes: int
    fails: int
    errors: int
    reason: str  # the rule that decided, e.g. "pass rate 0.60 < min_pass_rate 0.80"
    mean_score: float | None = None
    bound: str | None = None  # which bound decided: pass_rate, score, spread, errors, ...
    pass_rate_low: float | None = None
    pass_rate_high: float | None = None
    confidence: float | None = None
    score_low: float | None = None
    score_high: float | None = None
    std: float | None = None
    runs_planned: int | None = None  # the most runs the case could have used
    baseline: BaselineDelta | None = None
    gating: bool = True  # False: reported but never fails the run (quarantine, uncalibrated judge)
    notes: tuple[str, ...] = ()

    @property
    def pass_rate(self) -> float | None:
        """Passes over trials (errors count against it); None when no trial ran."""
        return self.passes / self.n if self.n else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass_rate"] = self.pass_rate
        return data


def verdict(trials: Sequence[ScoredTrial], band: Band) -> Verdict:
    """Decide PASS / FAIL / ERROR for one case from its trials."""
    outcomes = [t.outcome for t in trials]
    passes, fails, errors = (outcomes.count(k) for k in ("pass", "fail", "error"))
    n = len(trials)
    scores = [s for t in trials if (s := t.score) is not None]
    mean = sum(scores) / len(scores) if scores else None
    if n == 0:
        return Verdict("ERROR", 0, 0, 0, 0, "no trials ran", None, bound="errors")
    if passes + fails == 0:
        return Verdict("ERROR", n, 0, 0, errors, f"all {n} trials errored", mean, bound="errors")
    rate = passes / n  # errors count against the rate: an error is never a pass
    ok = rate >= band.min_pass_rate - 1e-12
    sign = ">=" if ok else "<"
    reason = f"pass rate {passes}/{n} = {rate:.2f} {sign} min_pass_rate {band.min_pass_rate:.2f}"
    if not ok and errors and (passes + errors) / n >= band.min_pass_rate:
        return Verdict("ERROR", n, passes, fails, errors, reason + f" ({errors} errored trials decide it)",
                       mean, bound="errors")
    return Verdict("PASS" if ok else "FAIL", n, passes, fails, errors, reason, mean, bound="pass_rate")
