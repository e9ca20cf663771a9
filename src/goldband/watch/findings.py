"""What one window found, in the words and series everything downstream reads.

Pure functions from a tested window (``Tested``: the whole window's
``WindowCheck``, its data-quality results and its segments) to the
``WindowSummary`` printed by ``goldband monitor check``, the alert
``Observation``s (``feature:NAME``, ``joint_drift``, ``input_drift``,
``output:*``, ``output_drift``, ``quality:*``, ``data_quality``, per segment
with a ``segment`` label), the ``DriftEvent``s and the series points.
``goldband.watch.runner`` reads the store, tests, and writes these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from goldband.alerts.rules import Observation
from goldband.store.models import DriftEvent, SeriesPoint

if TYPE_CHECKING:
    from goldband.watch.checks import WindowCheck
    from goldband.watch.db import StoredPrediction
    from goldband.watch.quality import RuleResult
    from goldband.watch.reference import Reference
    from goldband.watch.rows import TestRow
    from goldband.watch.segments import SegmentResult

__all__ = ["Tested", "WindowSummary", "describe", "events", "observations", "points", "window_summary"]

SOURCE = "classic-ml"


@dataclass(frozen=True)
class WindowSummary:
    window: int
    start: str
    end: str
    rows: int
    input_drifted: bool
    output_drifted: bool
    drifted_features: list[str]
    drifted_outputs: list[str]
    title: str  # "churn v1 window 6 (500 predictions to 2026-05-01T12:00)"
    summary: str  # the title and what drifted
    status: str = "tested"  # tested | empty | too_small (calendar windows)
    segments_drifted: list[str] = field(default_factory=list)  # "country=DE"
    quality_violated: list[str] = field(default_factory=list)  # "age.min", "country=DE:age.min"
    segments_small: list[str] = field(default_factory=list)  # segments with rows, too few to test
    segments_unseen: list[str] = field(default_factory=list)  # segment values the reference does not have
    new_values: dict[str, str] = field(default_factory=dict)  # drifted feature -> "12.5% out of range" | "3% unseen"


@dataclass(frozen=True)
class Tested:
    """One window's tests: the whole window, its quality rules, its segments."""

    result: WindowCheck
    quality: list[RuleResult]
    segments: list[SegmentResult]

    def to_json(self) -> dict[str, Any]:
        return {**self.result.to_json(), "status": "tested", "quality": [q.to_json() for q in self.quality],
                "segments": [g.to_json() for g in self.segments]}


def window_summary(ref: Reference, index: int, rows: list[StoredPrediction], tested: Tested,
                    title: str) -> WindowSummary:
    result = tested.result
    text = title + _drift_text(result, len(ref.spec.features))
    broken = [q for q in tested.quality if q.violated]
    if broken:
        text += f"; data quality: {len(broken)} rule(s) broken: " + "; ".join(q.summary() for q in broken)
    drifted = [g for g in tested.segments if g.check is not None and (g.input_drifted or g.output_drifted)]
    if drifted:
        text += "; drift in segment(s) " + "; ".join(f"{g.label} ({', '.join(_moved(g.check))})"
                                                      for g in drifted if g.check is not None)
    return WindowSummary(index, rows[0].time, rows[-1].time, len(rows), result.input_drifted, result.output_drifted,
                         result.drifted_features, result.drifted_outputs, title, text,
                         segments_drifted=[g.label for g in drifted],
                         quality_violated=[q.name for q in broken]
                         + [f"{g.label}:{name}" for g in tested.segments for name in g.violated],
                         segments_small=[g.label for g in tested.segments if g.status == "too_small" and g.rows],
                         segments_unseen=[g.label for g in tested.segments if g.status == "unseen"],
                         new_values=_new_values(result))


def _new_values(result: WindowCheck) -> dict[str, str]:
    """The share of never-seen values of each drifted feature that has any (the drift that matters most)."""
    found = {}
    for t in result.features:
        if t.drifted and (t.out_of_range_share or t.unseen_share):
            found[t.name] = (f"{t.out_of_range_share:.1%} out of range" if t.out_of_range_share
                             else f"{t.unseen_share:.1%} unseen")
    return found


def _moved(check: WindowCheck) -> list[str]:
    return [*check.drifted_features, *check.drifted_outputs]


def _drift_text(result: WindowCheck, features: int) -> str:
    parts = [describe(t) for t in result.features if t.drifted]
    outputs = [describe(t) for t in result.outputs if t.drifted]
    joint = result.joint if result.joint is not None and result.joint.drifted else None
    text = ""
    if result.input_drifted:
        text += f": input drift in {len(result.drifted_features)} of {features} features" + (
            ": " + "; ".join(parts) if parts else "") + (
            f"{'; ' if parts else ': '}jointly: {describe(joint)}" if joint is not None else "")
    if result.output_drifted:
        text += ("; " if result.input_drifted else ": ") + "output drift: " + "; ".join(outputs)
    if not (result.input_drifted or result.output_drifted):
        text += ": no drift"
    return text


def describe(t: TestRow) -> str:
    what = f"{t.name} missing share" if t.kind == "missing" else t.name
    p = f", p={t.p_adjusted:.2g}" if t.p_adjusted is not None else ""
    return f"{what} ({t.test} {t.statistic:.3g}, effect {t.effect:.3g}{p}; {t.value} vs {t.reference})"


