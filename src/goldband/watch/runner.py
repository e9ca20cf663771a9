"""``check``: run every monitor over the store once, write what they found, raise and deliver alerts.

For each classic-ML model (``monitors.models`` in goldband.yaml, plus any
model with a registered reference), for each version with predictions, for
each environment that served it (``goldband.watch.scope``: staging and
production are two window sequences, two error streams, two sets of series
and alerts, tested against the version's one reference):

1. every complete window of ``window`` new predictions (time order), or,
   with ``window: 1d`` (any period), every calendar period the clock has
   passed by ``window_grace``, is tested against the version's reference
   (``goldband.watch.checks``), with its data-quality rules
   (``goldband.watch.quality``) and per segment (``goldband.watch.segments``);
   its results, series points, drift events, alert observations and the
   advanced cursor commit in **one transaction** per window, so a killed
   check resumes at the next window and never half-records one. An empty
   calendar period (or a run of them) and one with fewer than
   ``min_window_rows`` predictions are recorded as such, not tested;
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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from goldband._util.nogc import collector_paused
from goldband.alerts.engine import AlertEngine, Delivered
from goldband.alerts.rules import Observation
from goldband.clock import Clock, SystemClock, iso, parse_duration
from goldband.config.monitors import ModelMonitorConfig, MonitorsConfig
from goldband.errors import MonitorError
from goldband.store.models import DriftEvent, labels_key
from goldband.store.pgconn import is_postgres
from goldband.store.sqltext import upsert
from goldband.store.writer import insert_drift_event, insert_series
from goldband.watch import db, findings
from goldband.watch.checks import check_window, window_columns
from goldband.watch.concept import ConceptResult, run_concept
from goldband.watch.estimate import Estimator, WindowEstimate, build_estimator
from goldband.watch.evaldrift import EvalResult, run_eval
from goldband.watch.findings import Tested, WindowSummary
from goldband.watch.quality import Rule, evaluate, resolve_rules
from goldband.watch.records import Issue, dumps
from goldband.watch.reference import Reference, load_reference, references, register_reference
from goldband.watch.scope import Scope
from goldband.watch.segments import SegmentPlan, check_segments, plan_segments
from goldband.watch.sizing import reference_warning

if TYPE_CHECKING:
    from goldband.config.alerts import AlertsConfig
    from goldband.store import Store
    from goldband.watch.db import StoredPrediction

__all__ = ["CheckReport", "ModelReport", "WindowSummary", "check"]

LOG = logging.getLogger("goldband.monitor")
SOURCE = "classic-ml"
_ESTIMATORS: dict[tuple[Any, ...], Estimator] = {}
WINDOWS = "windows"
ANCHOR = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday, 00:00 UTC: 1d windows start at midnight, 7d ones on Mondays


@dataclass
class ModelReport:
    model: str
    version: str
    environment: str | None = None  # as stored: None for the default
    windows: list[WindowSummary] = field(default_factory=list)
    concept: ConceptResult | None = None
    late_predictions: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what limits this check: a small reference, no estimation

    @property
    def title(self) -> str:
        return Scope(self.model, self.version, self.environment).title


@dataclass
class CheckReport:
    models: list[ModelReport] = field(default_factory=list)
    eval: EvalResult | None = None
    opened: list[int] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)


def check(store: Store, monitors: MonitorsConfig | None = None, alerts: AlertsConfig | None = None, *,
          models: Sequence[str] | None = None, include_eval: bool = True, rebuild: bool = False,
          clock: Clock | None = None, root: Path | None = None, engine: AlertEngine | None = None,
          stream: IO[str] | None = None, environment: str | None = None) -> CheckReport:
    """Run the monitors once over ``store``; see the module docstring. ``environment`` (as shown, ``default``
    for the default): only that environment's predictions are checked."""
    monitors = monitors or MonitorsConfig()
    clock = clock or SystemClock()
    engine = engine or AlertEngine(store, alerts, clock=clock, root=root, stream=stream)
    report = CheckReport()
    for name in models if models is not None else _models(store, monitors):
        cfg = monitors.models.get(name) or ModelMonitorConfig()
        report.models += _check_model(store, name, cfg, engine, clock, root, rebuild, environment)
    if include_eval and monitors.eval.enabled:
        with store.transaction() as conn:
            report.eval = run_eval(conn, monitors.eval, rebuild=rebuild)
            _record(conn, report.eval.events, report.eval.observations, engine, series=False)
    report.delivered = engine.deliver()
    report.opened = list(engine.opened)
    return report


