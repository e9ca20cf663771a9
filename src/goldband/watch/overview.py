"""What the monitors know now, per model and eval series, and what it means (``status``).

Read from the store only (no tests are run) into a ``Status`` (defined, with
its text and JSON views, in ``goldband.watch.statusview``). Per model version
and environment it served in (each watched apart, ``goldband.watch.scope``):
the latest window's feature and output tests, the concept detectors' state
(the error level before and after the last change), label coverage (waiting,
late, for unknown ids), counted data issues and open alerts, and a
**diagnosis** that tells the cases apart, since each needs a different response:

=====================  ===========================================================  ==================================
diagnosis              evidence                                                     response
=====================  ===========================================================  ==================================
stable                 no test flagged
input drift            features moved; the error is known and has not risen         check the data pipeline and the
                                                                                     population; the model still holds
input drift, error     features moved; too few labels of the window yet (fewer      check the data pipeline; watch
unknown                than ``min_labels``, default 100, or all of a smaller window) the error as labels arrive
input drift, error     features moved; the window's labels show an error above      prepare a retrain; the detectors
rising                 the reference's (Wilson 99 % lower bound) before the          confirm or clear it
                       detectors are sure
output drift           predictions or confidences moved, features did not            check unmonitored inputs, the model
                                                                                     artifact, thresholds
concept drift          the error rose while the features did not move               retrain on recent labels: the same
                                                                                     inputs now mean something else
input + concept drift  the error rose together with moved features                  retrain on recent data, and find
                                                                                     out why the inputs moved
=====================  ===========================================================  ==================================

The error of a window is **known** once ``min_labels`` of its predictions
(or all of a smaller window) have labels, whether or not the detectors'
watermark has reached it (one missing label holds the watermark back up to
``label_delay``). A concept-drift incident that **settled** (no detection
for ``stable_windows`` label windows, ``goldband.watch.concept``) closes its
alert; the diagnosis stays concept drift while the recent error is still
above the reference's (Wilson 99 % lower bound; regression: always, since
the detectors saw a rise and no fall), so a settled but worse model is
not reported healthy.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from goldband._util.environment import DEFAULT, shown
from goldband.alerts.engine import list_alerts
from goldband.bands.intervals import wilson_interval
from goldband.clock import Clock, SystemClock, iso
from goldband.config.monitors import ModelMonitorConfig, MonitorsConfig
from goldband.store.models import labels_key
from goldband.watch import db
from goldband.watch.checks import TestRow
from goldband.watch.concept import concept_state
from goldband.watch.evaldrift import SCOPE as EVAL_SCOPE
from goldband.watch.evaldrift import eval_series
from goldband.watch.records import error_value
from goldband.watch.scope import Scope
from goldband.watch.sizing import size_warning
from goldband.watch.statusview import EvalStatus, ModelStatus, Status

if TYPE_CHECKING:
    from goldband.store import Store

__all__ = ["EvalStatus", "ModelStatus", "Status", "status"]


def status(store: Store, monitors: MonitorsConfig | None = None, *, model: str | None = None,
           clock: Clock | None = None, history: int = 30, environment: str | None = None) -> Status:
    """The current state of every monitored model and eval series in ``store``: a row per model version and
    environment it served in, as ``monitor check`` watches them; ``environment`` (as shown): only that
    environment's models, series and alerts."""
    monitors = monitors or MonitorsConfig()
    conn = store.conn
    names = [model] if model else list(dict.fromkeys([*monitors.models, *db.models(conn)]))
    alerts = _in_environment(list_alerts(conn, status=("open", "acked"), limit=None), environment)
    models = [_model(conn, scope, history, alerts, monitors.models.get(name) or ModelMonitorConfig())
              for name in names for scope in _scopes(conn, monitors, name, environment)]
    evals = [] if model else sorted((e for e in _evals(conn, monitors) if environment in (None, e.environment)),
                                    key=lambda e: (e.target, e.environment != DEFAULT, e.environment))
    recent = _in_environment(list_alerts(conn, limit=20), environment)
    return Status(iso((clock or SystemClock()).now()), store.where, models, evals, alerts, recent)


