"""Online evaluation of production LLM traces: ``goldband monitor evaluate APP``.

The traces of each served version, in each environment that served it (each
watched apart: ``goldband.watch.scope``), are taken in complete windows of ``window``
traces, in time order (the cursor is kept in the store, so the next call
starts at the next window). Per trace: the deterministic checks of a golden
set's ``defaults`` (or a named list), refusal, empty and truncated outputs
(``goldband.watch.llmsignals``), stored in ``llm_evaluations``. On a random
sample of ``judge.sample`` traces a window (seeded by the window, so a re-run
draws the same ones), the rubric through the judge: cached, the output
fenced, and fail-closed (a judge failure is an error, counted, never a score).

Per window one series point per metric (source ``llm-prod``, labels
``{version}``, and ``environment`` outside the default one): ``check_pass_rate``, ``judge_score``, ``judge_error_rate``,
``refusal_rate``, ``empty_rate``, ``truncated_rate``, ``error_rate``,
``output_length``, ``latency_p50``, ``latency_p95``, ``cost``,
``negative_feedback_rate``. The eval detectors (noise-scaled Page-Hinkley,
``goldband.watch.stream.EvalWatch``) watch each in its bad direction and the
alert rules see every point. **Output drift**: each window's output lengths
(KS), refusal share and check outcomes (chi-square) against the version's first
``reference_windows`` windows, Benjamini-Hochberg across the three, flagged
when significant and at least ``min_effect``.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from goldband._util import yamlio
from goldband.alerts.engine import AlertEngine
from goldband.alerts.rules import Observation
from goldband.checks import CheckSpec, build_check
from goldband.config.monitors import LlmAppConfig
from goldband.errors import ConfigError
from goldband.judge.calibrate import Judged, Row
from goldband.monitors import chi2, ks
from goldband.monitors.fdr import adjust
from goldband.store import Store
from goldband.store.models import DriftEvent, SeriesPoint
from goldband.store.sqltext import upsert
from goldband.store.writer import insert_drift_event, insert_series
from goldband.watch import db, traces
from goldband.watch.llmsignals import TraceSignals, signals
from goldband.watch.records import dumps
from goldband.watch.rows import TestRow
from goldband.watch.scope import Scope
from goldband.watch.stream import EvalWatch
from goldband.watch.traces import StoredTrace

__all__ = ["BAD", "SOURCE", "AppEvaluation", "Grader", "WindowResult", "app_checks", "evaluate_app", "output_drift",
           "series_points", "window_metrics"]

SOURCE = "llm-prod"
SCOPE = "llm-windows"
REFERENCE_CAP = 5000  # output lengths kept as the reference (the first windows' own, at most this many)
BAD: dict[str, str] = {"check_pass_rate": "down", "judge_score": "down", "judge_error_rate": "up",
                       "refusal_rate": "up", "empty_rate": "up", "truncated_rate": "up", "error_rate": "up",
                       "latency_p50": "up", "latency_p95": "up", "cost": "up", "negative_feedback_rate": "up"}
Grader = Callable[[Sequence[Row]], Sequence[Judged]]  # the judge over rows (built by the command: session layer)


@dataclass
class WindowResult:
    """One evaluated window of one version."""

    version: str
    window: int
    start: str
    end: str
    n: int
    metrics: dict[str, float | None]
    environment: str | None = None  # where its traces were served (None: the default environment)
    drift: list[TestRow] = field(default_factory=list)
    drifted: bool = False
    reference: bool = False  # one of the version's first windows: it builds the reference
    judged: int = 0
    judge_errors: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        shown = ", ".join(f"{k} {_g(v)}" for k, v in self.metrics.items() if v is not None)
        text = f"window {self.window} ({self.n} traces to {self.end[:16]}): {shown}"
        if self.reference:
            return text + " [reference]"
        moved = [f"{t.name} ({t.test} {t.statistic:.3g}, p={t.p_adjusted:.2g})" for t in self.drift if t.drifted]
        return text + (f"; output drift: {'; '.join(moved)}" if moved else "")


@dataclass
class AppEvaluation:
    app: str
    windows: list[WindowResult] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    events: list[DriftEvent] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)  # ``v3`` or ``v3 in production`` -> traces not yet
    # in a complete window


def evaluate_app(store: Store, app: str, cfg: LlmAppConfig, checks: Sequence[CheckSpec], *,
                 grade: Grader | None, watch_cfg: dict[str, Any], now: str, engine: AlertEngine | None = None,
                 limit: int | None = None, environment: str | None = None) -> AppEvaluation:
    """Evaluate every complete new window of every version of ``app`` in every environment (``environment``,
    as shown: that one only).

    A window is read and judged outside any transaction (the judge writes its cache meanwhile), then
    recorded in one: its evaluations, series points, drift events, alert observations and the advanced
    cursor, so a killed evaluation resumes at the next window and never half-records one. ``watch_cfg``
    holds the EvalWatch knobs (warmup, threshold_sd, delta_sd, min_sd); ``limit`` caps the windows
    evaluated per version in this call.
    """
    result = AppEvaluation(app)
    for scope in _scopes(store.conn, app):
        if environment is None or scope.shown == environment:
            _version(store, scope, cfg, checks, grade, watch_cfg, now, limit, engine, result)
    return result


def _scopes(conn: sqlite3.Connection, app: str) -> list[Scope]:
    """Each version of ``app`` in each environment that served it, the first served first."""
    rows = conn.execute("SELECT version, environment, MIN(time) FROM llm_traces WHERE app = ? "
                        "GROUP BY version, environment ORDER BY 3, 1, 2", [app])
    return [Scope(app, version, environment) for version, environment, _ in rows]


def _version(store: Store, scope: Scope, cfg: LlmAppConfig, checks: Sequence[CheckSpec],
             grade: Grader | None, watch_cfg: dict[str, Any], now: str, limit: int | None,
             engine: AlertEngine | None, result: AppEvaluation) -> None:
    app, key = scope.model, scope.key
    done = 0
    while limit is None or done < limit:
        state = db.get_state(store.conn, SCOPE, key) or {"cursor": ["", 0], "window": 0, "reference": None,
                                                          "watches": {}}
        cursor = (str(state["cursor"][0]), int(state["cursor"][1]))
        rows = list(traces.traces_after(store.conn, scope, cursor, limit=cfg.window))
        if len(rows) < cfg.window:
            result.waiting[scope.title.removeprefix(f"{app} ")] = len(rows)
            return
        seen = state["window"]
        state["window"] += 1
        found = [signals(r.record, checks) for r in rows]
        picked = _sample(rows, cfg, state["window"]) if grade is not None and cfg.judge else []
        scores, errors = _judged(grade, picked) if picked and grade is not None else ({}, {})
        with store.transaction() as conn:
            if (db.get_state(conn, SCOPE, key) or {}).get("window", 0) != seen:
                return  # another evaluate (an overlapping cron job) took this window: leave the rest to it
            window = _window(conn, scope, cfg, rows, found, scores, errors, len(picked), state, now,
                             has_checks=bool(checks))
            observations, events = _watch(scope, window, state, watch_cfg if cfg.detectors else None)
            insert_series(conn, series_points(app, [window]))
            for event in events:
                insert_drift_event(conn, event)
            if engine is not None:
                engine.observe(conn, observations)
            state["cursor"] = [rows[-1].record.time, rows[-1].id]
            db.put_state(conn, SCOPE, key, state)
        result.windows.append(window)
        result.observations += observations
        result.events += events
        done += 1


def _window(conn: sqlite3.Connection, scope: Scope, cfg: LlmAppConfig, rows: list[StoredTrace],
            found: list[TraceSignals], scores: dict[int, float], errors: dict[int, str], judged: int,
            state: dict[str, Any], now: str, *, has_checks: bool) -> WindowResult:
    app, version = scope.model, scope.version
    negative = _negative(conn, app, [r.record.trace_id for r in rows])
    metrics = window_metrics(rows, found, scores, len(errors), negative, has_checks=has_checks, judged=judged)
    window = WindowResult(version, state["window"], rows[0].record.time, rows[-1].record.time, len(rows), metrics,
                          scope.environment, judged=judged, judge_errors=list(errors.values()))
    facts = _facts(rows, found)
    if state["window"] <= cfg.reference_windows:
        state["reference"] = _merge(state.get("reference"), facts)
        window.reference = True
    elif state.get("reference"):
        window.drift = output_drift(state["reference"], facts, alpha=cfg.alpha, min_effect=cfg.min_effect)
        window.drifted = any(t.drifted for t in window.drift)
    _store(conn, app, version, state["window"], rows, found, scores, errors, now)
    return window


# -- the judge on a sample -------------------------------------------------------------------


def _sample(rows: list[StoredTrace], cfg: LlmAppConfig, window: int) -> list[StoredTrace]:
    """A seeded random sample of the window's answered traces (the same on a re-run)."""
    assert cfg.judge is not None
    answered = [r for r in rows if r.record.error is None and (r.record.output or "").strip()]
    k = min(cfg.judge.sample, len(answered))
    return random.Random(f"{cfg.judge.seed}|{window}").sample(answered, k)


