"""What the monitors know now, per model and eval series, and what it means (``status``).

Read from the store only (no tests are run) into a ``Status`` (defined, with
its text and JSON views, in ``goldband.watch.statusview``). Per model version:
the latest window's feature and output tests, the concept detectors' state
(the error level before and after the last change), label coverage (waiting,
late, for unknown ids), counted data issues and open alerts, and a
**diagnosis** that tells the cases apart, since each needs a different response:

=====================  ===========================================================  ==================================
diagnosis              evidence                                                     response
=====================  ===========================================================  ==================================
stable                 no test flagged
input drift            features moved; the error has not risen (or labels pending)   check the data pipeline and the
                                                                                     population; the model still holds
output drift           predictions or confidences moved, features did not            check unmonitored inputs, the model
                                                                                     artifact, thresholds
concept drift          the error rose while the features did not move               retrain on recent labels: the same
                                                                                     inputs now mean something else
input + concept drift  the error rose together with moved features                  retrain on recent data, and find
                                                                                     out why the inputs moved
=====================  ===========================================================  ==================================
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from goldband.alerts.engine import list_alerts
from goldband.clock import Clock, SystemClock, iso
from goldband.config.monitors import MonitorsConfig
from goldband.store.models import labels_key
from goldband.watch import db
from goldband.watch.checks import TestRow
from goldband.watch.concept import concept_state
from goldband.watch.evaldrift import SCOPE as EVAL_SCOPE
from goldband.watch.evaldrift import eval_series
from goldband.watch.records import error_value
from goldband.watch.statusview import EvalStatus, ModelStatus, Status

if TYPE_CHECKING:
    from goldband.store import Store

__all__ = ["EvalStatus", "ModelStatus", "Status", "status"]


def status(store: Store, monitors: MonitorsConfig | None = None, *, model: str | None = None,
           clock: Clock | None = None, history: int = 30) -> Status:
    """The current state of every monitored model and eval series in ``store``."""
    monitors = monitors or MonitorsConfig()
    conn = store.conn
    names = [model] if model else list(dict.fromkeys([*monitors.models, *db.models(conn)]))
    alerts = list_alerts(conn, status=("open", "acked"), limit=None)
    models = [_model(conn, name, version, history, alerts) for name in names
              for version in (db.versions(conn, name) or [_default_version(monitors, name)])]
    evals = [] if model else _evals(conn, monitors)
    recent = list_alerts(conn, limit=20)
    return Status(iso((clock or SystemClock()).now()), str(store.path), models, evals, alerts, recent)


def _default_version(monitors: MonitorsConfig, name: str) -> str:
    cfg = monitors.models.get(name)
    return cfg.version if cfg else "1"


def _model(conn: sqlite3.Connection, name: str, version: str, history: int,
           alerts: list[dict[str, Any]]) -> ModelStatus:
    ref = _reference(conn, name, version)
    st = ModelStatus(name, version, ref)
    st.predictions, st.labelled = _counts(conn, name, version)
    _windows(conn, st, history)
    _concept(conn, st)
    st.alerts = [a for a in alerts if a["model"] == name and a["labels"].get("version", version) == version]
    st.issues = db.issues(conn, name)
    st.diagnosis = _diagnose(st)
    return st


def _reference(conn: sqlite3.Connection, name: str, version: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT path, hash, rows, created_at, spec FROM monitor_references WHERE model = ? AND "
                       "version = ?", [name, version]).fetchone()
    return None if row is None else {"path": row[0], "hash": row[1], "rows": row[2], "created_at": row[3],
                                     "spec": json.loads(row[4])}


def _counts(conn: sqlite3.Connection, name: str, version: str) -> tuple[int, int]:
    row = conn.execute("SELECT COUNT(*), COUNT(l.label) FROM monitor_predictions p LEFT JOIN monitor_labels l "
                       "ON l.model = p.model AND l.prediction_id = p.prediction_id WHERE p.model = ? AND "
                       "p.version = ?", [name, version]).fetchone()
    return int(row[0]), int(row[1])


def _windows(conn: sqlite3.Connection, st: ModelStatus, history: int) -> None:
    rows = conn.execute("SELECT window, start_time, end_time, rows, input_drifted, output_drifted, drifted, results "
                        "FROM monitor_windows WHERE model = ? AND version = ? ORDER BY window DESC LIMIT ?",
                        [st.model, st.version, history]).fetchall()
    st.windows = int(conn.execute("SELECT COUNT(*) FROM monitor_windows WHERE model = ? AND version = ?",
                                  [st.model, st.version]).fetchone()[0])
    st.history = [{"window": r[0], "start": r[1], "end": r[2], "rows": r[3], "input_drifted": bool(r[4]),
                   "output_drifted": bool(r[5]), "drifted": json.loads(r[6] or "[]")} for r in reversed(rows)]
    if rows:
        st.latest = st.history[-1]
        results = json.loads(rows[0][7] or "{}")
        st.features = [TestRow.from_json(t) for t in results.get("features", [])]
        st.outputs = [TestRow.from_json(t) for t in results.get("outputs", [])]


def _concept(conn: sqlite3.Connection, st: ModelStatus) -> None:
    state = concept_state(conn, st.model, st.version) or {}
    cursor = state.get("cursor") or ["", 0]
    st.concept = {k: state.get(k) for k in ("active", "kind", "since", "by", "before", "after", "fed",
                                            "late_labels", "last_check")}
    st.concept["cursor_time"] = cursor[0] or None
    st.concept["error_now"] = _recent_error(conn, st, cursor)
    st.concept["error_reference"] = _reference_error(st)
    st.concept["orphan_labels"] = int(conn.execute(
        "SELECT COUNT(*) FROM monitor_labels l LEFT JOIN monitor_predictions p ON p.model = l.model AND "
        "p.prediction_id = l.prediction_id WHERE l.model = ? AND p.id IS NULL", [st.model]).fetchone()[0])
    st.concept["waiting"] = st.predictions - st.labelled
    key = labels_key({"version": st.version})
    st.concept["last_detection"] = _last_event(conn, "classic-ml", st.model, "concept_drift", key)
    st.error_series = [(t, v) for t, v in conn.execute(
        "SELECT time, value FROM series_points WHERE source = 'classic-ml' AND model = ? AND metric = 'error_rate' "
        "AND labels_key = ? ORDER BY time, id", [st.model, key])]


def _recent_error(conn: sqlite3.Connection, st: ModelStatus, cursor: list[Any], n: int = 500) -> float | None:
    """The error rate over the last ``n`` labelled predictions the detectors have seen."""
    if not cursor[0]:
        return None
    task = (st.reference or {}).get("spec", {}).get("task", "classification")
    if task == "regression":
        return None
    rows = conn.execute(
        "SELECT p.prediction, l.label FROM monitor_predictions p JOIN monitor_labels l ON l.model = p.model AND "
        "l.prediction_id = p.prediction_id WHERE p.model = ? AND p.version = ? AND (p.time < ? OR (p.time = ? AND "
        "p.id <= ?)) ORDER BY p.time DESC, p.id DESC LIMIT ?", [st.model, st.version, cursor[0], cursor[0],
                                                                cursor[1], n]).fetchall()
    errors = [e for p, y in rows if (e := error_value(json.loads(p), json.loads(y), task)) is not None]
    return sum(errors) / len(errors) if errors else None


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
    if inputs:
        covered = (st.concept.get("cursor_time") or "") >= latest.get("end", "~")
        return "input drift" if covered else "input drift, error unknown"
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
                                _last_event(conn, "llm-eval", model, metric, key)))
    return found
