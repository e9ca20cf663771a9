"""Baseline comparison with the *case* as the unit.

A case's repeats are not independent samples of the golden set, so each case
is compared on its own (Barnard's test on its pass counts, Mann-Whitney on its
scores), the p-values are adjusted across cases (Benjamini-Hochberg), and a
change counts only when it is significant *and* at least ``min_effect`` big.
The golden set as a whole is compared over per-case pass rates (Wilcoxon
signed-rank, paired bootstrap interval). Pure functions; the baseline a run is
compared with is read by ``goldband.compare.baseline``.

Barnard's test assumes each side's n was fixed in advance. A side whose case
ran with adaptive repeats stopped when its *own* band was decided, so its n
depends on its results (optional stopping). Such a side could have stopped at
any of ``looks`` trial counts; the p-value is multiplied by the number of
(base, head) stopping points and the interval widened to match (a union bound
over every count the comparison could have been made at), which keeps the
error rate at or below ``alpha`` whatever the stopping rule. ``goldband compare``
avoids the cost by running a fixed N (``goldband.compare.power``).

Outcomes: ``regressed`` / ``improved`` (significant after BH and at least
``min_effect``), ``not significant`` (shown with the interval of the
difference), ``same content`` (base and head would send and score the very same
thing, so nothing was run: no change by construction), ``new``, ``removed``.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from goldband._util.lazy import LazyModule

if TYPE_CHECKING:
    from goldband.compare import stats as compare_stats
else:  # scipy: imported when a comparison is made, not when the session loads
    compare_stats = LazyModule("goldband.compare.stats")

Key = tuple[str, str, str]  # (golden set, case id, target)
Outcome = Literal["regressed", "improved", "not significant", "same content", "new", "removed"]
TESTED = ("regressed", "improved", "not significant")  # the outcomes of a case run and tested on both sides


@dataclass(frozen=True)
class CaseStats:
    """One side of one case: trial counts and per-trial scores."""

    n: int
    passes: int
    errors: int = 0
    scores: tuple[float, ...] = ()
    looks: int = 1  # the trial counts this side could have stopped at: 1 when n was fixed

    @staticmethod
    def looks_of(min_runs: int, max_runs: int, adaptive: bool = True) -> int:
        """How many n an adaptive case could have stopped at (each count from min to max)."""
        return max(1, max_runs - min_runs + 1) if adaptive else 1

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
    looks: int = 1  # > 1: a side stopped adaptively; p and the interval are corrected for it


@dataclass(frozen=True)
class Comparison:
    changes: tuple[CaseChange, ...]
    alpha: float
    min_effect: float
    base_label: str = "base"
    head_label: str = "head"
    notes: tuple[str, ...] = ()  # how the comparison was made: the fixed N, the targets not re-run, ...

    def count(self, outcome: Outcome) -> int:
        return sum(c.outcome == outcome for c in self.changes)

    @functools.cached_property
    def overall(self) -> compare_stats.PairedComparison | None:
        """The golden set as a whole over the tested cases (None without one); computed when first
        read, as its bootstrap interval costs more than all the per-case tests."""
        tested = [c for c in self.changes if c.outcome in TESTED and c.base is not None and c.head is not None]
        if not tested:
            return None
        return compare_stats.paired_comparison([c.base.rate or 0.0 for c in tested if c.base is not None],
                                               [c.head.rate or 0.0 for c in tested if c.head is not None])

    @property
    def regressions(self) -> tuple[CaseChange, ...]:
        return tuple(c for c in self.changes if c.outcome == "regressed")


def compare(base: Mapping[Key, CaseStats], head: Mapping[Key, CaseStats], *, alpha: float = 0.05,
            min_effect: float = 0.1, base_label: str = "base", head_label: str = "head",
            same_content: Collection[Key] = ()) -> Comparison:
    """Compare every case present on either side; see the module docstring for the tests.

    ``same_content`` cases were not run (their request and scoring are identical on both sides): they
    are reported as such and take no part in the tests or the false-discovery control.
    """
    same = set(same_content)
    both = sorted(k for k in head if k in base and k not in same and _comparable(base[k], head[k]))
    tested = [_test(k, base[k], head[k]) for k in both]
    adjusted, _ = compare_stats.benjamini_hochberg([1.0 if t.p_value is None else t.p_value for t in tested],
                                                    alpha=alpha)
    changes = [_classify(t, float(p), alpha, min_effect) for t, p in zip(tested, adjusted, strict=True)]
    changes += [CaseChange(k, "same content", base.get(k), head.get(k)) for k in sorted(same)]
    changes += _one_sided(base, head, [*both, *same])
    return Comparison(tuple(sorted(changes, key=lambda c: c.key)), alpha, min_effect, base_label, head_label)


def _comparable(base: CaseStats, head: CaseStats) -> bool:
    return base.scored > 0 and head.scored > 0


def _test(key: Key, base: CaseStats, head: CaseStats) -> CaseChange:
    """Barnard's test and a 95 % Newcombe interval; with adaptive sides, both corrected for their
    stopping points (the interval then holds at 95 % over every count it could have been made at)."""
    looks = max(1, base.looks) * max(1, head.looks)
    confidence = 1 - 0.05 / looks
    counts = compare_stats.compare_pass_counts(base.passes, base.scored, head.passes, head.scored,
                                               confidence=confidence)
    score_delta = score_p = None
    if len(base.scores) >= 2 and len(head.scores) >= 2:
        scores = compare_stats.compare_scores(base.scores, head.scores)
        score_delta, score_p = scores.delta, min(1.0, scores.p_value * looks)
    return CaseChange(key, "not significant", base, head, counts.delta, counts.interval[0], counts.interval[1],
                      min(1.0, counts.p_value * looks), None, score_delta, score_p, looks)


def _classify(change: CaseChange, p_adjusted: float, alpha: float, min_effect: float) -> CaseChange:
    outcome = compare_stats.classify_change(change.delta or 0.0, p_adjusted, alpha=alpha, min_effect=min_effect)
    return replace(change, outcome=outcome, p_adjusted=p_adjusted)


def _one_sided(base: Mapping[Key, CaseStats], head: Mapping[Key, CaseStats], both: list[Key]) -> list[CaseChange]:
    """Cases only on one side, or without a scored trial on one side."""
    done = set(both)
    out = [CaseChange(k, "new", base.get(k), h) for k, h in head.items() if k not in done]
    out += [CaseChange(k, "removed", b, None) for k, b in base.items() if k not in head and k not in done]
    return out