def _models(store: Store, monitors: MonitorsConfig) -> list[str]:
    return list(dict.fromkeys([*monitors.models, *db.models(store.conn)]))


def _check_model(store: Store, name: str, cfg: ModelMonitorConfig, engine: AlertEngine, clock: Clock,
                 root: Path | None, rebuild: bool, environment: str | None = None) -> list[ModelReport]:
    if cfg.reference:
        register_reference(store, name, cfg.reference, version=cfg.version, features=cfg.features,
                           columns=cfg.columns, task=cfg.task, root=root)
    versions = db.versions(store.conn, name)
    if not versions:
        return [ModelReport(name, cfg.version, problems=[f"no predictions logged for {name!r} yet"])]
    scopes = db.scopes(store.conn, name, versions, environment)
    newest = {s.environment: s for s in scopes}  # each environment's newest version (versions: newest last)
    return [_check_scope(store, scope, cfg, engine, clock, root, rebuild, latest=newest[scope.environment] == scope)
            for scope in scopes]


def _check_scope(store: Store, scope: Scope, cfg: ModelMonitorConfig, engine: AlertEngine, clock: Clock,
                 root: Path | None, rebuild: bool, *, latest: bool) -> ModelReport:
    """The windows and the error stream of one model version in one environment."""
    report = ModelReport(scope.model, scope.version, scope.environment)
    ref = _reference(store, scope.model, scope.version, root, report)
    if ref is None:
        return report
    plan = _plan(ref, scope, cfg, root)
    report.notes = [n for n in (reference_warning(ref, cfg),
                                plan.estimator.describe() if plan.estimator and plan.estimator.off else None) if n]
    if rebuild:
        _forget(store, scope)
    _windows(store, plan, engine, clock, report, latest=latest)
    with store.transaction() as conn:
        report.concept = run_concept(conn, ref, scope, cfg, clock.now(), rebuild=rebuild)
        _record(conn, report.concept.events, report.concept.observations, engine)
    return report


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