def _judged(grade: Grader, picked: list[StoredTrace]) -> tuple[dict[int, float], dict[int, str]]:
    """Judge scores by trace row id, and one message per judge failure (an error: no score, never a pass)."""
    rows = [Row(r.record.trace_id, 0, r.record.output or "", r.record.input) for r in picked]
    scores: dict[int, float] = {}
    errors: dict[int, str] = {}
    for trace, judged in zip(picked, grade(rows), strict=True):
        if judged.error is not None or judged.weighted is None:
            errors[trace.id] = f"trace {trace.record.trace_id}: {judged.error or 'no score'}"
        else:
            scores[trace.id] = float(judged.weighted)
    return scores, errors


def _negative(conn: sqlite3.Connection, app: str, trace_ids: list[str]) -> set[str]:
    given = traces.feedback_of(conn, app, trace_ids)
    return {t for t, rows in given.items() if any(f.kind == "thumbs" and (f.score or 0) < 0 for f in rows)}


# -- per-window numbers (pure) ---------------------------------------------------------------


def window_metrics(rows: Sequence[StoredTrace], found: Sequence[TraceSignals], scores: dict[int, float],
                   judge_errors: int, negative: set[str], *, has_checks: bool, judged: int) -> dict[str, float | None]:
    """Every metric of one window (None when the window has nothing to measure it on)."""
    n = len(rows)
    latencies = sorted(r.record.latency_ms for r in rows if r.record.latency_ms is not None)
    costs = [r.record.cost for r in rows if r.record.cost is not None]
    lengths = [len(r.record.output or "") for r in rows]
    return {
        "check_pass_rate": sum(s.passed for s in found) / n if has_checks and n else None,
        "judge_score": sum(scores.values()) / len(scores) if scores else None,
        "judge_error_rate": judge_errors / judged if judged else None,
        "refusal_rate": sum(s.refusal for s in found) / n if n else None,
        "empty_rate": sum(s.empty for s in found) / n if n else None,
        "truncated_rate": sum(s.truncated for s in found) / n if n else None,
        "error_rate": sum(s.errored for s in found) / n if n else None,
        "output_length": sum(lengths) / n if n else None,
        "latency_p50": _quantile(latencies, 0.5),
        "latency_p95": _quantile(latencies, 0.95),
        "cost": sum(costs) / len(costs) if costs else None,
        "negative_feedback_rate": sum(r.record.trace_id in negative for r in rows) / n if n else None,
    }