def _in_environment(alerts: list[dict[str, Any]], environment: str | None) -> list[dict[str, Any]]:
    """The alerts of one environment (their series' ``environment`` label; none: default), or all."""
    if environment is None:
        return alerts
    return [a for a in alerts if shown((a.get("labels") or {}).get("environment")) == environment]


def _scopes(conn: sqlite3.Connection, monitors: MonitorsConfig, name: str, environment: str | None) -> list[Scope]:
    """Each version of ``name`` in each environment that served it (``environment``, as shown: that one only);
    a model with a reference but no predictions yet: its configured version in the default environment."""
    versions = db.versions(conn, name)
    if not versions:
        cfg = monitors.models.get(name)
        return [Scope(name, cfg.version if cfg else "1")] if environment in (None, DEFAULT) else []
    return db.scopes(conn, name, versions, environment)


def _model(conn: sqlite3.Connection, scope: Scope, history: int, alerts: list[dict[str, Any]],
           cfg: ModelMonitorConfig) -> ModelStatus:
    ref = _reference(conn, scope.model, scope.version)
    st = ModelStatus(scope.model, scope.version, ref, scope.shown)
    st.predictions, st.labelled = _counts(conn, scope)
    _windows(conn, st, scope, history)
    _concept(conn, st, scope)
    st.window_error = _window_error(conn, st, scope, cfg.min_labels)
    for p in st.performance:
        p["realised"] = _realised(conn, st, scope, p, cfg.min_labels)
    if ref is not None:
        ref["warning"] = _size_warning(ref, cfg, st)
    st.alerts = [a for a in alerts if a["model"] == scope.model and a["labels"].get("version", scope.version)
                 == scope.version and shown(a["labels"].get("environment")) == scope.shown]
    st.issues = db.issues(conn, scope.model)
    st.diagnosis = _diagnose(st)
    return st


def _reference(conn: sqlite3.Connection, name: str, version: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT path, hash, rows, created_at, spec FROM monitor_references WHERE model = ? AND "
                       "version = ?", [name, version]).fetchone()
    return None if row is None else {"path": row[0], "hash": row[1], "rows": row[2], "created_at": row[3],
                                     "spec": json.loads(row[4])}


def _size_warning(ref: dict[str, Any], cfg: ModelMonitorConfig, st: ModelStatus) -> str | None:
    """The reference-too-small warning (calendar windows: sized by the latest window's rows)."""
    window = cfg.window_rows or (st.latest or {}).get("rows")
    spec = ref["spec"]
    if not window:
        return None
    return size_warning(ref["rows"], spec["features"], spec.get("levels") or {}, cfg, window, spec.get("classes"))


def _counts(conn: sqlite3.Connection, scope: Scope) -> tuple[int, int]:
    """Predictions and labelled ones of a model version in one environment."""
    where, params = scope.where("p")
    row = conn.execute("SELECT COUNT(*), COUNT(l.label) FROM monitor_predictions p LEFT JOIN monitor_labels l "
                       f"ON l.model = p.model AND l.prediction_id = p.prediction_id WHERE {where}", params).fetchone()
    return int(row[0]), int(row[1])


def _windows(conn: sqlite3.Connection, st: ModelStatus, scope: Scope, history: int) -> None:
    key = [scope.model, scope.version, scope.window_environment]
    rows = conn.execute('SELECT "window", start_time, end_time, rows, input_drifted, output_drifted, drifted, '
                        "results FROM monitor_windows WHERE model = ? AND version = ? AND environment = ? "
                        'ORDER BY "window" DESC LIMIT ?', [*key, history]).fetchall()
    st.windows = int(conn.execute("SELECT COUNT(*) FROM monitor_windows WHERE model = ? AND version = ? AND "
                                  "environment = ?", key).fetchone()[0])
    results = [json.loads(r[7] or "{}") for r in reversed(rows)]
    st.history = [{"window": r[0], "start": r[1], "end": r[2], "rows": r[3], "input_drifted": bool(r[4]),
                   "output_drifted": bool(r[5]), "drifted": json.loads(r[6] or "[]"),
                   "status": res.get("status", "tested")} for r, res in zip(reversed(rows), results, strict=True)]
    tested = [i for i, h in enumerate(st.history) if h["status"] == "tested"]
    if not tested:  # only empty or too small calendar windows so far
        return
    st.latest, latest = st.history[tested[-1]], results[tested[-1]]
    st.features = [TestRow.from_json(t) for t in latest.get("features", [])]
    st.outputs = [TestRow.from_json(t) for t in latest.get("outputs", [])]
    st.joint = TestRow.from_json(latest["joint"]) if latest.get("joint") else None
    st.quality = [q for q in latest.get("quality", []) if q.get("violated")]
    st.segments = latest.get("segments", [])
    st.performance = [{"window": st.history[i]["window"], "start": st.history[i]["start"],
                       "end": st.history[i]["end"], "rows": st.history[i]["rows"], **results[i]["estimate"]}
                      for i in tested[-5:] if results[i].get("estimate")]


