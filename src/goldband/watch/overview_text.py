"""The status as text for the terminal (``goldband monitor status``) and as JSON (``--json``)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from goldband.report.fmt import spark, table
from goldband.store.writer import finite

if TYPE_CHECKING:
    from goldband.watch.checks import TestRow
    from goldband.watch.overview import EvalStatus, ModelStatus, Status

__all__ = ["render", "to_json"]


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
    rows = [[m.model, m.version, f"{m.predictions:,}", f"{m.labelled:,}", str(m.windows), _inputs(m),
             ", ".join(t.name for t in m.outputs if t.drifted) or "-", _error(m), m.diagnosis.upper()
             if m.diagnosis not in ("stable", "waiting") else m.diagnosis, _alert_count(m.alerts)] for m in models]
    return table(rows, ["model", "version", "predictions", "labelled", "windows", "input drift", "output drift",
                        "error ref → now", "diagnosis", "open alerts"], right={2, 3, 4})


def _inputs(m: ModelStatus) -> str:
    total = len((m.reference or {}).get("spec", {}).get("features", {}))
    return f"{len(m.drifted_features)} of {total} features" if m.latest else "-"


def _error(m: ModelStatus) -> str:
    ref, now = m.concept.get("error_reference"), m.concept.get("error_now")
    arrow = " ↑" if m.concept.get("active") else ""
    return f"{_f(ref)} → {_f(now)}{arrow}" if ref is not None or now is not None else "-"


def _alert_count(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "-"
    by = {s: sum(a["severity"] == s for a in alerts) for s in ("critical", "warning", "info")}
    return ", ".join(f"{n} {s}" for s, n in by.items() if n)


def _detail(m: ModelStatus) -> str:
    lines = [f"{m.model} v{m.version} · {m.diagnosis.upper()}: {m.advice}"]
    if m.reference:
        lines.append(f"  reference  {m.reference['path']} ({m.reference['rows']:,} rows, {m.reference['hash'][:19]}…)")
    if m.latest:
        w = m.latest
        lines.append(f"  window {w['window']}  {w['rows']:,} predictions, {w['start'][:16]} → {w['end'][:16]}")
        lines.append(_indent(_tests(m.features + m.outputs)))
        lines.append("  windows    " + _timeline(m.history))
    lines.append("  concept    " + _concept(m))
    lines.append("  labels     " + _labels(m))
    if m.issues:
        lines.append("  issues     " + "; ".join(f"{i['kind']}{' ' + repr(i['field']) if i['field'] else ''} "
                                               f"x{i['count']:,}" for i in m.issues[:6]))
        lines.append(f"             e.g. {m.issues[0]['example']}")
    return "\n".join(lines)


def _tests(tests: list[TestRow]) -> str:
    rows = [[("* " if t.drifted else "  ") + t.name, t.kind, t.test, _f(t.statistic), _p(t.p_adjusted),
             _f(t.effect), f">= {t.threshold:g}", t.value, t.reference] for t in tests]
    return table(rows, ["  test on", "kind", "test", "statistic", "p adj.", "effect", "drifts at", "window",
                        "reference"], right={3, 4, 5})


def _timeline(history: list[dict[str, Any]]) -> str:
    marks = "".join("B" if h["input_drifted"] and h["output_drifted"] else "I" if h["input_drifted"]
                    else "O" if h["output_drifted"] else "." for h in history)
    first = history[0]["window"] if history else 0
    return f"{marks}  (windows {first}-{first + len(history) - 1}; I input, O output, B both, . none)"


def _concept(m: ModelStatus) -> str:
    c = m.concept
    if not c.get("fed"):
        return "no labelled predictions fed yet (labels arrive later; see label_delay)"
    text = f"{c['fed']:,} labelled predictions fed (up to {str(c.get('cursor_time'))[:16]})"
    if c.get("active"):
        kind = "input + concept drift" if c.get("kind") == "input+concept" else "concept drift"
        text += (f"; error rose from {_f(c.get('before'))} to {_f(c.get('after'))} ({c.get('by')}, "
                 f"{str(c.get('since'))[:16]}): {kind}")
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
    parts.append(f"{c.get('orphan_labels') or 0:,} for unknown prediction ids")
    return ", ".join(parts)


def _evals(evals: list[EvalStatus]) -> str:
    rows = []
    for e in evals:
        values = [v for _, v in e.values]
        state = "DEGRADED" if e.active else "ok" if e.scale is not None else f"warming up ({len(values)} runs)"
        if e.last_detection:
            d = e.last_detection
            state += f" ({d.get('direction')} {_f(d.get('before'))} → {_f(d.get('after'))}, {str(d['time'])[:10]})"
        rows.append([e.target, e.goldenset, e.metric, e.kind, str(len(values)), _f(values[-1] if values else None),
                     spark(list(values[-20:])), state])
    return "LLM eval series\n" + table(rows, ["target", "golden set", "metric", "kind", "runs", "last", "last 20",
                                               "state"], right={4, 5})


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
