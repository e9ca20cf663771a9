"""The fixed-N verdict: from N trials of one case to PASS, FAIL, INCONCLUSIVE or ERROR.

:func:`decide` reads the interval of the pass rate: PASS when its lower bound
clears ``min_pass_rate``, FAIL when its upper bound lies below, INCONCLUSIVE when
it straddles. :func:`settled_verdict` says when the remaining runs can no longer
change that verdict (curtailment: same verdicts, fewer calls).
:func:`min_runs_to_pass` says how many runs a PASS needs at all. Pure functions
with keyword-only knobs; intervals come from :mod:`goldband.bands.intervals`.

>>> decide(10, 10, min_pass_rate=0.8, confidence=0.9).verdict  # 10 runs cannot show >= 0.8
'INCONCLUSIVE'
>>> min_runs_to_pass(min_pass_rate=0.8, confidence=0.9)
11
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from goldband.bands.intervals import (
    Interval,
    IntervalMethod,
    mean_interval,
    proportion_interval,
    valid_counts,
    valid_rate,
)
from goldband.bands.intervals import min_runs_to_pass as min_runs_to_pass  # re-exported: part of deciding

Decided = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR"]


@dataclass(frozen=True, slots=True)
class Decision:
    """One case's verdict, with the bound that decided it and the evidence.

    ``bound`` names the deciding rule: ``error_rate``, ``no_trials``,
    ``pass_rate.low`` / ``.high`` / ``.straddle`` / ``.exact``,
    ``score.low`` / ``.high`` / ``.straddle``, ``spread``.
    """

    verdict: Decided
    bound: str
    reason: str
    n: int
    passes: int
    errors: int
    pass_rate: float  # over scored trials; NaN when none was scored
    interval: Interval
    mean_score: float | None = None
    score_interval: Interval | None = None
    std: float | None = None


_SEVERITY: dict[Decided, int] = {"PASS": 0, "INCONCLUSIVE": 1, "FAIL": 2, "ERROR": 3}


def _rate_rule(
    passes: int, scored: int, bar: float, interval: Interval
) -> tuple[Decided, str, str]:
    """Pass-rate part of the band; ``bar == 1.0`` uses the exact never-fails rule."""
    low, high = interval
    if bar == 1.0:
        if passes == scored:
            return "PASS", "pass_rate.exact", f"all {scored} scored trials passed (bar 1.0)"
        return "FAIL", "pass_rate.exact", f"{scored - passes} of {scored} failed (bar 1.0)"
    if low >= bar:
        return "PASS", "pass_rate.low", f"lower bound {low:.3f} >= min_pass_rate {bar:g}"
    if high < bar:
        return "FAIL", "pass_rate.high", f"upper bound {high:.3f} < min_pass_rate {bar:g}"
    return "INCONCLUSIVE", "pass_rate.straddle", f"[{low:.3f}, {high:.3f}] straddles {bar:g}"


def _score_rule(interval: Interval, min_score: float) -> tuple[Decided, str, str]:
    low, high = interval
    if math.isnan(low):
        return "INCONCLUSIVE", "score.straddle", "fewer than 2 scores: no interval"
    if low >= min_score:
        return "PASS", "score.low", f"score lower bound {low:.3f} >= min_score {min_score:g}"
    if high < min_score:
        return "FAIL", "score.high", f"score upper bound {high:.3f} < min_score {min_score:g}"
    return (
        "INCONCLUSIVE",
        "score.straddle",
        f"score [{low:.3f}, {high:.3f}] straddles {min_score:g}",
    )


def _spread_rule(std: float, max_std: float) -> tuple[Decided, str, str]:
    if math.isnan(std):
        return "INCONCLUSIVE", "spread", "fewer than 2 scores: spread undefined"
    if std > max_std:
        return "FAIL", "spread", f"score std {std:.3f} > max_std {max_std:g}"
    return "PASS", "spread", f"score std {std:.3f} <= max_std {max_std:g}"


def decide(  # 10 parameters: one band's knobs, all keyword-only with defaults
    passes: int,
    n: int,
    *,
    errors: int = 0,
    min_pass_rate: float,
    confidence: float = 0.9,
    max_error_rate: float = 0.0,
    method: IntervalMethod = "wilson",
    scores: ArrayLike | None = None,
    min_score: float | None = None,
    max_std: float | None = None,
) -> Decision:
    """Turn one case's trials into PASS, FAIL, INCONCLUSIVE or ERROR.

    ``n`` counts all trials, ``errors`` those that could not be scored; the pass
    rate is over the ``n - errors`` scored ones. Errors are gated, not averaged:
    ERROR when ``errors / n > max_error_rate`` or nothing was scored. Then each
    rule gives a verdict and the worst wins (FAIL > INCONCLUSIVE > PASS):

    * pass rate: PASS if the interval's lower bound >= ``min_pass_rate``, FAIL if
      its upper bound < it. A wrong PASS or FAIL happens at most about
      ``(1 - confidence) / 2`` of the time (at most exactly, with Clopper-Pearson).
    * ``min_pass_rate == 1.0`` means "never fails": no lower bound reaches 1.0,
      so the interval rule could never PASS. The exact rule is used instead: a
      failure FAILs (it proves p < 1, with no error at all), and PASS means no
      failure was observed (the reported interval says what that shows, e.g.
      p >= 0.79 after 10/10 at confidence 0.9).
    * ``min_score`` (needs ``scores``): the same rule on the mean score's interval.
    * ``max_std``: FAIL if the scores' sample std exceeds it -- a stability limit
      on the observed trials, not an inference.

    With no trials at all the verdict is INCONCLUSIVE (``bound == "no_trials"``).
    """
    passes, scored, errors = _trial_counts(passes, n, errors)
    bar, max_error_rate = valid_rate(min_pass_rate), valid_rate(max_error_rate, "max_error_rate")
    interval = proportion_interval(passes, scored, confidence=confidence, method=method)
    rate = passes / scored if scored else math.nan
    found = Decision(
        "INCONCLUSIVE", "no_trials", "no trials were run", n, passes, errors, rate, interval
    )
    if n == 0:
        return found
    if errors / n > max_error_rate or scored == 0:
        why = f"{errors} of {n} trials errored (max_error_rate {max_error_rate:g})"
        return replace(found, verdict="ERROR", bound="error_rate", reason=why)
    rules = [_rate_rule(passes, scored, bar, interval)]
    if min_score is not None or max_std is not None:
        if scores is None:
            raise ValueError("min_score and max_std need the trials' scores (scores=...)")
        found, score_rules = _score_rules(found, scores, min_score, max_std, confidence)
        rules += score_rules
    verdict, bound, reason = max(rules, key=lambda rule: _SEVERITY[rule[0]])
    return replace(found, verdict=verdict, bound=bound, reason=reason)


def _trial_counts(passes: int, n: int, errors: int) -> tuple[int, int, int]:
    """Validate passes + failures + errors == n; returns (passes, scored, errors)."""
    errors, n = operator.index(errors), operator.index(n)
    if not 0 <= errors <= max(n, 0):
        raise ValueError(f"need 0 <= errors <= n, got errors={errors}, n={n}")
    passes, scored = valid_counts(passes, n - errors)
    return passes, scored, errors


def _score_rules(
    found: Decision,
    scores: ArrayLike,
    min_score: float | None,
    max_std: float | None,
    confidence: float,
) -> tuple[Decision, list[tuple[Decided, str, str]]]:
    """Score and spread rules, and the decision's evidence extended with them."""
    x = np.asarray(scores, dtype=float).ravel()
    std = float(x.std(ddof=1)) if x.size > 1 else math.nan
    ci = mean_interval(x, confidence=confidence) if min_score is not None else None
    found = replace(
        found, mean_score=float(x.mean()) if x.size else math.nan, score_interval=ci, std=std
    )
    rules = [] if ci is None or min_score is None else [_score_rule(ci, min_score)]
    if max_std is not None:
        rules.append(_spread_rule(std, max_std))
    return found, rules


def settled_verdict(
    passes: int,
    n: int,
    *,
    runs: int,
    min_pass_rate: float,
    confidence: float = 0.9,
    method: IntervalMethod = "wilson",
) -> Decided | None:
    """The verdict ``runs`` trials will give, if no remaining outcome can change it.

    Curtailment of the fixed-N pass-rate rule: stop early with *exactly* the
    verdict the full N would give (so its error rates are unchanged), else None.
    Both bounds are monotone in passes, so checking the two extremes -- every
    remaining trial fails, every one passes -- covers all outcomes in between.
    Scores and errors are not covered: with a score band, run all N.
    """
    passes, n = valid_counts(passes, n)
    if n > runs:
        raise ValueError(f"n={n} trials exceed the planned runs={runs}")
    ends = {
        decide(k, runs, min_pass_rate=min_pass_rate, confidence=confidence, method=method).verdict
        for k in (passes, passes + runs - n)
    }
    return ends.pop() if len(ends) == 1 else None
