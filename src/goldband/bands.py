"""Bands: turn the N scored trials of one case into one verdict (pure functions).

The first band is a minimum pass rate: a trial passes when all its checks
pass; the case passes when the share of passing trials reaches
``min_pass_rate``. Errors are a third outcome: an errored trial never counts
as a pass, and a case whose trials all errored is ERROR, not FAIL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from goldband.goldenset import Band
from goldband.trial import ScoredTrial

Status = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED"]


@dataclass(frozen=True)
class Verdict:
    status: Status
    n: int
    passes: int
    fails: int
    errors: int
    reason: str  # the rule that decided, e.g. "pass rate 0.60 < min_pass_rate 0.80"
    mean_score: float | None = None

    @property
    def pass_rate(self) -> float | None:
        """Passes over trials that were scored (errors excluded); None when none were."""
        scored = self.passes + self.fails
        return self.passes / scored if scored else None


def verdict(trials: Sequence[ScoredTrial], band: Band) -> Verdict:
    """Decide PASS / FAIL / ERROR for one case from its trials."""
    outcomes = [t.outcome for t in trials]
    passes, fails, errors = (outcomes.count(k) for k in ("pass", "fail", "error"))
    n = len(trials)
    scores = [s for t in trials if (s := t.score) is not None]
    mean = sum(scores) / len(scores) if scores else None
    if n == 0:
        return Verdict("ERROR", 0, 0, 0, 0, "no trials ran", None)
    if passes + fails == 0:
        return Verdict("ERROR", n, 0, 0, errors, f"all {n} trials errored", mean)
    rate = passes / n  # errors count against the rate: an error is never a pass
    ok = rate >= band.min_pass_rate - 1e-12
    sign = ">=" if ok else "<"
    reason = f"pass rate {passes}/{n} = {rate:.2f} {sign} min_pass_rate {band.min_pass_rate:.2f}"
    if not ok and errors and (passes + errors) / n >= band.min_pass_rate:
        return Verdict("ERROR", n, passes, fails, errors, reason + f" ({errors} errored trials decide it)", mean)
    return Verdict("PASS" if ok else "FAIL", n, passes, fails, errors, reason, mean)