def _concept(conn: sqlite3.Connection, st: ModelStatus, scope: Scope) -> None:
    state = concept_state(conn, scope) or {}
    cursor = state.get("cursor") or ["", 0]
    st.concept = {k: state.get(k) for k in ("active", "kind", "since", "by", "before", "after", "fed",
                                            "late_labels", "last_check", "settled")}
    st.concept["cursor_time"] = cursor[0] or None
    wrong, seen = _recent_errors(conn, st, scope, cursor)
    st.concept["error_now"] = wrong / seen if seen else None
    st.concept["error_now_n"] = seen
    st.concept["above_reference"] = _above(st, wrong, seen)
    st.concept["error_reference"] = _reference_error(st)
    orphans = conn.execute(
        "SELECT COUNT(*), MIN(l.prediction_id) FROM monitor_labels l LEFT JOIN monitor_predictions p ON "
        "p.model = l.model AND p.prediction_id = l.prediction_id WHERE l.model = ? AND p.id IS NULL",
        [st.model]).fetchone()
    st.concept["orphan_labels"], st.concept["orphan_example"] = int(orphans[0]), orphans[1]
    st.concept["waiting"] = st.predictions - st.labelled
    key = labels_key(scope.labels)
    st.concept["last_detection"] = _last_event(conn, "classic-ml", st.model, "concept_drift", key)
    st.error_series = [(t, v) for t, v in conn.execute(
        "SELECT time, value FROM series_points WHERE source = 'classic-ml' AND model = ? AND metric = 'error_rate' "
        "AND labels_key = ? ORDER BY time, id", [st.model, key])]


def _recent_errors(conn: sqlite3.Connection, st: ModelStatus, scope: Scope, cursor: list[Any],
                   n: int = 500) -> tuple[float, int]:
    """The errors (sum, count) of the last ``n`` labelled predictions the detectors have seen."""
    if not cursor[0] or _task(st) == "regression":
        return 0.0, 0
    where, params = scope.where("p")
    rows = conn.execute(
        "SELECT p.prediction, l.label FROM monitor_predictions p JOIN monitor_labels l ON l.model = p.model AND "
        f"l.prediction_id = p.prediction_id WHERE {where} AND (p.time, p.id) <= (?, ?) "
        "ORDER BY p.time DESC, p.id DESC LIMIT ?", [*params, cursor[0], cursor[1], n]).fetchall()
    return _errors(rows, "classification")


def _window_error(conn: sqlite3.Connection, st: ModelStatus, scope: Scope,
                  min_labels: int) -> dict[str, Any] | None:
    """The latest window's labelled share and error, and whether enough labels arrived to call it known."""
    if not st.latest:
        return None
    total, labelled = _labelled_errors(conn, st, scope, st.latest)
    need = min(min_labels, int(st.latest["rows"]))
    return {"rows": st.latest["rows"], "labelled": labelled, "error": total / labelled if labelled else None,
            "need": need, "known": labelled >= need, "above_reference": _above(st, total, labelled)}


def _realised(conn: sqlite3.Connection, st: ModelStatus, scope: Scope, window: dict[str, Any],
              min_labels: int) -> dict[str, Any] | None:
    """A window's realised accuracy (classification) or MAE (regression) once its error is known, for the
    status to show beside (and in place of) the estimate."""
    total, labelled = _labelled_errors(conn, st, scope, window)
    if not labelled or labelled < min(min_labels, int(window["rows"])):
        return None
    metric, value = ("mae", total / labelled) if _task(st) == "regression" else ("accuracy", 1 - total / labelled)
    return {"metric": metric, "value": value, "labelled": labelled}


