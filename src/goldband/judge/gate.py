"""May a rubric gate? Verdict notes for judged items, and the run's judge-error share.

A rubric with an ``agreement_floor`` gates only while its last recorded calibration
(``rubrics/NAME.agreement.json``) meets the floor *and* was measured on this rubric
file, this judge and this calibration file. Otherwise its scores are still computed
and shown, but they are non-gating (``Score.gating = False``) and the item says why.
``judge: {gate: always}`` (or ``--goldband-judge-gate always``) is the explicit
opt-out: such rubrics gate anyway, with a note.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from goldband.engine.plan import Outcome
from goldband.judge.calibrate import file_hash, read_record
from goldband.judge.rubric import Rubric
from goldband.judge.scoring import Gate
from goldband.results import Score, ScoredTrial, Verdict


def gate_for(rubric: Rubric, judge_hash: str, root: Path, policy: str, *, require_calibration: bool = False) -> Gate:
    reason = ungated_reason(rubric, judge_hash, root, require_calibration=require_calibration)
    if reason is None:
        return Gate()
    if policy == "always":
        return Gate(True, f"gating by request (judge gate: always) although {reason}")
    return Gate(False, reason)


def ungated_reason(rubric: Rubric, judge_hash: str, root: Path, *, require_calibration: bool = False) -> str | None:
    """None when the rubric may gate; else the reason, with the command that fixes it."""

    fix = f"run 'goldband judge calibrate {rubric.name}'"
    if rubric.inline is not None:
        return (f'inline rubric "{rubric.inline}" is not calibrated; to gate on it, move it to rubrics/NAME.yaml '
                "with a calibration file, or set 'judge: {gate: always}'")
    if rubric.floor is None:
        return f"rubric '{rubric.name}' has no agreement_floor and calibration is required" \
            if require_calibration else None
    record = read_record(rubric, root)
    if record is None:
        return f"rubric '{rubric.name}' was never calibrated; {fix}"
    if record.get("rubric_hash") != rubric.content_hash:
        return f"rubric '{rubric.name}' changed since its calibration; {fix}"
    if record.get("judge_hash") != judge_hash:
        return f"the judge of rubric '{rubric.name}' changed since calibration (was {record.get('judge_model')}); {fix}"
    if rubric.calibration is None or record.get("calibration_hash") != file_hash(rubric.calibration):
        return f"the calibration file of rubric '{rubric.name}' changed since calibration; {fix}"
    if not record.get("meets_floor"):
        problems = "; ".join(record.get("shortfalls") or ["below its floor"])
        return f"rubric '{rubric.name}' agreement is below its floor ({problems})"
    return None


def judge_scores(trials: Iterable[ScoredTrial]) -> list[tuple[ScoredTrial, Score]]:
    return [(t, s) for t in trials for s in t.scores if s.kind == "rubric"]


def adjust_verdict(verdict: Verdict, trials: Sequence[ScoredTrial]) -> Verdict:
    """Add judge notes to a verdict: non-gating rubrics and their results, judge errors.

    An item whose every score is non-gating (only uncalibrated rubrics) is itself
    marked non-gating: nothing trustworthy decided it.
    """
    scores = judge_scores(trials)
    if not scores:
        return verdict
    notes = [*_ungated_notes(scores), *_error_notes(scores)]
    decided = any(s.gating for t in trials for s in t.scores) or any(t.trial.error for t in trials)
    gating = verdict.gating and decided
    if not decided:
        notes.append("not gating: no check that may gate scored this item")
    return replace(verdict, gating=gating, notes=(*verdict.notes, *notes)) if notes else verdict


def _ungated_notes(scores: list[tuple[ScoredTrial, Score]]) -> list[str]:
    notes = []
    for label in dict.fromkeys(s.check for _, s in scores if not s.gating):
        mine = [s for _, s in scores if s.check == label]
        tally = f"{sum(s.outcome == 'pass' for s in mine)}/{len(mine)} pass"
        reason = (mine[0].meta or {}).get("gate") or "not calibrated"
        notes.append(f"{label}: {tally}, reported but not gating ({reason})")
    return notes


def _error_notes(scores: list[tuple[ScoredTrial, Score]]) -> list[str]:
    errors = [(t, s) for t, s in scores if s.outcome == "error"]
    if not errors:
        return []
    samples = ", ".join(f"#{t.trial.sample}" for t, _ in errors[:5])
    return [f"judge errors in {len(errors)} of {len(scores)} rubric scores ({samples}): "
            "a judge/harness problem, not a model result"]


@dataclass(frozen=True)
class JudgeHealth:
    """The run's judge-error share against its limit."""

    scores: int
    errors: int
    limit: float
    examples: tuple[str, ...] = ()

    @property
    def share(self) -> float:
        return self.errors / self.scores if self.scores else 0.0

    @property
    def exceeded(self) -> bool:
        return self.scores > 0 and self.share > self.limit + 1e-12

    def line(self) -> str:
        return (f"goldband judge: {self.scores} rubric scores, {self.errors} errored "
                f"({self.share:.0%}, limit {self.limit:.0%})")

    def alarm(self) -> str:
        return (f"goldband: JUDGE ERROR — {self.errors} of {self.scores} rubric scores errored "
                f"({self.share:.0%} > limit {self.limit:.0%}): the judge or harness failed; "
                "this is not a model regression")


def health(outcomes: Iterable[Outcome], limit: float) -> JudgeHealth:
    """Count rubric scores and judge errors over a run's outcomes (items with .plan, .trials)."""
    total = errors = 0
    examples: list[str] = []
    for outcome in outcomes:
        for trial, score in judge_scores(outcome.trials):
            total += 1
            if score.outcome == "error":
                errors += 1
                if len(examples) < 3:
                    title = f"{outcome.plan.goldenset}::{trial.trial.case_id}[{trial.trial.target}]"
                    examples.append(f"{title} #{trial.trial.sample} {score.check}: {score.detail}")
    return JudgeHealth(total, errors, limit, tuple(examples))
