"""From judge samples to scores: combine samples, weight criteria, decide pass (pure).

Per criterion, the samples' levels combine by the rubric's ``combine`` (``mean``,
``median``; ``majority`` reports the mean). The rubric's value is the weighted mean
of the criteria, on the rubric's scale; it passes at ``>= pass`` (or the check's
``min_score``), except under ``majority``, where it passes when most samples'
own weighted scores pass. A single errored sample makes the whole rubric score an
*error*: an error is never averaged away.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from goldband.judge.reply import JudgeReply
from goldband.judge.rubric import Rubric
from goldband.results import Score

EVIDENCE_CHARS = 160


@dataclass(frozen=True)
class SampleResult:
    """One judge sample: a parsed reply, or the error that replaced it (with evidence)."""

    index: int
    reply: Any  # a JudgeReply (rubric) or a pairwise winner; None on error
    error: str | None = None
    evidence: str | None = None  # the raw reply, or the failure's message
    source: str = "live"  # live | cache | cassette | none
    error_kind: str | None = None  # unparseable, invalid, refusal, truncated, provider, cassette_miss, ...


@dataclass(frozen=True)
class Combined:
    weighted: float  # on the rubric's scale
    passed: bool
    criteria: dict[str, float]  # combined level per criterion


@dataclass(frozen=True)
class Gate:
    """Whether this rubric's scores decide verdicts, and why not."""

    gating: bool = True
    reason: str | None = None


def weighted(rubric: Rubric, levels: dict[str, float]) -> float:
    total = sum(c.weight for c in rubric.criteria)
    return sum(c.weight * levels[c.name] for c in rubric.criteria) / total


def combine(rubric: Rubric, replies: Sequence[JudgeReply], threshold: float) -> Combined:
    """Combine parsed samples (at least one) into the rubric's value and decision."""
    per_sample = [{c.name: float(c.score) for c in r.criteria} for r in replies]
    pick = statistics.median if rubric.combine == "median" else statistics.fmean
    criteria = {c.name: float(pick([s[c.name] for s in per_sample])) for c in rubric.criteria}
    value = weighted(rubric, criteria)
    if rubric.combine == "majority":
        votes = sum(weighted(rubric, s) >= threshold - 1e-9 for s in per_sample)
        passed = votes * 2 > len(per_sample)
    else:
        passed = value >= threshold - 1e-9
    return Combined(value, passed, criteria)


def rubric_scores(rubric: Rubric, label: str, threshold: float, results: Sequence[SampleResult], gate: Gate,
                  meta: dict[str, Any]) -> list[Score]:
    """The gating rubric score, then one non-gating score per criterion (none on error)."""
    meta = {**meta, "threshold": threshold, "sources": sorted({r.source for r in results}), "gate": gate.reason}
    failed = [r for r in results if r.error is not None or r.reply is None]
    if failed:
        return [error_score(label, failed, len(results), gate, meta)]
    replies = [r.reply for r in results if r.reply is not None]
    combined = combine(rubric, replies, threshold)
    meta = {**meta, "weighted": round(combined.weighted, 4), "criteria": combined.criteria}
    detail = _detail(rubric, combined, threshold, replies[0]) + _gate_note(gate)
    evidence = "\n---\n".join(r.evidence or "" for r in results)
    main = Score(label, "pass" if combined.passed else "fail", rubric.normalise(combined.weighted), detail,
                 evidence=evidence, kind="rubric", gating=gate.gating, meta=meta)
    return [main, *_criterion_scores(rubric, label, threshold, combined, replies[0], meta)]


def error_score(label: str, failed: Sequence[SampleResult], n: int, gate: Gate, meta: dict[str, Any]) -> Score:
    first = failed[0]
    many = f" ({len(failed)} of {n} judge samples failed)" if n > 1 else ""
    detail = f"judge error: {first.error}{many}"
    if first.evidence and first.evidence not in (first.error or ""):
        detail += f"; evidence: {_clip(first.evidence)}"
    meta = {**meta, "error_kind": first.error_kind}
    return Score(label, "error", 0.0, detail + _gate_note(gate), evidence=first.evidence or first.error,
                 kind="rubric", gating=gate.gating, meta=meta)


def _criterion_scores(rubric: Rubric, label: str, threshold: float, combined: Combined, first: JudgeReply,
                      meta: dict[str, Any]) -> list[Score]:
    reasons = first.by_name()
    return [Score(f"{label}[{c.name}]", "pass" if combined.criteria[c.name] >= threshold - 1e-9 else "fail",
                  rubric.normalise(combined.criteria[c.name]),
                  f"{_level(combined.criteria[c.name])}/{rubric.scale_max}: {reasons[c.name].reasoning}",
                  kind="rubric-criterion", gating=False,
                  meta={"rubric": meta.get("rubric"), "rubric_hash": meta.get("rubric_hash"),
                        "criterion": c.name, "weight": c.weight, "value": combined.criteria[c.name]})
            for c in rubric.criteria]


def _detail(rubric: Rubric, combined: Combined, threshold: float, first: JudgeReply) -> str:
    sign = ">=" if combined.passed else "<"
    parts = ", ".join(f"{c.name} {_level(combined.criteria[c.name])}" for c in rubric.criteria)
    text = f"{combined.weighted:.2f}/{rubric.scale_max} {sign} pass {threshold:g} ({parts})"
    if not combined.passed:
        worst = min(rubric.criteria, key=lambda c: combined.criteria[c.name])
        text += f"; {worst.name}: {_clip(first.by_name()[worst.name].reasoning)}"
    return text


def _gate_note(gate: Gate) -> str:
    if not gate.gating:
        return f" [not gating: {gate.reason}]"
    return f" [{gate.reason}]" if gate.reason else ""


def _level(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def _clip(text: str, limit: int = EVIDENCE_CHARS) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")