def _forget(store: Store, scope: Scope) -> None:
    """What the check recorded for one scope: its windows, cursor, detectors, series and drift events."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM monitor_windows WHERE model = ? AND version = ? AND environment = ?",
                     [scope.model, scope.version, scope.window_environment])
        conn.execute("DELETE FROM monitor_state WHERE scope IN ('windows', 'concept') AND key = ?", [scope.key])
        key_labels = labels_key(scope.labels)
        segment_labels = _segment_pattern(scope)
        for table in ("series_points", "drift_events"):
            conn.execute(f"DELETE FROM {table} WHERE source = ? AND model = ? AND (labels_key = ? OR labels_key "
                         "LIKE ? ESCAPE '\\')", [SOURCE, scope.model, key_labels, segment_labels])


def _segment_pattern(scope: Scope) -> str:
    """A LIKE pattern (escaped with ``\\``) of the labels key of every segment's series of ``scope``: keys are
    sorted JSON, so the segment sits between the environment and the version."""
    text = labels_key({**scope.labels, "segment": "SEGMENT"})
    text = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return text.replace('"SEGMENT"', '"%"')


# -- windows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """What every window of one model version is tested with: the reference, the config, rules, segments."""

    ref: Reference
    scope: Scope
    cfg: ModelMonitorConfig
    rules: list[Rule]
    segments: list[SegmentPlan]
    estimator: Estimator | None = None

    @property
    def key(self) -> str:
        return self.scope.key


def _plan(ref: Reference, scope: Scope, cfg: ModelMonitorConfig, root: Path | None) -> _Plan:
    """Resolve the rules and cut the reference by segment; a config naming what the reference lacks raises."""
    where = f"goldband.yaml: monitors.models.{ref.model}"
    rules = resolve_rules(ref, cfg.quality, where=f"{where}.quality")
    segments = plan_segments(ref, cfg.segments, min_rows=cfg.min_segment_rows, root=root,
                             where=f"{where}.segments") if cfg.segments else []
    return _Plan(ref, scope, cfg, rules, segments, _estimator(ref, cfg))


def _estimator(ref: Reference, cfg: ModelMonitorConfig) -> Estimator | None:
    """The fitted performance estimator of a reference (reused across checks in one process: the fit is costly)."""
    if not cfg.estimate:
        return None
    key = (ref.model, ref.version, ref.hash, tuple(cfg.estimate_metrics or ()), cfg.calibration_alpha, cfg.estimate_k)
    if key not in _ESTIMATORS:
        _ESTIMATORS.clear()  # one reference at a time is enough for a check loop; never grows
        _ESTIMATORS[key] = build_estimator(ref, metrics=cfg.estimate_metrics, alpha=cfg.calibration_alpha,
                                           k=cfg.estimate_k)
    return _ESTIMATORS[key]


def _test(plan: _Plan, rows: list[StoredPrediction]) -> Tested:
    parsed = window_columns(plan.ref, rows)  # once, for the tests and the quality rules
    result = check_window(plan.ref, rows, plan.cfg, parsed)
    quality = evaluate(plan.rules, parsed[0]) if plan.rules else []
    segments = check_segments(plan.segments, rows, plan.cfg, plan.rules) if plan.segments else []
    return Tested(result, quality, segments)


def _windows(store: Store, plan: _Plan, engine: AlertEngine, clock: Clock, report: ModelReport,
             latest: bool) -> None:
    report.late_predictions = _late(store, plan.scope)
    if plan.cfg.window_period is not None:
        _calendar_windows(store, plan, engine, clock, report, latest)
        return
    size = plan.cfg.test_rows
    state = db.get_state(store.conn, WINDOWS, plan.key) or _new_cursor()
    while True:
        cursor = (str(state["cursor"][0]), int(state["cursor"][1]))
        with collector_paused():  # a window is millions of acyclic objects: no cycle search while they are built
            rows = list(db.predictions_after(store.conn, plan.scope, cursor, limit=size))
            if len(rows) < size:
                break
            tested = _test(plan, rows)
        seen = state["window"]
        state["window"] += 1
        title = f"{plan.scope.title} window {state['window']} ({len(rows)} predictions to {rows[-1].time[:16]})"
        summary = findings.window_summary(plan.ref, state["window"], rows, tested, title)
        state["cursor"] = [rows[-1].time, rows[-1].id]
        if not _commit(store, plan, seen, state, summary, rows, tested, clock, engine):
            break  # another check (an overlapping cron job) took this window first: leave the rest to it
        report.windows.append(summary)


def _commit(store: Store, plan: _Plan, seen: int, state: dict[str, Any], summary: WindowSummary,
            rows: list[StoredPrediction], tested: Tested | None, clock: Clock, engine: AlertEngine) -> bool:
    """Record one window (tested, empty or too small) and advance the cursor in one transaction."""
    with store.transaction() as conn:
        if (db.get_state(conn, WINDOWS, plan.key) or {}).get("window", 0) != seen:
            return False
        estimate = (plan.estimator.window(conn, rows, time=summary.end, labels=plan.scope.labels)
                    if plan.estimator and tested else None)
        _store_window(conn, plan.scope, summary, rows, tested, clock, estimate)
        if tested is not None:
            observations = findings.observations(plan.ref, summary, tested, plan.scope.labels)
            if estimate is not None:
                observations += estimate.observations
                db.add_issues(conn, plan.ref.model, estimate.issues)
            _record(conn, findings.events(plan.ref, summary, tested, plan.scope.labels), observations, engine)
        db.put_state(conn, WINDOWS, plan.key, state)
    return True


def _new_cursor() -> dict[str, Any]:
    return {"cursor": ["", 0], "window": 0, "max_id": 0}


def _late(store: Store, scope: Scope) -> int:
    """Count (once) predictions stored since the last check with a time the window cursor had already passed.

    Only rows stored since then are read (the id range; ``+model`` keeps SQLite off the index, which
    would walk every prediction before the cursor)."""
    with store.transaction() as conn:
        state = db.get_state(conn, WINDOWS, scope.key) or _new_cursor()
        time, pid = state["cursor"]
        where, params = scope.where()
        if not is_postgres(conn):  # SQLite's "not this index" (PostgreSQL has no + for text)
            where = where.replace("model =", "+model =").replace("version =", "+version =")
        row = conn.execute(
            f"SELECT COUNT(*), MIN(prediction_id) FROM monitor_predictions WHERE id > ? AND {where} AND "
            "(time, id) <= (?, ?)", [state["max_id"], *params, time, pid]).fetchone()
        state["max_id"] = conn.execute("SELECT MAX(id) FROM monitor_predictions").fetchone()[0] or 0
        db.put_state(conn, WINDOWS, scope.key, state)
        if row[0]:
            db.add_issues(conn, scope.model, [Issue(
                "late_prediction", "time", f"prediction {row[1]!r} (and {row[0] - 1} more) logged with a time "
                f"before the last checked window ({time}); not tested (goldband monitor check --rebuild "
                "re-tests everything)")], times=int(row[0]))
    return int(row[0])


# -- calendar windows ----------------------------------------------------------------------------


def _calendar_windows(store: Store, plan: _Plan, engine: AlertEngine, clock: Clock, report: ModelReport,
                      latest: bool) -> None:
    """Windows of ``window`` (a period) aligned to UTC midnight, tested once the clock is past end + grace.

    A run of periods without predictions is recorded as one empty window; for the newest
    version the run reaches the last complete period (a model that stopped logging shows),
    for an older one it stops at its last prediction.
    """
    period = timedelta(seconds=plan.cfg.window_period or 0.0)
    done_before = clock.now() - timedelta(seconds=parse_duration(plan.cfg.window_grace))
    state = db.get_state(store.conn, WINDOWS, plan.key) or _new_cursor()
    start = _first_period(store, plan, state, period)
    while start is not None and start + period <= done_before:
        cursor = (str(state["cursor"][0]), int(state["cursor"][1]))
        end = start + period
        with collector_paused():
            rows = list(db.predictions_after(store.conn, plan.scope, max((iso(start), 0), cursor),
                                             before_time=iso(end)))
        if not rows:  # one record for the run of empty periods up to the next prediction (or now)
            following = _next_time(store, plan, cursor)
            if following is None and not latest:
                break
            complete = _floor(done_before, period)
            end = max(end, complete if following is None else min(_floor(following, period), complete))
        seen = state["window"]
        state["window"] += 1
        state["cursor"], state["next_start"] = [iso(end), 0], iso(end)
        with collector_paused():
            summary, tested = _period(plan, state["window"], start, end, period, rows)
        if not _commit(store, plan, seen, state, summary, rows, tested, clock, engine):
            break
        report.windows.append(summary)
        start = end


def _first_period(store: Store, plan: _Plan, state: dict[str, Any], period: timedelta) -> datetime | None:
    """Where the next calendar window starts: after the last one, else the period of the next prediction."""
    if state.get("next_start"):
        return datetime.fromisoformat(state["next_start"])
    following = _next_time(store, plan, (str(state["cursor"][0]), int(state["cursor"][1])))
    return None if following is None else _floor(following, period)


def _next_time(store: Store, plan: _Plan, cursor: tuple[str, int]) -> datetime | None:
    first = next(db.predictions_after(store.conn, plan.scope, cursor, limit=1), None)
    return None if first is None else datetime.fromisoformat(first.time)


def _floor(moment: datetime, period: timedelta) -> datetime:
    """The start of the period holding ``moment``: periods tile time from Monday 1970-01-05 00:00 UTC."""
    steps = (moment - ANCHOR) // period
    return ANCHOR + steps * period


def _period(plan: _Plan, index: int, start: datetime, end: datetime, period: timedelta,
            rows: list[StoredPrediction]) -> tuple[WindowSummary, Tested | None]:
    """The summary of one calendar window, tested when it has at least ``min_window_rows`` predictions."""
    name = _period_name(start, end, period)
    head = f"{plan.scope.title} window {name}"
    if not rows:
        text = f"{head} has no predictions" if end - start <= period else f"{head} have no predictions"
        return WindowSummary(index, iso(start), iso(end), 0, False, False, [], [], head, text, status="empty"), None
    if len(rows) < plan.cfg.min_window_rows:
        text = (f"{head}: {len(rows)} predictions, too few to test (min_window_rows: {plan.cfg.min_window_rows})")
        return WindowSummary(index, iso(start), iso(end), len(rows), False, False, [], [], head, text,
                             status="too_small"), None
    tested = _test(plan, rows)
    summary = findings.window_summary(plan.ref, index, rows, tested, f"{head} ({len(rows)} predictions)")
    return replace(summary, start=iso(start), end=iso(end)), tested


def _period_name(start: datetime, end: datetime, period: timedelta) -> str:
    """``2026-03-04``; ``2026-03-04T06:00``; a run of empty periods: ``2026-03-04 to 2026-03-06 (3 periods)``."""
    daily = period % timedelta(days=1) == timedelta(0)
    def show(moment: datetime) -> str:
        text = iso(moment)
        return text[:10] if daily else text[:16]
    count = (end - start) // period
    if count <= 1:
        return show(start)
    return f"{show(start)} to {show(end - period)} ({count} periods)"


# -- what a window found -------------------------------------------------------------------------


def _store_window(conn: sqlite3.Connection, scope: Scope, s: WindowSummary, rows: list[StoredPrediction],
                  tested: Tested | None, clock: Clock, estimate: WindowEstimate | None = None) -> None:
    results = tested.to_json() if tested is not None else {"n": s.rows, "status": s.status, "features": [],
                                                          "outputs": []}
    if estimate is not None and estimate.n:
        results["estimate"] = {"n": estimate.n, "metrics": estimate.metrics,
                               "sampling_error": estimate.sampling_error,
                               "flagged": [o.metric for o in estimate.observations if o.flagged]}
    first, last = (rows[0].id, rows[-1].id) if rows else (None, None)
    conn.execute(  # "window": a reserved word in PostgreSQL, quoted (SQLite takes the quotes too)
        upsert("monitor_windows", ("model", "environment", "version", '"window"', "start_time", "end_time", "rows",
                                   "first_id", "last_id", "input_drifted", "output_drifted", "drifted", "results",
                                   "checked_at"),
               ("model", "environment", "version", '"window"')),
        [scope.model, scope.window_environment, scope.version, s.window, s.start, s.end, s.rows, first, last,
         int(s.input_drifted), int(s.output_drifted), dumps(s.drifted_features + s.drifted_outputs), dumps(results),
         iso(clock.now())])
    if tested is None:
        kind = "empty_window" if s.status == "empty" else "small_window"
        db.add_issues(conn, scope.model, [Issue(kind, "window", s.summary)])
        return
    for kind, by_field in tested.result.issues.items():
        for name, n in by_field.items():
            example = tested.result.examples.get(kind, f"{kind}: {name}")
            db.add_issues(conn, scope.model, [Issue(kind, name, f"window {s.window}: {example}")], times=n)
    for g in tested.segments:
        if g.status == "unseen":
            db.add_issues(conn, scope.model, [Issue("unseen_segment", g.column, f"window {s.window}: {g.label} is not "
                                                  f"in the reference ({g.rows} rows); not tested")], times=g.rows)


# -- writing --------------------------------------------------------------------------------------


def _record(conn: sqlite3.Connection, events: list[DriftEvent], observations: list[Observation],
            engine: AlertEngine, *, series: bool = True) -> None:
    """Drift events, series points (``series``: off for the eval watch, whose points the runs wrote) and alert
    observations, in the caller's transaction."""
    for event in events:
        insert_drift_event(conn, event)
    if series:
        insert_series(conn, findings.points(observations))
    engine.observe(conn, observations)