def _quantile(ordered: list[float], q: float) -> float | None:
    """The ``q`` quantile by linear interpolation (numpy's default) of sorted values."""
    if not ordered:
        return None
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def _facts(rows: Sequence[StoredTrace], found: Sequence[TraceSignals]) -> dict[str, Any]:
    """What output drift compares: output lengths, refusals and check outcomes of answered traces."""
    answered = [(r, s) for r, s in zip(rows, found, strict=True) if not s.errored]
    outcomes = Counter("error" if s.check_errors else "fail" if s.checks_failed else "pass" for _, s in answered
                       if s.checks_passed + s.checks_failed + s.check_errors)
    return {"lengths": [len(r.record.output or "") for r, _ in answered],
            "refusals": sum(s.refusal for _, s in answered), "answered": len(answered), "outcomes": dict(outcomes)}


def _merge(reference: dict[str, Any] | None, facts: dict[str, Any]) -> dict[str, Any]:
    if not reference:
        return {**facts, "lengths": facts["lengths"][:REFERENCE_CAP]}
    outcomes = Counter(reference["outcomes"]) + Counter(facts["outcomes"])
    return {"lengths": (reference["lengths"] + facts["lengths"])[:REFERENCE_CAP],
            "refusals": reference["refusals"] + facts["refusals"],
            "answered": reference["answered"] + facts["answered"], "outcomes": dict(outcomes)}


