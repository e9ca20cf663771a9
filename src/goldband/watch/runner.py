"""``check``: run every monitor over the store once, write what they found, raise and deliver alerts.

For each classic-ML model (``monitors.models`` in goldband.yaml, plus any
model with a registered reference), for each version with predictions:

1. every complete window of ``window`` new predictions (time order) is
   tested against the version's reference (``goldband.watch.checks``); its
   results, series points, drift events, alert observations and the advanced
   cursor commit in **one transaction** per window, so a killed check resumes
   at the next window and never half-records one;
2. the labelled predictions behind the label watermark feed the concept
   detectors (``goldband.watch.concept``), in one transaction.

Then the eval series (``goldband.watch.evaldrift``), then the alert sinks
(outside any transaction). Each window is also a set of alert observations
(``feature:NAME``, ``input_drift``, ``output:*``, ``output_drift``); the
``output_drift`` aggregate is flagged only when the outputs moved while the
inputs did not, since outputs that follow moved inputs are the same incident
(the per-output series still flag on their own). Two checks running at once
never record a window twice: each window's transaction re-reads the cursor.

Predictions logged with a time the window cursor has already passed are
counted (``late_prediction``) and not tested; ``rebuild`` forgets the model's
windows and detector states and replays everything.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from goldband.alerts.engine import AlertEngine, Delivered
from goldband.alerts.rules import Observation
from goldband.clock import Clock, SystemClock, iso
from goldband.config.monitors import ModelMonitorConfig, MonitorsConfig
from goldband.errors import MonitorError
from goldband.store.models import DriftEvent, SeriesPoint, labels_key
from goldband.store.writer import insert_drift_event, insert_series
from goldband.watch import db
from goldband.watch.checks import TestRow, WindowCheck, check_window
from goldband.watch.concept import ConceptResult, run_concept
from goldband.watch.evaldrift import EvalResult, run_eval
from goldband.watch.records import Issue, dumps
from goldband.watch.reference import Reference, load_reference, references, register_reference

if TYPE_CHECKING:
    from goldband.config.alerts import AlertsConfig
    from goldband.store import Store
    from goldband.watch.db import StoredPrediction

__all__ = ["CheckReport", "ModelReport", "WindowSummary", "check"]

LOG = logging.getLogger("goldband.monitor")
SOURCE = "classic-ml"
WINDOWS = "windows"


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


@dataclass
class ModelReport:
    model: str
    version: str
    windows: list[WindowSummary] = field(default_factory=list)
    concept: ConceptResult | None = None
    late_predictions: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    models: list[ModelReport] = field(default_factory=list)
    eval: EvalResult | None = None
    opened: list[int] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)


def check(store: Store, monitors: MonitorsConfig | None = None, alerts: AlertsConfig | None = None, *,
          models: Sequence[str] | None = None, include_eval: bool = True, rebuild: bool = False,
          clock: Clock | None = None, root: Path | None = None, engine: AlertEngine | None = None,
          stream: IO[str] | None = None) -> CheckReport:
    """Run the monitors once over ``store``; see the module docstring."""
    monitors = monitors or MonitorsConfig()
    clock = clock or SystemClock()
    engine = engine or AlertEngine(store, alerts, clock=clock, root=root, stream=stream)
    report = CheckReport()
    for name in models if models is not None else _models(store, monitors):
        cfg = monitors.models.get(name) or ModelMonitorConfig()
        report.models += _check_model(store, name, cfg, engine, clock, root, rebuild)
    if include_eval and monitors.eval.enabled:
        with store.transaction() as conn:
            report.eval = run_eval(conn, monitors.eval, rebuild=rebuild)
            _record(conn, report.eval.events, [], report.eval.observations, engine)
    report.delivered = engine.deliver()
    report.opened = list(engine.opened)
    return report


def _models(store: Store, monitors: MonitorsConfig) -> list[str]:
    return list(dict.fromkeys([*monitors.models, *db.models(store.conn)]))


def _check_model(store: Store, name: str, cfg: ModelMonitorConfig, engine: AlertEngine, clock: Clock,
                 root: Path | None, rebuild: bool) -> list[ModelReport]:
    if cfg.reference:
        register_reference(store, name, cfg.reference, version=cfg.version, features=cfg.features,
                           columns=cfg.columns, task=cfg.task, root=root)
    versions = db.versions(store.conn, name)
    if not versions:
        return [ModelReport(name, cfg.version, problems=[f"no predictions logged for {name!r} yet"])]
    reports = []
    for version in versions:
        report = ModelReport(name, version)
        reports.append(report)
        ref = _reference(store, name, version, root, report)
        if ref is None:
            continue
        if rebuild:
            _forget(store, name, version)
        _windows(store, ref, cfg, engine, clock, report)
        with store.transaction() as conn:
            report.concept = run_concept(conn, ref, cfg, clock.now(), rebuild=rebuild)
            _record(conn, report.concept.events, _points(report.concept.observations), report.concept.observations,
                    engine)
    return reports


def _reference(store: Store, name: str, version: str, root: Path | None, report: ModelReport) -> Reference | None:
    try:
        ref = load_reference(store, name, version, root=root)
    except MonitorError as exc:
        report.problems.append(str(exc))
        return None
    if ref is None:
        known = ", ".join(references(store, name)) or "none"
        report.problems.append(
            f"no reference for {name!r} version {version!r} (registered versions: {known}); fix: goldband monitor "
            f"reference {name} FILE --version {version}, or monitors.models.{name}.reference in goldband.yaml")
    return ref


def _forget(store: Store, name: str, version: str) -> None:
    key = f"{name}|{version}"
    with store.transaction() as conn:
        conn.execute("DELETE FROM monitor_windows WHERE model = ? AND version = ?", [name, version])
        conn.execute("DELETE FROM monitor_state WHERE scope IN ('windows', 'concept') AND key = ?", [key])
        key_labels = labels_key({"version": version})
        conn.execute("DELETE FROM series_points WHERE source = ? AND model = ? AND labels_key = ?",
                     [SOURCE, name, key_labels])
        conn.execute("DELETE FROM drift_events WHERE source = ? AND model = ? AND labels_key = ?",
                     [SOURCE, name, key_labels])


# -- windows ------------------------------------------------------------------------------------


def _windows(store: Store, ref: Reference, cfg: ModelMonitorConfig, engine: AlertEngine, clock: Clock,
             report: ModelReport) -> None:
    key = f"{ref.model}|{ref.version}"
    report.late_predictions = _late(store, ref, key)
    state = db.get_state(store.conn, WINDOWS, key) or _new_cursor()
    while True:
        cursor = (str(state["cursor"][0]), int(state["cursor"][1]))
        rows = list(db.predictions_after(store.conn, ref.model, ref.version, cursor, limit=cfg.window))
        if len(rows) < cfg.window:
            break
        seen = state["window"]
        state["window"] += 1
        result = check_window(ref, rows, cfg)
        summary = _window_summary(ref, state["window"], rows, result)
        state["cursor"] = [rows[-1].time, rows[-1].id]
        with store.transaction() as conn:
            if (db.get_state(conn, WINDOWS, key) or {}).get("window", 0) != seen:
                break  # another check (an overlapping cron job) took this window first: leave the rest to it
            _store_window(conn, ref, summary, rows, result, clock)
            observations = _window_observations(ref, summary, result)
            _record(conn, _window_events(ref, summary, result), _points(observations), observations, engine)
            db.put_state(conn, WINDOWS, key, state)
        report.windows.append(summary)


def _new_cursor() -> dict[str, Any]:
    return {"cursor": ["", 0], "window": 0, "max_id": 0}


def _late(store: Store, ref: Reference, key: str) -> int:
    """Count (once) predictions stored since the last check with a time the window cursor had already passed."""
    with store.transaction() as conn:
        state = db.get_state(conn, WINDOWS, key) or _new_cursor()
        time, pid = state["cursor"]
        row = conn.execute(
            "SELECT COUNT(*), MIN(prediction_id) FROM monitor_predictions WHERE model = ? AND version = ? AND id > ? "
            "AND (time < ? OR (time = ? AND id <= ?))", [ref.model, ref.version, state["max_id"], time, time, pid]
        ).fetchone()
        state["max_id"] = conn.execute("SELECT MAX(id) FROM monitor_predictions").fetchone()[0] or 0
        db.put_state(conn, WINDOWS, key, state)
        if row[0]:
            db.add_issues(conn, ref.model, [Issue(
                "late_prediction", "time", f"prediction {row[1]!r} (and {row[0] - 1} more) logged with a time "
                f"before the last checked window ({time}); not tested (goldband monitor check --rebuild "
                "re-tests everything)")], times=int(row[0]))
    return int(row[0])


def _window_summary(ref: Reference, index: int, rows: list[StoredPrediction], result: WindowCheck) -> WindowSummary:
    parts = [_describe(t) for t in result.features if t.drifted]
    outputs = [_describe(t) for t in result.outputs if t.drifted]
    title = f"{ref.model} v{ref.version} window {index} ({len(rows)} predictions to {rows[-1].time[:16]})"
    text = title
    if result.input_drifted:
        text += f": input drift in {len(result.drifted_features)} of {len(ref.spec.features)} features: " + \
                "; ".join(parts)
    if result.output_drifted:
        text += ("; " if result.input_drifted else ": ") + "output drift: " + "; ".join(outputs)
    if not (result.input_drifted or result.output_drifted):
        text += ": no drift"
    return WindowSummary(index, rows[0].time, rows[-1].time, len(rows), result.input_drifted, result.output_drifted,
                         result.drifted_features, result.drifted_outputs, title, text)


def _describe(t: TestRow) -> str:
    what = f"{t.name} missing share" if t.kind == "missing" else t.name
    p = f", p={t.p_adjusted:.2g}" if t.p_adjusted is not None else ""
    return f"{what} ({t.test} {t.statistic:.3g}, effect {t.effect:.3g}{p}; {t.value} vs {t.reference})"


def _store_window(conn: sqlite3.Connection, ref: Reference, s: WindowSummary, rows: list[StoredPrediction],
                  result: WindowCheck, clock: Clock) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO monitor_windows (model, version, window, start_time, end_time, rows, first_id, "
        "last_id, input_drifted, output_drifted, drifted, results, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?)", [ref.model, ref.version, s.window, s.start, s.end, s.rows, rows[0].id, rows[-1].id,
                     int(s.input_drifted), int(s.output_drifted), dumps(s.drifted_features + s.drifted_outputs),
                     dumps(result.to_json()), iso(clock.now())])
    for kind, by_field in result.issues.items():
        for name, n in by_field.items():
            example = result.examples.get(kind, f"{kind}: {name}")
            db.add_issues(conn, ref.model, [Issue(kind, name, f"window {s.window}: {example}")], times=n)


def _window_observations(ref: Reference, s: WindowSummary, result: WindowCheck) -> list[Observation]:
    labels, obs = {"version": ref.version}, []
    details = {"window": s.window, "start": s.start, "rows": s.rows}
    for name in dict.fromkeys(t.name for t in result.features):
        tests = [t for t in result.features if t.name == name]
        main = next((t for t in tests if t.kind != "missing"), tests[0])
        hit = next((t for t in tests if t.drifted), None)
        obs.append(Observation(SOURCE, ref.model, f"feature:{name}", s.end, main.effect, hit is not None, labels,
                               (hit or main).test, f"{s.title}: " + _describe(hit or main), details))
    for t in result.outputs:
        obs.append(Observation(SOURCE, ref.model, f"output:{t.name}", s.end, t.effect, t.drifted, labels, t.test,
                               f"{s.title}: " + _describe(t), details))
    share = len(result.drifted_features) / max(1, len(ref.spec.features))
    obs.append(Observation(SOURCE, ref.model, "input_drift", s.end, share, s.input_drifted, labels,
                           None, s.summary, {**details, "features": s.drifted_features}))
    alone = s.output_drifted and not s.input_drifted  # outputs that follow moved inputs are that incident
    obs.append(Observation(SOURCE, ref.model, "output_drift", s.end, float(len(s.drifted_outputs)), alone,
                           labels, None, s.summary, {**details, "outputs": s.drifted_outputs}))
    return obs


def _window_events(ref: Reference, s: WindowSummary, result: WindowCheck) -> list[DriftEvent]:
    events = []
    for t in [*result.features, *result.outputs]:
        if t.drifted:
            metric = f"output:{t.name}" if t.kind == "output" else f"feature:{t.name}"
            events.append(DriftEvent(t.test, SOURCE, ref.model, metric, t.statistic, s.end, {"version": ref.version},
                                     t.p_adjusted, t.threshold, {"window": s.window, **t.to_json()}))
    return events


# -- writing --------------------------------------------------------------------------------------


def _points(observations: list[Observation]) -> list[SeriesPoint]:
    return [SeriesPoint(o.source, o.model, o.metric, o.value, o.time, dict(o.labels)) for o in observations
            if o.value is not None and o.metric != "concept_drift"]


def _record(conn: sqlite3.Connection, events: list[DriftEvent], points: list[SeriesPoint],
            observations: list[Observation], engine: AlertEngine) -> None:
    for event in events:
        insert_drift_event(conn, event)
    insert_series(conn, points)
    engine.observe(conn, observations)
