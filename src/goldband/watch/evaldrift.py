"""Eval-score drift: the streaming detectors over the LLM eval series in the store.

Every run appends one point per golden set x target x metric (see
``goldband.store.series``). A nightly run's band judges that night alone; a
pass rate sliding a point a night passes every band for weeks. This module
feeds each series (``monitors.eval.metrics``, default ``pass_rate`` and
``mean_score``, runs of ``monitors.eval.kinds``, default ``nightly``) to an
``EvalWatch`` (two noise-scaled Page-Hinkley tests, see
``goldband.watch.stream``), one point per **complete** run in time order,
and saves the watch in the store so the next night resumes where this one
stopped. A point of a run that completes after a later run was already fed
is passed over (counted in the state as ``late``).

Each point becomes one observation: flagged while the series is degraded
(from a detection in its bad direction until one in its good direction).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from goldband.alerts.rules import Observation
from goldband.config.monitors import EvalMonitorConfig
from goldband.store.models import DriftEvent
from goldband.watch import db
from goldband.watch.stream import EvalWatch

__all__ = ["EvalResult", "SeriesResult", "eval_series", "run_eval"]

SCOPE = "eval"
SOURCE = "llm-eval"


@dataclass
class SeriesResult:
    """One eval series after a check."""

    model: str
    metric: str
    labels: dict[str, Any]
    fed: int
    points: int
    last_value: float | None
    active: bool
    scale: float | None
    detections: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EvalResult:
    series: list[SeriesResult] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    events: list[DriftEvent] = field(default_factory=list)


def eval_series(conn: sqlite3.Connection, cfg: EvalMonitorConfig) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(model, metric, labels_key, labels) of every watched eval series."""
    marks = ",".join("?" * len(cfg.metrics))
    rows = conn.execute(f"SELECT DISTINCT model, metric, labels_key, labels FROM series_points WHERE source = ? "
                        f"AND metric IN ({marks}) ORDER BY model, metric, labels_key", [SOURCE, *cfg.metrics])
    found = []
    for model, metric, key, labels in rows:
        parsed = json.loads(labels or "{}")
        if not cfg.kinds or parsed.get("kind") in cfg.kinds:
            found.append((model, metric, key, parsed))
    return found


def run_eval(conn: sqlite3.Connection, cfg: EvalMonitorConfig, *, rebuild: bool = False) -> EvalResult:
    """Feed every watched series' new points; save each watch (inside the caller's transaction)."""
    result = EvalResult()
    for model, metric, key, labels in eval_series(conn, cfg):
        result.series.append(_one(conn, cfg, model, metric, key, labels, result, rebuild))
    return result


def _one(conn: sqlite3.Connection, cfg: EvalMonitorConfig, model: str, metric: str, key: str,
         labels: dict[str, Any], result: EvalResult, rebuild: bool) -> SeriesResult:
    state_key = f"{model}|{metric}|{key}"
    state = None if rebuild else db.get_state(conn, SCOPE, state_key)
    watch = EvalWatch.from_state(state["watch"]) if state else _new_watch(cfg, metric)
    cursor = state["cursor"] if state else ""
    points = _points(conn, model, metric, key, cursor)
    late = _late(conn, model, metric, key, cursor, state)
    series = SeriesResult(model, metric, labels, len(points), watch.n + len(points), None, watch.active, None)
    for time, value, run_id in points:
        found = watch.feed([value], [time])
        _observe(model, metric, labels, time, value, run_id, watch, found, result, series)
    series.last_value, series.active, series.scale = (points[-1][1] if points else None), watch.active, watch.scale
    db.put_state(conn, SCOPE, state_key, {"cursor": points[-1][0] if points else cursor, "watch": watch.get_state(),
                                          "late": (state or {}).get("late", 0) + late})
    return series


def _new_watch(cfg: EvalMonitorConfig, metric: str) -> EvalWatch:
    ph = cfg.page_hinkley
    return EvalWatch(bad=cfg.metrics[metric], warmup=ph.warmup, threshold_sd=ph.threshold_sd, delta_sd=ph.delta_sd,
                     min_sd=ph.min_sd, adwin=cfg.adwin if "adwin" in cfg.detectors else None)


def _points(conn: sqlite3.Connection, model: str, metric: str, key: str, cursor: str) -> list[tuple[str, float, str]]:
    rows = conn.execute(
        "SELECT sp.time, sp.value, sp.run_id FROM series_points sp JOIN runs r ON r.id = sp.run_id "
        "WHERE sp.source = ? AND sp.model = ? AND sp.metric = ? AND sp.labels_key = ? AND sp.time > ? "
        "AND r.status = 'complete' AND sp.value IS NOT NULL ORDER BY sp.time, sp.id",
        [SOURCE, model, metric, key, cursor])
    return [(t, float(v), r) for t, v, r in rows]


def _late(conn: sqlite3.Connection, model: str, metric: str, key: str, cursor: str,
          state: dict[str, Any] | None) -> int:
    """Points of runs that completed after the cursor had passed them (since the last check)."""
    if not state:
        return 0
    row = conn.execute(
        "SELECT COUNT(*) FROM series_points sp JOIN runs r ON r.id = sp.run_id WHERE sp.source = ? AND "
        "sp.model = ? AND sp.metric = ? AND sp.labels_key = ? AND sp.time <= ? AND r.status = 'complete' AND "
        "r.finished_at > (SELECT updated_at FROM monitor_state WHERE scope = ? AND key = ?)",
        [SOURCE, model, metric, key, cursor, SCOPE, f"{model}|{metric}|{key}"]).fetchone()
    return int(row[0])


def _observe(model: str, metric: str, labels: dict[str, Any], time: str, value: float, run_id: str,
             watch: EvalWatch, found: list[Any], result: EvalResult, series: SeriesResult) -> None:
    name = metric.replace("_", " ")
    where = f"{model} on {labels.get('goldenset', '?')}"
    summary = f"{where}: {name} {value:.3f}"
    detector = None
    for d in found:
        details = {**d.to_json(), "run_id": run_id, "scale": watch.scale}
        series.detections.append({**details, "summary": f"{where}: {d.describe(name)}"})
        result.events.append(DriftEvent(d.detector, SOURCE, model, metric, d.after, time, labels, None,
                                        d.threshold, details, run_id))
        summary, detector = f"{where}: {d.describe(name)} over {watch.n} runs", d.detector
    if watch.active and not found:
        summary += " (still degraded)"
    result.observations.append(Observation(SOURCE, model, metric, time, value, watch.active, labels, detector,
                                           summary, {"run_id": run_id}))