def output_drift(reference: dict[str, Any], window: dict[str, Any], *, alpha: float,
                 min_effect: float) -> list[TestRow]:
    """Output length (KS), refusal share and check outcomes (chi-square): one BH family."""
    tests: list[TestRow] = []
    if reference["lengths"] and window["lengths"]:
        r = ks(reference["lengths"], window["lengths"], alpha=alpha, min_effect=min_effect)
        tests.append(TestRow("output_length", "output", "ks", r.statistic, r.p_value, r.effect_size, min_effect,
                             value=f"median {_median(window['lengths']):.0f} chars",
                             reference=f"median {_median(reference['lengths']):.0f} chars", n=len(window["lengths"])))
    if reference["answered"] and window["answered"]:
        tests.append(_share("refusal_rate", reference["refusals"], reference["answered"], window["refusals"],
                            window["answered"], alpha, min_effect))
    if reference["outcomes"] and window["outcomes"]:
        r = chi2(reference["outcomes"], window["outcomes"], alpha=alpha, min_effect=min_effect)
        tests.append(TestRow("check_outcomes", "output", "chi2", r.statistic, r.p_value, r.effect_size, min_effect,
                             value=_shares(window["outcomes"]), reference=_shares(reference["outcomes"]),
                             n=sum(window["outcomes"].values())))
    return _adjust(tests, alpha)


def _share(name: str, ref_hits: int, ref_n: int, hits: int, n: int, alpha: float, min_effect: float) -> TestRow:
    r = chi2({"yes": ref_hits, "no": ref_n - ref_hits}, {"yes": hits, "no": n - hits}, alpha=alpha,
             min_effect=min_effect)
    return TestRow(name, "output", "chi2", r.statistic, r.p_value, r.effect_size, min_effect,
                   value=f"{hits / n:.1%}", reference=f"{ref_hits / ref_n:.1%}", n=n)


def _adjust(tests: list[TestRow], alpha: float) -> list[TestRow]:
    if not tests:
        return []
    adjusted, _ = adjust([t.p_value if t.p_value is not None else 1.0 for t in tests], alpha=alpha)
    return [replace(t, drifted=float(p) <= alpha and t.effect >= t.threshold, p_adjusted=float(p))
            for t, p in zip(tests, adjusted.tolist(), strict=True)]


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    return float(_quantile([float(v) for v in ordered], 0.5) or 0.0)