def observations(ref: Reference, s: WindowSummary, tested: Tested, labels: dict[str, str]) -> list[Observation]:
    """A window's alert observations; ``labels``: its scope's (version, and environment outside the default)."""
    obs = _window_observations(ref, s, tested.result, labels) + _quality_observations(ref, s, tested.quality, labels)
    for g in tested.segments:
        if g.check is None:
            continue
        seg_labels = {**labels, "segment": g.label}
        seg = _segment_summary(ref, s, g)
        obs += _window_observations(ref, seg, g.check, seg_labels)
        obs += _quality_observations(ref, seg, g.quality, seg_labels)
    return obs


def _segment_summary(ref: Reference, s: WindowSummary, g: SegmentResult) -> WindowSummary:
    assert g.check is not None
    title = f"{s.title} [{g.label}, {g.rows} predictions]"
    text = title + _drift_text(g.check, len(ref.spec.features) - 1)
    return replace(s, rows=g.rows, input_drifted=g.input_drifted, output_drifted=g.output_drifted,
                   drifted_features=g.check.drifted_features, drifted_outputs=g.check.drifted_outputs,
                   title=title, summary=text)


def _window_observations(ref: Reference, s: WindowSummary, result: WindowCheck,
                         labels: dict[str, str]) -> list[Observation]:
    obs = []
    details = {"window": s.window, "start": s.start, "rows": s.rows}
    for name in dict.fromkeys(t.name for t in result.features):
        tests = [t for t in result.features if t.name == name]
        main = next((t for t in tests if t.kind != "missing"), tests[0])
        hit = next((t for t in tests if t.drifted), None)
        obs.append(Observation(SOURCE, ref.model, f"feature:{name}", s.end, main.effect, hit is not None, labels,
                               (hit or main).test, f"{s.title}: " + describe(hit or main), details))
    for t in result.outputs:
        obs.append(Observation(SOURCE, ref.model, f"output:{t.name}", s.end, t.effect, t.drifted, labels, t.test,
                               f"{s.title}: " + describe(t), details))
    j = result.joint
    if j is not None and j.p_value is not None:  # the joint test ran (not skipped)
        obs.append(Observation(SOURCE, ref.model, "joint_drift", s.end, j.effect, j.drifted, labels, j.test,
                               f"{s.title}: " + describe(j), details))
    share = len(result.drifted_features) / max(1, len({t.name for t in result.features}))
    obs.append(Observation(SOURCE, ref.model, "input_drift", s.end, share, s.input_drifted, labels,
                           None, s.summary, {**details, "features": s.drifted_features}))
    alone = s.output_drifted and not s.input_drifted  # outputs that follow moved inputs are that incident
    obs.append(Observation(SOURCE, ref.model, "output_drift", s.end, float(len(s.drifted_outputs)), alone,
                           labels, None, s.summary, {**details, "outputs": s.drifted_outputs}))
    return obs


def _quality_observations(ref: Reference, s: WindowSummary, quality: list[RuleResult],
                          labels: dict[str, str]) -> list[Observation]:
    """``quality:FEATURE.RULE`` (the violating share) per rule and ``data_quality`` (rules broken) per window."""
    if not quality:
        return []
    details = {"window": s.window, "start": s.start, "rows": s.rows}
    obs = [Observation(SOURCE, ref.model, f"quality:{q.name}", s.end, None if math.isnan(q.share) else q.share,
                       q.violated, labels, "rule", f"{s.title}: {q.summary()}", details) for q in quality]
    broken = [q for q in quality if q.violated]
    text = f"{s.title}: " + ("; ".join(q.summary() for q in broken) if broken else "every data-quality rule holds")
    obs.append(Observation(SOURCE, ref.model, "data_quality", s.end, float(len(broken)), bool(broken), labels,
                           "rule", text, {**details, "rules": [q.name for q in broken]}))
    return obs


def events(ref: Reference, s: WindowSummary, tested: Tested, labels: dict[str, str]) -> list[DriftEvent]:
    events = _window_events(ref, s, tested.result, labels)
    for g in tested.segments:
        if g.check is not None:
            events += _window_events(ref, s, g.check, {**labels, "segment": g.label})
    return events


def _window_events(ref: Reference, s: WindowSummary, result: WindowCheck, labels: dict[str, str]) -> list[DriftEvent]:
    events = []
    for t in [*result.features, *result.outputs, *([result.joint] if result.joint is not None else [])]:
        if t.drifted:
            metric = {"output": f"output:{t.name}", "multivariate": "joint_drift"}.get(t.kind, f"feature:{t.name}")
            events.append(DriftEvent(t.test, SOURCE, ref.model, metric, t.statistic, s.end, dict(labels),
                                     t.p_adjusted, t.threshold, {"window": s.window, **t.to_json()}))
    return events


def points(observations: list[Observation]) -> list[SeriesPoint]:
    """Series points of the observations with a value; an ``environment`` label is also the point's column."""
    return [SeriesPoint(o.source, o.model, o.metric, o.value, o.time, dict(o.labels),
                        environment=o.labels.get("environment")) for o in observations
            if o.value is not None and o.metric != "concept_drift"]