def _labelled_errors(conn: sqlite3.Connection, st: ModelStatus, scope: Scope,
                     window: dict[str, Any]) -> tuple[float, int]:
    """The errors (sum, count) of a window's labelled predictions (by its start and end time)."""
    where, params = scope.where("p")
    rows = conn.execute(
        "SELECT p.prediction, l.label FROM monitor_predictions p JOIN monitor_labels l ON l.model = p.model AND "
        f"l.prediction_id = p.prediction_id WHERE {where} AND p.time >= ? AND p.time <= ?",
        [*params, window["start"], window["end"]]).fetchall()
    return _errors(rows, _task(st))


def _errors(rows: list[tuple[str, str]], task: str) -> tuple[float, int]:
    errors = [e for p, y in rows if (e := error_value(json.loads(p), json.loads(y), task)) is not None]
    return float(sum(errors)), len(errors)


def _above(st: ModelStatus, wrong: float, seen: int) -> bool:
    """Whether ``wrong`` errors of ``seen`` labelled predictions are above the reference's error rate (Wilson 99 %
    lower bound; classification only)."""
    ref = _reference_error(st)
    if ref is None or not seen or _task(st) == "regression":
        return False
    return wilson_interval(round(wrong), seen, confidence=0.98)[0] > ref  # two-sided 98 % = one-sided 99 %


def _task(st: ModelStatus) -> str:
    return str((st.reference or {}).get("spec", {}).get("task", "classification"))


def _reference_error(st: ModelStatus) -> float | None:
    value = (st.reference or {}).get("spec", {}).get("error_rate")
    return None if value is None else float(value)


def _last_event(conn: sqlite3.Connection, source: str, model: str, metric: str, key: str) -> dict[str, Any] | None:
    """The latest drift event of one series (time, detector and its details), or None."""
    row = conn.execute("SELECT time, detector, details FROM drift_events WHERE source = ? AND model = ? AND metric = ? "
                       "AND labels_key = ? ORDER BY time DESC, id DESC LIMIT 1",
                       [source, model, metric, key]).fetchone()
    return None if row is None else {"time": row[0], "detector": row[1], **json.loads(row[2] or "{}")}


def _diagnose(st: ModelStatus) -> str:
    if st.reference is None:
        return "no reference"
    latest = st.latest or {}
    inputs, outputs = bool(latest.get("input_drifted")), bool(latest.get("output_drifted"))
    if st.concept.get("active"):
        return "input + concept drift" if inputs or st.concept.get("kind") == "input+concept" else "concept drift"
    settled = st.concept.get("settled")
    if settled and (_task(st) == "regression" or st.concept.get("above_reference")):
        return "input + concept drift" if settled.get("kind") == "input+concept" else "concept drift"
    if inputs:
        window = st.window_error or {}
        covered = (st.concept.get("cursor_time") or "") >= latest.get("end", "~")
        if not (covered or window.get("known")):
            return "input drift, error unknown"
        return "input drift, error rising" if window.get("above_reference") else "input drift"
    if outputs:
        return "output drift"
    return "stable" if st.windows else "waiting"


def _evals(conn: sqlite3.Connection, monitors: MonitorsConfig) -> list[EvalStatus]:
    found = []
    for model, metric, key, labels in eval_series(conn, monitors.eval):
        state = db.get_state(conn, EVAL_SCOPE, f"{model}|{metric}|{key}") or {}
        values = [(t, v) for t, v in conn.execute(
            "SELECT time, value FROM series_points WHERE source = 'llm-eval' AND model = ? AND metric = ? AND "
            "labels_key = ? AND value IS NOT NULL ORDER BY time, id", [model, metric, key])]
        watch = state.get("watch") or {}
        found.append(EvalStatus(model, str(labels.get("goldenset", "")), metric, str(labels.get("kind", "")), values,
                                bool(watch.get("active")), watch.get("scale"),
                                _last_event(conn, "llm-eval", model, metric, key), shown(labels.get("environment"))))
    return found