def _shares(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    return ", ".join(f"{k} {n / total:.0%}" for k, n in sorted(counts.items()))


# -- watching the window series ----------------------------------------------------------------


def _watch(scope: Scope, window: WindowResult, state: dict[str, Any],
           watch_cfg: dict[str, Any] | None) -> tuple[list[Observation], list[DriftEvent]]:
    """Feed each metric's watch (none with ``watch_cfg`` None: detectors off); one observation per metric, and
    one for output drift."""
    app, who, labels = scope.model, scope.title, scope.labels
    observations: list[Observation] = []
    events: list[DriftEvent] = []
    for metric, value in window.metrics.items():
        if value is None:
            continue
        watch = _watch_of(state, metric, watch_cfg)
        found = watch.feed([value], [window.end]) if watch is not None else []
        summary = f"{who} window {window.window}: {metric.replace('_', ' ')} {_g(value)}"
        for d in found:
            summary = f"{who}: {d.describe(metric.replace('_', ' '))} over {watch.n if watch else 0} windows"
            events.append(DriftEvent(d.detector, SOURCE, app, metric, d.after, window.end, labels, None,
                                     d.threshold, d.to_json()))
        if watch is not None:
            state["watches"][metric] = watch.get_state()
        observations.append(Observation(SOURCE, app, metric, window.end, value, bool(watch and watch.active), labels,
                                        found[-1].detector if found else None, summary))
    if not window.reference:
        moved = [t for t in window.drift if t.drifted]
        tests = {"tests": [t.to_json() for t in window.drift]}
        observations.append(Observation(SOURCE, app, "output_drift", window.end, float(len(moved)), bool(moved),
                                        labels, "output-drift", f"{who} " + window.summary, tests))
        if moved:
            events.append(DriftEvent("output-drift", SOURCE, app, "output_drift", float(len(moved)), window.end,
                                     labels, min(t.p_adjusted or 1.0 for t in moved), None, tests))
    return observations, events


def _watch_of(state: dict[str, Any], metric: str, cfg: dict[str, Any] | None) -> EvalWatch | None:
    if metric not in BAD or cfg is None:
        return None
    saved = state["watches"].get(metric)
    return EvalWatch.from_state(saved) if saved else EvalWatch(bad=BAD[metric], **cfg)


def series_points(app: str, windows: Sequence[WindowResult]) -> list[SeriesPoint]:
    """One point per metric per window (source ``llm-prod``)."""
    return [SeriesPoint(SOURCE, app, metric, value, w.end, Scope(app, w.version, w.environment).labels,
                        environment=w.environment)
            for w in windows for metric, value in w.metrics.items() if value is not None]


# -- storing each trace's evaluation -------------------------------------------------------------


def _store(conn: sqlite3.Connection, app: str, version: str, window: int, rows: list[StoredTrace],
           found: list[TraceSignals], scores: dict[int, float], errors: dict[int, str], now: str) -> None:
    conn.executemany(
        upsert("llm_evaluations", ("trace", "app", "version", '"window"', "checks_passed", "checks_failed", "failed",
                                   "judge_score", "judge_error", "refusal", "empty", "truncated", "evaluated_at"),
               ("trace",)),
        [(r.id, app, version, window, s.checks_passed, s.checks_failed + s.check_errors,
          dumps(s.details) if s.failed else None, scores.get(r.id),
          errors.get(r.id), int(s.refusal), int(s.empty),
          int(s.truncated), now) for r, s in zip(rows, found, strict=True)])


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


# -- which checks -------------------------------------------------------------------------------


def app_checks(cfg: LlmAppConfig, root: Path, *, where: str) -> list[CheckSpec]:
    """The deterministic checks ``cfg`` names: its ``checks`` list, else its golden set's ``defaults.checks``.

    Judged checks (``rubric``) are left out: the sampled judge grades them (``judge:``). ConfigError names
    the file:line of a bad check.
    """
    if cfg.checks is not None:
        entries, at = cfg.checks, [f"{where}.checks[{i}]" for i in range(len(cfg.checks))]
    elif cfg.golden_set is not None:
        path = (root / cfg.golden_set).resolve()
        if not path.is_file():
            raise ConfigError(f"no golden set {cfg.golden_set!r}", where=f"{where}.golden_set",
                              expected="a golden set file, relative to the project folder",
                              fix="e.g. golden_set: goldensets/support.yaml")
        raw, lines = yamlio.load(path, yamlio.relative(path, root))
        entries = list(((raw or {}).get("defaults") or {}).get("checks") or [])
        at = [lines.where(("defaults", "checks", i)) for i in range(len(entries))]
    else:
        return []
    built = [build_check(entry, place, root) for entry, place in zip(entries, at, strict=True)]
    return [c for c in built if not c.judged]
