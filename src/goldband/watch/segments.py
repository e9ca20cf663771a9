"""Segments: each window tested again per value of a column (``segments: [country]``).

A drift confined to one country can hide in the whole window's tests; so for
every segment column and every value the reference has at least
``min_segment_rows`` rows of, the window's rows with that value are tested
against the reference's rows with that value (input drift, outputs, quality
rules), the segment column itself left out of the features. A value with too
few rows in the window or in the reference is reported as too small, not
tested; a value the reference never had is reported as unseen (its rows
counted), and rows without a value as missing.

Multiple testing: one window yields (segments x tests) p-values, so the
**Benjamini-Hochberg adjustment runs across every segment's tests of the
window together** (features and outputs), at the model's ``alpha``; an effect
of at least ``min_effect`` is still needed. The whole-window tests keep their
own adjustment (``goldband.watch.checks``).

A segment column is a feature of the reference or any other column of the
reference file (then logged inside the prediction's features); a column the
reference does not have, or a numeric one, is a ``MonitorError`` naming it
and the reference's columns.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from goldband.errors import MonitorError
from goldband.monitors import fdr
from goldband.watch.checks import TestRow, WindowCheck, check_window, window_columns
from goldband.watch.quality import Rule, RuleResult, evaluate
from goldband.watch.records import category_key
from goldband.watch.tables import read_rows

if TYPE_CHECKING:
    from goldband.config.monitors import ModelMonitorConfig
    from goldband.watch.db import StoredPrediction
    from goldband.watch.reference import Reference

__all__ = ["SegmentPlan", "SegmentResult", "check_segments", "plan_segments"]


@dataclass(frozen=True)
class SegmentPlan:
    """One segment column: the reference cut by its values."""

    column: str
    references: dict[str, Reference]  # value -> the reference's rows with it (values with enough rows)
    small: dict[str, int] = field(default_factory=dict)  # value -> reference rows, too few to test


@dataclass(frozen=True)
class SegmentResult:
    """One segment value in one window."""

    column: str
    value: str | None
    status: str  # tested | too_small | unseen | missing
    rows: int
    reference_rows: int = 0
    check: WindowCheck | None = None
    quality: list[RuleResult] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The ``segment`` label of its series: ``country=DE``."""
        return f"{self.column}={self.value}"

    @property
    def input_drifted(self) -> bool:
        return bool(self.check and self.check.input_drifted)

    @property
    def output_drifted(self) -> bool:
        return bool(self.check and self.check.output_drifted)

    @property
    def violated(self) -> list[str]:
        return [q.name for q in self.quality if q.violated]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"segment": self.label, "column": self.column, "value": self.value,
                                "status": self.status, "rows": self.rows, "reference_rows": self.reference_rows}
        if self.check is not None:
            data.update(input_drifted=self.input_drifted, output_drifted=self.output_drifted,
                        drifted_features=self.check.drifted_features, drifted_outputs=self.check.drifted_outputs,
                        **{k: v for k, v in self.check.to_json().items() if k in ("features", "outputs")})
            data.update(quality=[q.to_json() for q in self.quality], quality_violated=self.violated)
        return data


# -- planning (once per check) -------------------------------------------------------------------


def plan_segments(ref: Reference, columns: Sequence[str], *, min_rows: int, root: Path | None = None,
                  where: str = "segments") -> list[SegmentPlan]:
    """The reference cut by each segment column; MonitorError for a column it does not have or a numeric one."""
    plans = []
    for column in columns:
        keys = _reference_keys(ref, column, root, where)
        counts = Counter(k for k in keys if k is not None)
        refs = {v: _subset(ref, keys, v, column) for v, n in counts.items() if n >= min_rows}
        plans.append(SegmentPlan(column, refs, {v: n for v, n in counts.items() if n < min_rows}))
    return plans


def _reference_keys(ref: Reference, column: str, root: Path | None, where: str) -> list[str | None]:
    if column in ref.categorical:
        return ref.categorical[column]
    if column in ref.numeric:
        levels = len(np.unique(ref.numeric[column][~np.isnan(ref.numeric[column])]))
        raise MonitorError(f"segment column {column!r} is numeric in the reference ({levels} distinct values)",
                           where=where, expected="a categorical column (a country, a plan, a channel)",
                           fix=f"declare {column}: categorical in features if its values are labels, or log a "
                               "binned copy of it and segment by that")
    shown = Path(ref.path)
    rows = [row for _, row in read_rows(shown if shown.is_absolute() or root is None else root / shown)]
    names = list(dict.fromkeys(k for row in rows for k in row))
    if column not in names:
        near = difflib.get_close_matches(column, names, n=1)
        raise MonitorError(f"segment column {column!r} is not a column of the reference {ref.path}", where=where,
                           expected=f"one of the reference's columns: {', '.join(names)}",
                           fix=f"did you mean {near[0]!r}?" if near else "add the column to the reference, or "
                               "remove it from segments")
    return [category_key(row.get(column)) for row in rows]


