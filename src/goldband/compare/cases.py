"""Baseline comparison with the *case* as the unit.

A case's repeats are not independent samples of the golden set, so each case
is compared on its own (Barnard's test on its pass counts, Mann-Whitney on its
scores), the p-values are adjusted across cases (Benjamini-Hochberg), and a
change counts only when it is significant *and* at least ``min_effect`` big.
The golden set as a whole is compared over per-case pass rates (Wilcoxon
signed-rank, paired bootstrap interval). Pure functions; the baseline a run is
compared with is read by ``goldband.compare.baseline``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from goldband._util.lazy import LazyModule

if TYPE_CHECKING:
    from goldband.compare import stats as compare_stats
else:  # scipy: imported when a comparison is made, not when the session loads
    compare_stats = LazyModule("goldband.compare.stats")

Key = tuple[str, str, str]  # (golden set, case id, target)
Outcome = Literal["regressed", "improved", "unchanged", "new", "removed"]


@dataclass(frozen=True)
class CaseStats:
    """One side of one case: trial counts and per-trial scores."""

    n: int
    passes: int
    errors: int = 0
    scores: tuple[float, ...] = ()

    @property
    def scored(self) -> int:
        return self.n - self.errors

    @property
    def rate(self) -> float | None:
        return self.passes / self.scored if self.scored else None


@dataclass(frozen=True)
class CaseChange:
    key: Key
    outcome: Outcome
    base: CaseStats | None
    head: CaseStats | None
    delta: float | None = None  # head pass rate - base pass rate
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    score_delta: float | None = None
    score_p: float | None = None


@dataclass(frozen=True)
class Comparison:
    changes: tuple[CaseChange, ...]
    alpha: float
    min_effect: float
    overall: compare_stats.PairedComparison | None  # None with no case on both sides
    base_label: str = "base"
    head_label: str = "head"

    def count(self, outcome: Outcome) -> int:
        return sum(c.outcome == outcome for c in self.changes)

    @property
    def regressions(self) -> tuple[CaseChange, ...]:
        return tuple(c for c in self.changes if c.outcome == "regressed")


def compare(base: Mapping[Key, CaseStats], head: Mapping[Key, CaseStats], *, alpha: float = 0.05,
            min_effect: float = 0.1, base_label: str = "base", head_label: str = "head") -> Comparison:
    """Compare every case present on either side; see the module docstring for the tests."""
    both = sorted(k for k in head if k in base and _comparable(base[k], head[k]))
    tested = [_test(k, base[k], head[k]) for k in both]
    adjusted, _ = compare_stats.benjamini_hochberg([1.0 if t.p_value is None else t.p_value for t in tested],
                                                    alpha=alpha)
    changes = [_classify(t, float(p), alpha, min_effect) for t, p in zip(tested, adjusted, strict=True)]
    changes += _one_sided(base, head, both)
    overall = None
    if both:
        overall = compare_stats.paired_comparison([base[k].rate or 0.0 for k in both],
                                                  [head[k].rate or 0.0 for k in both])
    return Comparison(tuple(sorted(changes, key=lambda c: c.key)), alpha, min_effect, overall,
                      base_label, head_label)


def _comparable(base: CaseStats, head: CaseStats) -> bool:
    return base.scored > 0 and head.scored > 0


def _test(key: Key, base: CaseStats, head: CaseStats) -> CaseChange:
    counts = compare_stats.compare_pass_counts(base.passes, base.scored, head.passes, head.scored)
    score_delta = score_p = None
    if len(base.scores) >= 2 and len(head.scores) >= 2:
        scores = compare_stats.compare_scores(base.scores, head.scores)
        score_delta, score_p = scores.delta, scores.p_value
    return CaseChange(key, "unchanged", base, head, counts.delta, counts.interval[0], counts.interval[1],
                      counts.p_value, None, score_delta, score_p)


def _classify(change: CaseChange, p_adjusted: float, alpha: float, min_effect: float) -> CaseChange:
    outcome = compare_stats.classify_change(change.delta or 0.0, p_adjusted, alpha=alpha, min_effect=min_effect)
    return replace(change, outcome=outcome, p_adjusted=p_adjusted)


def _one_sided(base: Mapping[Key, CaseStats], head: Mapping[Key, CaseStats], both: list[Key]) -> list[CaseChange]:
    """Cases only on one side, or without a scored trial on one side."""
    done = set(both)
    out = [CaseChange(k, "new", base.get(k), h) for k, h in head.items() if k not in done]
    out += [CaseChange(k, "removed", b, None) for k, b in base.items() if k not in head]
    return out
