"""Bands: turn the trials of one case into one honest verdict (pure functions).

Two questions, both answered from counts and scores only:

- ``next_batch``: does this case need more trials right now, and how many?
  Fixed ``runs: N`` runs N; adaptive ``min_runs``/``max_runs`` runs the
  sequential test (an SPRT, see ``goldband.bands.sprt.sequential_decision``) whose
  error rates hold however often it is looked at.
- ``verdict``: PASS, FAIL, INCONCLUSIVE or ERROR, with the pass-rate interval,
  the score interval, the spread, and the rule that decided. Fixed N uses the
  interval rule (``goldband.bands.decide``); adaptive uses the SPRT for the pass rate
  and the interval rule for scores and spread. The worst rule wins.

Errors are a third outcome: they never count as passes, and more than
``max_error_rate`` of them makes the case ERROR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from goldband._util.lazy import LazyModule

if TYPE_CHECKING:
    from goldband.bands import decide, sprt
else:  # scipy costs ~1.3 s: imported on first use (the session warms it on a side thread)
    decide, sprt = LazyModule("goldband.bands.decide"), LazyModule("goldband.bands.sprt")
from goldband.bands.spec import Band, Runs
from goldband.results import ScoredTrial, Status, Verdict

_SEVERITY = {"PASS": 0, "INCONCLUSIVE": 1, "FAIL": 2, "ERROR": 3}

@dataclass(frozen=True)
class Counts:
    n: int
    passes: int
    fails: int
    errors: int
    scores: tuple[float, ...]  # one per scored trial with checks

    @property
    def scored(self) -> int:
        return self.passes + self.fails

    def room(self, runs: Runs) -> int:
        """The most *scored* trials the case can reach: errored trials used up runs too."""
        return max(self.scored, runs.max - self.errors)


def counts(trials: Sequence[ScoredTrial]) -> Counts:
    outcomes = [t.outcome for t in trials]
    scores = tuple(s for t in trials if (s := t.score) is not None)
    return Counts(len(trials), outcomes.count("pass"), outcomes.count("fail"), outcomes.count("error"), scores)


def fails_item(result: Verdict, policy: str) -> bool:
    """Whether the pytest item fails: FAIL and ERROR do; INCONCLUSIVE unless the policy is warn;
    a non-gating verdict (quarantined, uncalibrated judge) never does."""
    if not result.gating or result.status in ("PASS", "QUARANTINED"):
        return False
    return not (result.status == "INCONCLUSIVE" and policy == "warn")


def next_batch(trials: Sequence[ScoredTrial], band: Band, runs: Runs) -> int:
    """How many more trials this case needs now; 0 once its verdict is settled.

    Adaptive cases ask for the fewest trials that could settle them (all passing
    could reach the SPRT's PASS threshold, or all failing its FAIL threshold).
    """
    c = counts(trials)
    if c.n < runs.min:
        return runs.min - c.n
    if runs.fixed or c.n >= runs.max or _errors_decide(c, band):
        return 0
    step, _ = _adaptive_step(c, band, runs)
    if step != "CONTINUE":
        return 0
    return min(runs.max - c.n, _fewest_to_decide(c, band, runs))


def verdict(trials: Sequence[ScoredTrial], band: Band, runs: Runs, *, stopped: str | None = None,
            quarantine: str | None = None, notes: Sequence[str] = ()) -> Verdict:
    """The case's verdict; ``stopped`` explains an adaptive case cut short (e.g. the budget),
    ``quarantine`` (from history) makes it QUARANTINED: shown, never gating."""
    result = _verdict(trials, band, runs, stopped)
    if notes:
        result = replace(result, notes=(*notes, *result.notes))
    if quarantine is not None:
        result = replace(result, status="QUARANTINED", gating=False,
                         reason=f"{quarantine}; this run alone: {result.status} ({result.reason})")
    return result


def _verdict(trials: Sequence[ScoredTrial], band: Band, runs: Runs, stopped: str | None) -> Verdict:
    c = counts(trials)
    if c.n == 0:
        return Verdict("ERROR", 0, 0, 0, 0, stopped or "no trials ran", bound="no_trials", runs_planned=runs.max)
    decision = decide.decide(
        c.passes, c.n, errors=c.errors, min_pass_rate=band.min_pass_rate, confidence=band.confidence,
        max_error_rate=band.max_error_rate, scores=c.scores if _scored_band(band) else None,
        min_score=band.min_score if c.scores else None, max_std=band.max_std if c.scores else None)
    result = _from_decision(decision, c, band, runs)
    if runs.adaptive and result.status != "ERROR":
        result = _with_sequential(result, c, band, runs, stopped)
    return _with_notes(result, c, band, runs)


def _from_decision(d: Any, c: Counts, band: Band, runs: Runs) -> Verdict:
    low, high = d.interval
    score_low, score_high = d.score_interval if d.score_interval else (None, None)
    mean = sum(c.scores) / len(c.scores) if c.scores else None
    return Verdict(
        status="ERROR" if d.verdict == "ERROR" else d.verdict, n=c.n, passes=c.passes, fails=c.fails,
        errors=c.errors, reason=d.reason, mean_score=mean, bound=d.bound, pass_rate_low=_num(low),
        pass_rate_high=_num(high), confidence=band.confidence, score_low=_num(score_low),
        score_high=_num(score_high), std=_num(d.std), runs_planned=runs.max,
    )


def _with_sequential(result: Verdict, c: Counts, band: Band, runs: Runs, stopped: str | None) -> Verdict:
    """Adaptive: the stopping rule decides the pass-rate part; score/spread rules still apply."""
    step, reason = _adaptive_step(c, band, runs)
    status: Status
    if step == "CONTINUE":
        status, reason = "INCONCLUSIVE", f"stopped after {c.n} of up to {runs.max} runs: {stopped or 'undecided'}"
    else:
        status = "PASS" if step == "PASS" else "FAIL" if step == "FAIL" else "INCONCLUSIVE"
    bound = f"{band.sequential}.{status.lower()}"
    score_part = _score_rules(c, band)  # decide() may have reported a tied pass-rate rule instead
    if score_part is not None and _SEVERITY[score_part.verdict] > _SEVERITY[status]:
        return replace(result, status=score_part.verdict, reason=score_part.reason, bound=score_part.bound)
    return replace(result, status=status, reason=reason, bound=bound)


def _score_rules(c: Counts, band: Band) -> decide.Decision | None:
    """The score and spread rules alone (a pass-rate bar of 0 always PASSes); None without them."""
    if not c.scores or not _scored_band(band):
        return None
    return decide.decide(c.passes, c.n, errors=c.errors, min_pass_rate=0.0, confidence=band.confidence,
                        max_error_rate=1.0, scores=c.scores, min_score=band.min_score, max_std=band.max_std)


def _adaptive_step(c: Counts, band: Band, runs: Runs) -> tuple[str, str]:
    """The adaptive rule's step (PASS, FAIL, INCONCLUSIVE, CONTINUE) and why."""
    if c.scored == 0:
        return "CONTINUE", "no scored trial yet"
    if band.sequential == "interval":
        return _interval_step(c, band, runs)
    step = _sequential(c, band, runs)
    if step == "CONTINUE" and c.scored >= runs.min and sprt.sprt_futile(
            c.passes, c.scored, max_runs=c.room(runs), min_pass_rate=band.min_pass_rate, confidence=band.confidence,
            indifference=band.indifference, futility=band.futility):
        return "INCONCLUSIVE", _futile_reason(c, band, runs)
    return step, _sprt_reason(step, c, band, runs)


def _interval_step(c: Counts, band: Band, runs: Runs) -> tuple[str, str]:
    room = c.room(runs)
    step = sprt.interval_step(c.passes, c.scored, max_runs=room, min_runs=runs.min,
                                    min_pass_rate=band.min_pass_rate, confidence=band.confidence,
                                    futility=band.futility)
    left = room - c.scored
    if step in ("PASS", "FAIL"):
        tail = f": whatever the other {left} runs show, {room} runs give {step}" if left else ""
        return step, f"{c.passes}/{c.scored} passed{tail} (interval rule, bar {band.min_pass_rate:g})"
    if step == "INCONCLUSIVE" and left and not decide.settled_verdict(
            c.passes, c.scored, runs=room, min_pass_rate=band.min_pass_rate, confidence=band.confidence):
        return step, _futile_reason(c, band, runs)
    return step, f"{c.passes}/{c.scored} passed: the {room}-run interval straddles {band.min_pass_rate:g}"


def _futile_reason(c: Counts, band: Band, runs: Runs) -> str:
    return (f"{c.passes}/{c.scored} passed; stopped early: the chance of a PASS or FAIL within {runs.max} runs "
            f"was below futility {band.futility:g}")


def _sprt_reason(step: str, c: Counts, band: Band, runs: Runs) -> str:
    if band.min_pass_rate in (0.0, 1.0):
        return f"{c.passes}/{c.scored} passed (bar {band.min_pass_rate:g}, exact rule)"
    low, high = _zone(band)
    if step == "PASS":
        return f"{c.passes}/{c.scored} passed: sequential test favours p >= {high:.2f} over p <= {low:.2f}"
    if step == "FAIL":
        return f"{c.passes}/{c.scored} passed: sequential test favours p <= {low:.2f} over p >= {high:.2f}"
    left = runs.max - c.n
    tail = f"the other {left} allowed runs could not settle it" if left else f"all {runs.max} runs used"
    return f"{c.passes}/{c.scored} passed; {tail}: the rate looks between {low:.2f} and {high:.2f} (undecided zone)"


def _zone(band: Band) -> tuple[float, float]:
    plan = sprt.sprt_plan(min_pass_rate=band.min_pass_rate, confidence=band.confidence,
                           indifference=band.indifference)
    return plan.p0, plan.p1


def _sequential(c: Counts, band: Band, runs: Runs) -> str:
    return sprt.sequential_decision(
        c.passes, c.scored, min_pass_rate=band.min_pass_rate, confidence=band.confidence,
        min_runs=min(runs.min, c.scored), max_runs=c.room(runs), indifference=band.indifference)


def _fewest_to_decide(c: Counts, band: Band, runs: Runs) -> int:
    """The fewest further trials whose outcome could settle the case (>= 1)."""
    if band.sequential == "interval":
        return _fewest_interval(c, band, runs)
    if band.min_pass_rate == 1.0:
        return max(1, runs.max - c.n)  # only all of max_runs can show "never fails": ask at once
    if band.min_pass_rate == 0.0:
        return 1
    plan = sprt.sprt_plan(min_pass_rate=band.min_pass_rate, confidence=band.confidence,
                           indifference=band.indifference)
    llr = plan.llr(c.passes, c.scored)
    to_pass = math.ceil((-math.log(plan.alpha) - llr) / plan.step_pass)
    to_fail = math.ceil((math.log(plan.beta) - llr) / plan.step_fail)
    return max(1, min(to_pass, to_fail))


def _fewest_interval(c: Counts, band: Band, runs: Runs) -> int:
    room = c.room(runs)
    for more in range(1, room - c.scored + 1):
        for passes in (c.passes, c.passes + more):
            if decide.settled_verdict(passes, c.scored + more, runs=room, min_pass_rate=band.min_pass_rate,
                                     confidence=band.confidence) is not None:
                return more
    return max(1, room - c.scored)


def _errors_decide(c: Counts, band: Band) -> bool:
    """More errors than allowed already: more trials would spend calls on a harness problem."""
    return c.n > 0 and c.errors / c.n > band.max_error_rate


def _scored_band(band: Band) -> bool:
    return band.min_score is not None or band.max_std is not None


def _with_notes(result: Verdict, c: Counts, band: Band, runs: Runs) -> Verdict:
    notes = list(result.notes)
    if runs.fixed and result.status == "INCONCLUSIVE" and band.min_pass_rate < 1.0:
        need = decide.min_runs_to_pass(min_pass_rate=band.min_pass_rate, confidence=band.confidence)
        if runs.max < need:
            notes.append(f"{runs.max} runs can never PASS min_pass_rate {band.min_pass_rate:g} at confidence "
                         f"{band.confidence:g}: at least {need} are needed (or set min_runs/max_runs)")
    return replace(result, notes=tuple(notes)) if notes != list(result.notes) else result


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)