def _subset(ref: Reference, keys: list[str | None], value: str, column: str) -> Reference:
    """The reference's rows whose ``column`` is ``value``, with ``column`` no longer a feature."""
    idx = [i for i, k in enumerate(keys) if k == value]
    at = np.array(idx, dtype=np.intp)
    features = {n: k for n, k in ref.spec.features.items() if n != column}
    return replace(ref, spec=replace(ref.spec, features=features), rows=len(idx),
                   numeric={n: v[at] for n, v in ref.numeric.items() if n != column},
                   categorical={n: [v[i] for i in idx] for n, v in ref.categorical.items() if n != column},
                   predictions=None if ref.predictions is None else [ref.predictions[i] for i in idx],
                   confidence=None if ref.confidence is None else ref.confidence[at],
                   labels=None if ref.labels is None else [ref.labels[i] for i in idx])


# -- one window -----------------------------------------------------------------------------------


def check_segments(plans: Sequence[SegmentPlan], rows: Sequence[StoredPrediction], cfg: ModelMonitorConfig,
                   rules: Sequence[Rule] = ()) -> list[SegmentResult]:
    """Every segment of every plan in one window; Benjamini-Hochberg across all of them."""
    results: list[SegmentResult] = []
    for plan in plans:
        groups: dict[str | None, list[StoredPrediction]] = {}
        for row in rows:
            groups.setdefault(category_key(row.feature(plan.column)), []).append(row)
        for value, sub in groups.items():
            results.append(_one(plan, value, sub, cfg, [r for r in rules if r.feature != plan.column]))
        results += [SegmentResult(plan.column, v, "too_small", 0, seg.rows)
                    for v, seg in plan.references.items() if v not in groups]
    return _adjust(results, cfg)


def _one(plan: SegmentPlan, value: str | None, rows: list[StoredPrediction], cfg: ModelMonitorConfig,
         rules: list[Rule]) -> SegmentResult:
    if value is None:
        return SegmentResult(plan.column, None, "missing", len(rows))
    seg = plan.references.get(value)
    if seg is None:
        status = "too_small" if value in plan.small else "unseen"
        return SegmentResult(plan.column, value, status, len(rows), plan.small.get(value, 0))
    if len(rows) < cfg.min_segment_rows:
        return SegmentResult(plan.column, value, "too_small", len(rows), seg.rows)
    quality = evaluate(rules, window_columns(seg, rows)[0]) if rules else []
    return SegmentResult(plan.column, value, "tested", len(rows), seg.rows, check_window(seg, rows, cfg), quality)


def _adjust(results: list[SegmentResult], cfg: ModelMonitorConfig) -> list[SegmentResult]:
    """Re-decide every segment test with Benjamini-Hochberg across all segments' tests of the window."""
    tests = [(i, part, j, t) for i, r in enumerate(results) if r.check is not None
             for part, rows in (("features", r.check.features), ("outputs", r.check.outputs))
             for j, t in enumerate(rows) if t.p_value is not None and math.isfinite(t.p_value)]
    adjusted, _ = fdr.adjust([float(t.p_value or 0.0) for *_, t in tests], alpha=cfg.alpha)
    decided: dict[tuple[int, str, int], TestRow] = {}
    for (i, part, j, t), p in zip(tests, adjusted, strict=True):
        drifted = bool(p <= cfg.alpha and math.isfinite(t.effect) and t.effect >= t.threshold)
        decided[i, part, j] = replace(t, p_adjusted=float(p), drifted=drifted)
    out = []
    for i, r in enumerate(results):
        if r.check is None:
            out.append(r)
            continue
        features = [decided.get((i, "features", j), t) for j, t in enumerate(r.check.features)]
        outputs = [decided.get((i, "outputs", j), t) for j, t in enumerate(r.check.outputs)]
        drifted = len({t.name for t in features if t.drifted}) >= cfg.min_drifted_features
        check = replace(r.check, features=features, outputs=outputs, input_drifted=drifted,
                        output_drifted=any(t.drifted for t in outputs))
        out.append(replace(r, check=check))
    return out
