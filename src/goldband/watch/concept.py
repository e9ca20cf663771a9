"""Concept drift: labels joined to predictions, the error stream in prediction-time order, ADWIN and DDM.

One error stream per scope (``goldband.watch.scope``: a model version in one
environment), so a label-only drop in production never hides in, or alerts
for, staging.

Labels arrive late and in any order, so the error stream cannot simply be
fed as labels come in. Each check feeds, in prediction-time order, the
labelled predictions behind a *watermark*: a prediction is ready once it is
older than ``label_delay`` or every earlier prediction already has its label.
Predictions still waiting for a label hold the watermark back (up to
``label_delay``); after that they are passed over unlabelled. A label that
arrives for a prediction the watermark has already passed is *late*: it is
stored and counted (status shows it; raise ``label_delay``, or ``goldband
monitor check --rebuild`` to replay the whole stream with every label).

The error of a prediction is 1/0 (wrong/right class) for classification, and
for regression its absolute error scaled by the reference's 99th percentile
absolute error and capped at 1 (ADWIN's bound assumes values in [0, 1]).

A detection in the bad direction (error up) is told apart by the inputs at
that moment: the last ``window`` predictions before it are tested against the
reference like a window. If features moved, it is **input + concept drift**
(the inputs shifted and the model got worse on them); if they did not, it is
**concept drift** (the same inputs now mean something else: retrain on recent
labels). Input drift without an error rise is reported by the window checks.

An incident (an error rise) ends in one of two ways: a detected fall (the
error is **back down**), or ``stable_windows`` complete label windows in a
row with no detection at all (the error has **settled** at its new level:
the detectors adapted to it and nothing is getting worse; the status keeps
that level beside the reference's error, so a settled but higher error is
not mistaken for health). Either way the ``concept_drift`` series stops
being flagged, so its alert can resolve.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from goldband.alerts.rules import Observation
from goldband.clock import iso, parse_duration
from goldband.monitors import make_detector
from goldband.store.models import DriftEvent
from goldband.store.pgconn import is_postgres
from goldband.watch import db
from goldband.watch.checks import check_window
from goldband.watch.records import error_value
from goldband.watch.stream import Detection, DetectorWatch

if TYPE_CHECKING:
    from goldband.config.monitors import ModelMonitorConfig
    from goldband.watch.db import StoredPrediction
    from goldband.watch.reference import Reference
    from goldband.watch.scope import Scope

__all__ = ["ConceptResult", "run_concept"]

SCOPE = "concept"
SOURCE = "classic-ml"


@dataclass
class ConceptResult:
    """What one check of the error stream found."""

    fed: int = 0
    error_sum: float = 0.0  # sum of the fed errors (0/1 for classification, scaled for regression)
    detections: list[dict[str, Any]] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    events: list[DriftEvent] = field(default_factory=list)
    late_labels: int = 0
    waiting: int = 0  # predictions behind the label-delay horizon still without a label

    @property
    def mean_error(self) -> float | None:
        """The error rate (classification) or mean scaled error (regression) of what this check fed."""
        return self.error_sum / self.fed if self.fed else None


@dataclass(frozen=True)
class _Stream:
    """The error stream of one scope: its model version's reference and the environment's predictions."""

    ref: Reference
    scope: Scope

    @property
    def who(self) -> str:
        return self.scope.title

    @property
    def labels(self) -> dict[str, str]:
        return self.scope.labels


def run_concept(conn: sqlite3.Connection, ref: Reference, scope: Scope, cfg: ModelMonitorConfig, now: datetime,
                *, rebuild: bool = False) -> ConceptResult:
    """Feed the ready labelled predictions of ``scope`` (``ref``: its version's reference); save the state in
    ``conn``'s transaction."""
    stream = _Stream(ref, scope)
    db.lock_state(conn, SCOPE, scope.key)  # a rebuild reads nothing, yet overlaps no other check
    state = None if rebuild else db.get_state(conn, SCOPE, scope.key)
    state = state or _new_state(ref, cfg)
    result = ConceptResult(late_labels=_late_labels(conn, scope, state))
    state["late_labels"] = state.get("late_labels", 0) + result.late_labels
    horizon = _horizon(conn, scope, state, now - timedelta(seconds=parse_duration(cfg.label_delay)))
    cursor = (str(state["cursor"][0]), int(state["cursor"][1]))
    rows = list(db.predictions_after(conn, scope, cursor, before_time=horizon, labelled_only=True))
    _feed(conn, stream, cfg, state, rows, result)
    result.waiting = _waiting(conn, scope, state)
    state["last_check"] = iso(now)
    db.put_state(conn, SCOPE, scope.key, state)
    return result


def concept_state(conn: sqlite3.Connection, scope: Scope) -> dict[str, Any] | None:
    """The saved state (cursor, detectors, current level, counts) for status."""
    return db.get_state(conn, SCOPE, scope.key)


def _new_state(ref: Reference, cfg: ModelMonitorConfig) -> dict[str, Any]:
    watches = {name: DetectorWatch(make_detector(name, **params), bad="up").get_state()
               for name, params in cfg.concept_detectors.items()}
    return {"cursor": ["", 0], "watches": watches, "active": False, "since": None, "by": None, "kind": None,
            "before": None, "after": None, "chunk": [0, 0.0], "fed": 0, "errors": 0.0, "late_labels": 0,
            "last_check": None, "scale": _scale(ref), "quiet": _quiet(), "settled": None}


def _scale(ref: Reference) -> float | None:
    """Regression: the reference's 99th percentile absolute error (errors are divided by it, capped at 1)."""
    if ref.spec.task != "regression" or ref.predictions is None or ref.labels is None:
        return None
    errors = sorted(e for p, y in zip(ref.predictions, ref.labels, strict=True)
                    if (e := error_value(p, y, "regression")) is not None)
    return errors[min(len(errors) - 1, int(0.99 * len(errors)))] or 1.0 if errors else None


def _horizon(conn: sqlite3.Connection, scope: Scope, state: dict[str, Any], delay_edge: datetime) -> str | None:
    """Feed predictions strictly before this time (None: no bound): the first unlabelled one after the delay edge."""
    time, pid = state["cursor"]
    where, params = scope.where("p")
    row = conn.execute(  # in time order with LIMIT 1: the walk stops at the first unlabelled prediction
        "SELECT p.time FROM monitor_predictions p LEFT JOIN monitor_labels l "
        f"ON l.model = p.model AND l.prediction_id = p.prediction_id WHERE {where} "
        "AND (p.time, p.id) > (?, ?) AND p.time > ? AND l.label IS NULL ORDER BY p.time, p.id LIMIT 1",
        [*params, time, pid, iso(delay_edge)]).fetchone()
    return row[0] if row and row[0] else None


def _late_labels(conn: sqlite3.Connection, scope: Scope, state: dict[str, Any]) -> int:
    """Labels stored since the last check for predictions the watermark had already passed."""
    if not state.get("last_check"):
        return 0
    time, pid = state["cursor"]
    where, params = scope.where("p")
    row = conn.execute(
        "SELECT COUNT(*) FROM monitor_labels l JOIN monitor_predictions p ON l.model = p.model AND "
        f"l.prediction_id = p.prediction_id WHERE {where} AND (p.time, p.id) <= (?, ?) "
        "AND l.logged_at > ?", [*params, time, pid, state["last_check"]]).fetchone()
    return int(row[0])


def _waiting(conn: sqlite3.Connection, scope: Scope, state: dict[str, Any]) -> int:
    """Predictions past the concept cursor without a label: all of them (an index count) less the labelled
    ones (counted from the labels' side), not a join per prediction (seconds on ten million)."""
    time, pid = state["cursor"]
    where, params = scope.where()
    after = conn.execute(f"SELECT COUNT(*) FROM monitor_predictions WHERE {where} AND (time, id) > (?, ?)",
                         [*params, time, pid]).fetchone()[0]
    joined, params = scope.where("p")
    labelled = conn.execute(  # CROSS JOIN: SQLite walks the labels (PostgreSQL plans it and wants JOIN ... ON)
        f"SELECT COUNT(*) FROM monitor_labels l {'JOIN' if is_postgres(conn) else 'CROSS JOIN'} monitor_predictions "
        f"p ON p.model = l.model AND p.prediction_id = l.prediction_id WHERE l.model = ? AND {joined} AND "
        "(p.time, p.id) > (?, ?)", [scope.model, *params, time, pid]).fetchone()[0]
    return int(after) - int(labelled)


def _feed(conn: sqlite3.Connection, stream: _Stream, cfg: ModelMonitorConfig, state: dict[str, Any],
          rows: list[StoredPrediction], result: ConceptResult) -> None:
    values, times = _errors(rows, stream.ref.spec.task, state.get("scale"))
    watches = {name: DetectorWatch.from_state(s) for name, s in state["watches"].items()}
    found = sorted((d for w in watches.values() for d in w.feed(values, times)),
                   key=lambda d: (d.index, d.detector))
    at = 0
    for i, value in enumerate(values):
        state["chunk"][0] += 1
        state["chunk"][1] += value
        while at < len(found) and found[at].index == i:
            _detected(conn, stream, cfg, state, found[at], result)
            at += 1
        if state["chunk"][0] >= cfg.test_rows:
            _chunk_done(stream, cfg, state, times[i], result)
    state["watches"] = {name: w.get_state() for name, w in watches.items()}
    result.fed, result.error_sum = len(values), float(sum(values))
    state["fed"] += result.fed
    state["errors"] += result.error_sum
    if rows:
        state["cursor"] = [rows[-1].time, rows[-1].id]


def _errors(rows: Sequence[StoredPrediction], task: str, scale: float | None) -> tuple[list[float], list[str]]:
    """The error of every labelled prediction that has a readable one, and its prediction time."""
    values, times = [], []
    for row in rows:
        error = error_value(row.prediction, row.label, task)
        if error is None:
            continue
        values.append(error if task != "regression" else min(error / (scale or 1.0), 1.0))
        times.append(row.time)
    return values, times


def _detected(conn: sqlite3.Connection, stream: _Stream, cfg: ModelMonitorConfig, state: dict[str, Any],
              d: Detection, result: ConceptResult) -> None:
    what = "error rate" if stream.ref.spec.task != "regression" else "scaled error"
    drifted = _inputs_since(conn, stream, cfg, d.start or d.time) if d.bad else []
    kind = ("input+concept" if drifted else "concept") if d.bad else "recovered"
    summary = f"{stream.who}: {d.describe(what)}"
    summary += {"input+concept": f" while features moved ({', '.join(drifted)}): input + concept drift",
                "concept": " while features did not move: concept drift",
                "recovered": ": the error is back down"}[kind]
    state["quiet"] = {**_quiet(), "hit": True}  # the window holding a detection is not a stable one
    if d.bad and state["active"]:  # another detector (or a further rise) in the same incident: keep its start
        state.update(after=d.after, kind="input+concept" if "input+concept" in (kind, state["kind"]) else kind)
    elif d.bad:
        state.update(active=True, since=d.time, by=d.detector, kind=kind, before=d.before, after=d.after,
                     settled=None)
    elif state["active"]:
        state.update(active=False, kind=None, after=d.after, settled=None)
    details = {**d.to_json(), "kind": kind, "drifted_features": drifted, "version": stream.scope.version}
    result.detections.append({**details, "summary": summary})
    result.events.append(DriftEvent(d.detector, SOURCE, stream.scope.model, "concept_drift", d.after, d.time,
                                    stream.labels, None, d.threshold, details))
    result.observations.append(Observation(SOURCE, stream.scope.model, "concept_drift", d.time, d.after, d.bad,
                                           stream.labels, d.detector, summary, details))


def _chunk_done(stream: _Stream, cfg: ModelMonitorConfig, state: dict[str, Any], time: str,
                result: ConceptResult) -> None:
    n, total = state["chunk"]
    rate = total / n
    labels = stream.labels
    result.observations.append(Observation(SOURCE, stream.scope.model, "error_rate", time, rate, False, labels,
                                           summary=f"{stream.who}: error rate {rate:.3f} over the "
                                                   f"last {n} labelled predictions"))
    if state["active"]:
        _settle(stream, cfg, state, time, n, total, result)
    summary = (f"{stream.who}: error still {rate:.3f} (was {state['before']:.3f} before "
               f"{state['since']})" if state["active"] and state["before"] is not None else
               f"{stream.who}: error rate {rate:.3f}")
    result.observations.append(Observation(SOURCE, stream.scope.model, "concept_drift", time, rate,
                                           bool(state["active"]), labels, state["by"] if state["active"] else None,
                                           summary, {"kind": state["kind"], "since": state["since"]}))
    state["chunk"] = [0, 0.0]


def _quiet() -> dict[str, Any]:
    """Complete label windows with no detection since the last one: count, labels, error sum, and whether the
    current window holds a detection."""
    return {"windows": 0, "n": 0, "sum": 0.0, "hit": False}


def _settle(stream: _Stream, cfg: ModelMonitorConfig, state: dict[str, Any], time: str, n: int, total: float,
            result: ConceptResult) -> None:
    """Count a window with no detection; after ``stable_windows`` of them, close the incident as settled."""
    quiet = state.get("quiet") or _quiet()
    if quiet["hit"]:
        state["quiet"] = _quiet()
        return
    quiet = {"windows": quiet["windows"] + 1, "n": quiet["n"] + n, "sum": quiet["sum"] + total, "hit": False}
    state["quiet"] = quiet
    if quiet["windows"] < cfg.stable_windows:
        return
    level, before = quiet["sum"] / quiet["n"], state["before"]
    what = "error rate" if stream.ref.spec.task != "regression" else "scaled error"
    summary = (f"{stream.who}: {what} stable at {level:.3f} for {quiet['windows']} windows "
               f"({quiet['n']:,} labelled predictions) since the change of {str(state['since'])[:16]}"
               + (f" (it was {before:.3f} before)" if before is not None else "")
               + ": incident closed, the error has settled at its new level")
    state["settled"] = {"time": time, "level": level, "before": before, "since": state["since"], "by": state["by"],
                        "windows": quiet["windows"], "kind": state["kind"]}
    state.update(active=False, kind=None, after=level, quiet=_quiet())
    result.detections.append({"kind": "settled", "time": time, "level": level, "before": before,
                              "windows": quiet["windows"], "version": stream.scope.version, "bad": False,
                              "summary": summary})


def _inputs_since(conn: sqlite3.Connection, stream: _Stream, cfg: ModelMonitorConfig, start: str) -> list[str]:
    """Features that drifted in the first ``window`` predictions (labelled or not) from the change on.

    The detector's estimate of where the new error level began (``Detection.start``)
    is the moment to test: predictions made since then, including those whose
    labels have not arrived, show whether the inputs had moved.
    """
    recent = list(db.predictions_after(conn, stream.scope, (start, 0), limit=cfg.test_rows))  # time >= start
    found = check_window(stream.ref, recent, cfg)  # per feature and jointly (a moved correlation is moved inputs too)
    return found.drifted_features + (["joint"] if found.joint is not None and found.joint.drifted else [])

