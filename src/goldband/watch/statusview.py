"""What ``status`` returns: the state of every model and eval series, as text and as JSON.

The data (``Status``, ``ModelStatus``, ``EvalStatus``) and its two renderings
live together: ``Status.render()`` is the terminal view (``goldband monitor
status``), ``Status.to_json()`` the ``--json`` one. ``goldband.watch.overview``
fills it from the store.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from goldband.report.fmt import spark, table
from goldband.store.writer import finite
from goldband.watch.checks import TestRow

__all__ = ["ADVICE", "EvalStatus", "ModelStatus", "Status", "render", "to_json"]

ADVICE = {
    "stable": "no drift in the latest window",
    "waiting": "fewer predictions than one window so far",
    "no reference": "register a reference to test this version (goldband monitor reference)",
    "input drift": "the inputs moved but the model's error has not risen: check the data pipeline and the new "
                   "population; no retrain is needed while the error holds",
    "input drift, error unknown": "the inputs moved; too few labels for these predictions have arrived yet, so "
                                  "the error is not known: check the data pipeline and watch the error",
    "input drift, error rising": "the inputs moved and the labels that arrived for them show an error above the "
                                 "reference's, which the concept detectors have not confirmed yet: prepare a "
                                 "retrain on recent data and watch the next check",
    "output drift": "the predictions moved while the monitored inputs did not: check unmonitored inputs, the "
                    "deployed model artifact and its thresholds",
    "concept drift": "the error rose while the inputs did not move: the same inputs now mean something else; "
                     "retrain on recent labelled data",
    "input + concept drift": "the error rose together with moved inputs: retrain on recent data, and find out why "
                             "the inputs moved",
}


@dataclass
class ModelStatus:
    model: str
    version: str
    reference: dict[str, Any] | None
    environment: str = "default"  # where its predictions were served (each environment is watched apart)
    predictions: int = 0
    labelled: int = 0
    windows: int = 0
    latest: dict[str, Any] | None = None  # the latest window: window, start, end, rows, input/output drifted
    features: list[TestRow] = field(default_factory=list)
    outputs: list[TestRow] = field(default_factory=list)
    joint: TestRow | None = None  # the latest window's multivariate test
    history: list[dict[str, Any]] = field(default_factory=list)  # recent windows: window, end, flags, drifted
    concept: dict[str, Any] = field(default_factory=dict)
    error_series: list[tuple[str, float]] = field(default_factory=list)
    window_error: dict[str, Any] | None = None  # the latest window's labels: rows, labelled, error, need, known
    quality: list[dict[str, Any]] = field(default_factory=list)  # the latest tested window's broken rules
    segments: list[dict[str, Any]] = field(default_factory=list)  # the latest tested window's segments
    performance: list[dict[str, Any]] = field(default_factory=list)  # recent windows' estimates (+ realised)
    diagnosis: str = "waiting"
    alerts: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)

    @property
    def advice(self) -> str:
        return ADVICE.get(self.diagnosis, "")

    @property
    def drifted_features(self) -> list[str]:
        return list(dict.fromkeys(t.name for t in self.features if t.drifted))


@dataclass
class EvalStatus:
    target: str
    goldenset: str
    metric: str
    kind: str
    values: list[tuple[str, float]]
    active: bool
    scale: float | None
    last_detection: dict[str, Any] | None
    environment: str = "default"  # the runs' environment (label ``environment``; none: default)


@dataclass
class Status:
    generated_at: str
    store: str
    models: list[ModelStatus]
    evals: list[EvalStatus]
    alerts: list[dict[str, Any]]  # open and acknowledged, newest first
    recent: list[dict[str, Any]] = field(default_factory=list)  # the latest alerts in any status (incident history)

    def render(self) -> str:
        """The terminal view: a summary table, each model's detail, the eval series, the open alerts."""
        return render(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON view (``goldband monitor status --json``): NaN and infinities become null."""
        return to_json(self)



def render(st: Status) -> str:
    """Summary table per model, then each model's detail, the eval series and the open alerts."""
    parts = [f"goldband monitor status · {st.generated_at[:16].replace('T', ' ')} UTC · store {st.store}"]
    if st.models:
        parts.append(_summary(st.models))
        parts += [_detail(m) for m in st.models]
    else:
        parts.append("no classic-ML model has logged predictions or a reference yet "
                     "(goldband monitor log, PredictionLogger, or goldband monitor demo)")
    if st.evals:
        parts.append(_evals(st.evals))
    parts.append(_alerts(st.alerts))
    return "\n\n".join(parts)


def _summary(models: list[ModelStatus]) -> str:
    envs = any(m.environment != "default" for m in models)  # the default environment only: no column, as before
    rows = [[m.model, m.version, *([m.environment] if envs else []), f"{m.predictions:,}", f"{m.labelled:,}",
             str(m.windows), _inputs(m), ", ".join(t.name for t in m.outputs if t.drifted) or "-", _error(m),
             m.diagnosis.upper() if m.diagnosis not in ("stable", "waiting") else m.diagnosis,
             _alert_count(m.alerts)] for m in models]
    counts = {2, 3, 4} if not envs else {3, 4, 5}
    return table(rows, ["model", "version", *(["environment"] if envs else []), "predictions", "labelled", "windows",
                        "input drift", "output drift", "error ref → now", "diagnosis", "open alerts"], right=counts)


def _inputs(m: ModelStatus) -> str:
    total = len((m.reference or {}).get("spec", {}).get("features", {}))
    joint = " + joint" if m.joint is not None and m.joint.drifted else ""
    return f"{len(m.drifted_features)} of {total} features{joint}" if m.latest else "-"


def _error(m: ModelStatus) -> str:
    ref, now = m.concept.get("error_reference"), m.concept.get("error_now")
    arrow = " ↑" if m.concept.get("active") or m.concept.get("above_reference") else ""
    return f"{_f(ref)} → {_f(now)}{arrow}" if ref is not None or now is not None else "-"


def _alert_count(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "-"
    by = {s: sum(a["severity"] == s for a in alerts) for s in ("critical", "warning", "info")}
    return ", ".join(f"{n} {s}" for s, n in by.items() if n)


def _detail(m: ModelStatus) -> str:
    where = "" if m.environment == "default" else f" in {m.environment}"
    lines = [f"{m.model} v{m.version}{where} · {m.diagnosis.upper()}: {m.advice}"]
    if m.reference:
        lines.append(f"  reference  {m.reference['path']} ({m.reference['rows']:,} rows, {m.reference['hash'][:19]}…)")
        if m.reference.get("warning"):
            lines.append(f"  WARNING    {m.reference['warning']}")
    if m.latest:
        w = m.latest
        lines.append(f"  window {w['window']}  {w['rows']:,} predictions, {w['start'][:16]} → {w['end'][:16]}")
        lines.append(_indent(_tests(m.features + ([m.joint] if m.joint else []) + m.outputs)))
        lines += _quality(m.quality) + _segments(m.segments)
        lines.append("  windows    " + _timeline(m.history))
    if m.performance:
        lines.append("  estimated  " + _performance(m.performance))
    lines.append("  concept    " + _concept(m))
    lines.append("  labels     " + _labels(m))
    if m.issues:
        lines.append("  issues     " + "; ".join(f"{i['kind']}{' ' + repr(i['field']) if i['field'] else ''} "
                                               f"x{i['count']:,}" for i in m.issues[:6]))
        lines.append(f"             e.g. {m.issues[0]['example']}")
    return "\n".join(lines)


def _tests(tests: list[TestRow]) -> str:
    rows = [[("* " if t.drifted else "  ") + t.name, t.kind, t.test, _f(t.statistic), _p(t.p_adjusted),
             _f(t.effect), f">= {t.threshold:g}", _new(t), t.value, t.reference] for t in tests]
    return table(rows, ["  test on", "kind", "test", "statistic", "p adj.", "effect", "drifts at", "unseen",
                        "window", "reference"], right={3, 4, 5, 7})


def _new(t: TestRow) -> str:
    """The window's share never seen in the reference: out of range (numeric) or unseen labels (categorical)."""
    share = t.out_of_range_share if t.out_of_range_share is not None else t.unseen_share
    return "-" if share is None else f"{share:.1%}"


def _timeline(history: list[dict[str, Any]]) -> str:
    marks = "".join("_" if h.get("status", "tested") != "tested" else "B" if h["input_drifted"] and
                    h["output_drifted"] else "I" if h["input_drifted"] else "O" if h["output_drifted"] else "."
                    for h in history)
    first = history[0]["window"] if history else 0
    return (f"{marks}  (windows {first}-{first + len(history) - 1}; I input, O output, B both, . none, "
            "_ empty or too small)")


def _quality(broken: list[dict[str, Any]]) -> list[str]:
    return [f"  quality    {q['feature']}: {q['rule']} broken by {q['violations']:,} of {q['n']:,} rows "
            f"({q['share']:.1%}, tolerated {q['tolerance']:.1%}; e.g. {q.get('example')!s})" for q in broken]


def _segments(segments: list[dict[str, Any]]) -> list[str]:
    if not segments:
        return []
    drifted = [g for g in segments if g.get("input_drifted") or g.get("output_drifted") or g.get("quality_violated")]
    other = {s: sum(g.get("status") == s for g in segments) for s in ("too_small", "unseen")}
    text = (f"{len(segments)} segments, drifted: " + (", ".join(
        f"{g['segment']} ({', '.join(g.get('drifted_features', []) + g.get('drifted_outputs', [])) or 'quality'})"
        for g in drifted) or "none"))
    text += "".join(f"; {n} {s.replace('_', ' ')}" for s, n in other.items() if n)
    return ["  segments   " + text]


def _performance(windows: list[dict[str, Any]]) -> str:
    """The latest window's estimates (± sampling error), then realised values where the labels are in."""
    last = windows[-1]
    spread = last.get("sampling_error", {})
    text = f"window {last['window']}: " + ", ".join(
        f"{m} {_f(v)} ±{_f(spread.get(m))}" + (" FLAGGED" if f"estimated_{m}" in last.get("flagged", []) else "")
        for m, v in last["metrics"].items())
    known = [w for w in windows if w.get("realised")]
    if known:
        text += "; realised " + ", ".join(
            f"window {w['window']} {w['realised']['metric']} {_f(w['realised']['value'])} (estimated "
            f"{_f(w['metrics'].get(w['realised']['metric']))})" for w in known[-3:])
    return text


def _concept(m: ModelStatus) -> str:
    c = m.concept
    if not c.get("fed"):
        return "no labelled predictions fed yet (labels arrive later; see label_delay)"
    text = f"{c['fed']:,} labelled predictions fed (up to {str(c.get('cursor_time'))[:16]})"
    if c.get("active"):
        kind = "input + concept drift" if c.get("kind") == "input+concept" else "concept drift"
        text += (f"; error rose from {_f(c.get('before'))} to {_f(c.get('after'))} ({c.get('by')}, "
                 f"{str(c.get('since'))[:16]}): {kind}")
    elif c.get("settled"):
        d = c["settled"]
        text += (f"; error rose ({str(d.get('since'))[:16]}, {d.get('by')}), then settled at {_f(d.get('level'))} "
                 f"for {d.get('windows')} windows: incident closed"
                 + (", still above the reference" if c.get("above_reference") else ""))
    elif c.get("last_detection"):
        d = c["last_detection"]
        text += f"; last change {str(d.get('time'))[:16]} ({d.get('detector')}, {d.get('kind')}), now back down"
    else:
        text += "; no change in the error"
    return text


def _labels(m: ModelStatus) -> str:
    c = m.concept
    parts = [f"{m.labelled:,} of {m.predictions:,} predictions labelled", f"{c.get('waiting', 0):,} waiting"]
    parts.append(f"{c.get('late_labels') or 0:,} arrived after the watermark passed")
    orphans = f"{c.get('orphan_labels') or 0:,} for unknown prediction ids"
    if c.get("orphan_example"):  # a label may come before its prediction is logged; many mean mismatched ids
        orphans += f" (e.g. {c['orphan_example']!r}: kept, joined if that prediction is logged later)"
    parts.append(orphans)
    return ", ".join(parts) + _window_labels(m.window_error)


def _window_labels(w: dict[str, Any] | None) -> str:
    """The latest window's labels: ``; latest window: error 0.031 on 312 of 500 labels (known)``."""
    if not w:
        return ""
    if not w["known"]:
        return f"; latest window: {w['labelled']:,} of {w['rows']:,} labelled, error unknown until {w['need']:,}"
    above = ", above the reference" if w.get("above_reference") else ", not above the reference"
    return f"; latest window: error {_f(w['error'])} on {w['labelled']:,} of {w['rows']:,} labels (known{above})"


def _evals(evals: list[EvalStatus]) -> str:
    rows, envs = [], any(e.environment != "default" for e in evals)  # one environment: no column, as before
    for e in evals:
        values = [v for _, v in e.values]
        state = "DEGRADED" if e.active else "ok" if e.scale is not None else f"warming up ({len(values)} runs)"
        if e.last_detection:
            d = e.last_detection
            state += f" ({d.get('direction')} {_f(d.get('before'))} → {_f(d.get('after'))}, {str(d['time'])[:10]})"
        rows.append([e.target, *([e.environment] if envs else []), e.goldenset, e.metric, e.kind, str(len(values)),
                     _f(values[-1] if values else None), spark(list(values[-20:])), state])
    header = ["target", *(["environment"] if envs else []), "golden set", "metric", "kind", "runs", "last",
              "last 20", "state"]
    return "LLM eval series\n" + table(rows, header, right={4 + envs, 5 + envs})


def _alerts(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "open alerts: none"
    rows = [[f"#{a['id']}", a["status"], a["severity"], a["rule"], a["model"], a["metric"], str(a["opened_at"])[:16],
             str(a["count"]), _clip(a["summary"] or "", 90)] for a in alerts]
    return "open alerts (goldband alerts ack ID)\n" + table(rows, ["id", "status", "severity", "rule", "model",
                                                                   "metric", "opened", "n", "summary"])


def to_json(st: Status) -> dict[str, Any]:
    models = []
    for m in st.models:
        row = asdict(m)
        row["features"] = [t.to_json() for t in m.features]
        row["outputs"] = [t.to_json() for t in m.outputs]
        row["joint"] = m.joint.to_json() if m.joint else None
        row["advice"] = m.advice
        models.append(row)
    data: dict[str, Any] = finite({"generated_at": st.generated_at, "store": st.store, "models": models,
                                   "evals": [asdict(e) for e in st.evals], "alerts": st.alerts,
                                   "recent_alerts": st.recent})
    return data


def _f(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<1e-12" if value < 1e-12 else f"{value:.2g}"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
