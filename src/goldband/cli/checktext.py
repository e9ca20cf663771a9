"""What ``goldband monitor check`` and ``goldband nightly`` print about a check, and the exit status of alerts.

Per model version (in each environment that served it) and per eval series with news: one line of what came in,
then one line per **detector** (named, in its own words: *no drift detected*,
*DRIFT DETECTED*, *still DEGRADED*, *warming up*) and one line per alert
**rule** that watches the series (named, with its state: *FIRING*, *not
firing yet*, *not firing*, and why, see ``goldband.alerts.states``). A
detector line and a rule line about the same series are two named
statements, so a floor rule can fire while the drift detector sees no change
without the output contradicting itself.

Exit statuses of alerts (documented in the README's exit status table):
``ALERTS_FIRED`` (6) when ``--fail-on-alert SEVERITY`` is given and an alert
of at least that severity opened (no case failed), ``FAILED_AND_ALERTS`` (7)
for ``goldband nightly`` when a case failed too. The last line says why the
command exits with its status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from goldband.alerts.engine import Delivered
    from goldband.alerts.states import RuleStep
    from goldband.config.monitors import EvalMonitorConfig
    from goldband.watch.evaldrift import SeriesResult
    from goldband.watch.overview import Status
    from goldband.watch.runner import CheckReport, ModelReport, WindowSummary

ALERTS_FIRED = 6  # an alert at or above --fail-on-alert opened, and no case failed
FAILED_AND_ALERTS = 7  # goldband nightly: a case failed and such an alert opened


@dataclass(frozen=True)
class Checked:
    """One check: its report, what each alert rule made of each series, and the status after it."""

    report: CheckReport
    steps: list[RuleStep]
    eval_cfg: EvalMonitorConfig
    status: Status | None = None
    active: tuple[tuple[int, str, str], ...] = ()  # every open or acknowledged alert after it: (id, severity, rule)


def print_check(checked: Checked) -> None:
    """What one check found: a block per model version and eval series that had news, then the alerts sent."""
    report, steps, eval_cfg = checked.report, checked.steps, checked.eval_cfg
    for m in report.models:
        for problem in m.problems:
            click.echo(f"{m.title}: {problem}", err=True)
        click.echo(_model_line(m))
        for note in m.notes:
            click.echo(f"  note: {note}")
        for w in m.windows:  # empty and too-small calendar windows, drifted segments, broken quality rules
            if w.status != "tested" or w.segments_drifted or w.quality_violated:
                click.echo(f"  {w.summary}")
        for found in (m.concept.detections if m.concept else []):
            click.echo(f"  concept drift detector: {found['summary']}")
        _rules([s for s in steps if s.obs.source == "classic-ml" and s.obs.model == m.model
                and str(s.obs.labels.get("version")) == m.version
                and s.obs.labels.get("environment") == m.environment], per_series=True)
    for s in (report.eval.series if report.eval else []):
        if s.fed or s.detections:
            value = "-" if s.last_value is None else f"{s.last_value:.3f}"
            click.echo(f"{s.model} {s.metric} [{s.labels.get('goldenset', '?')}]: {s.fed} new run(s), last {value}")
            click.echo(f"  {_detector_line(s, eval_cfg)}")
            for found in s.detections:
                click.echo(f"    {found['summary']}")
            _rules([st for st in steps if st.obs.source == "llm-eval" and _same_series(st, s)], per_series=False,
                   none="no alert rule watches this series")
    for d in report.delivered:
        click.echo(f"alert #{d.event.id} {d.event.severity} [{d.event.rule}]: {_sent(d.results)}")
    if not report.delivered:
        click.echo("no new alerts")


def _same_series(step: RuleStep, s: SeriesResult) -> bool:
    return step.obs.model == s.model and step.obs.metric == s.metric and dict(step.obs.labels) == s.labels


def _detector_line(s: SeriesResult, cfg: EvalMonitorConfig) -> str:
    names = "page_hinkley" + (", adwin" if "adwin" in cfg.detectors else "")
    head = f"drift detector ({names})"
    if s.active:
        new = any(d.get("bad") for d in s.detections)
        return f"{head}: " + ("DRIFT DETECTED: degraded" if new else "still DEGRADED (drift detected earlier)")
    if s.scale is None:
        return (f"{head}: warming up ({s.points} of {cfg.page_hinkley.warmup} runs seen): "
                "no drift verdict yet")
    if any(d.get("bad") for d in s.detections):
        return f"{head}: drift detected, then recovered: not degraded"
    if s.detections:
        return f"{head}: a change for the better detected: not degraded"
    return f"{head}: no drift detected over {s.points} runs"


def _rules(steps: list[RuleStep], *, per_series: bool, none: str | None = None) -> None:
    """One line per rule state; a rule quiet on many series of a model is one line."""
    from goldband.alerts.states import describe, title

    if not steps and none:
        click.echo(f"  {none}")
    by_rule: dict[str, list[RuleStep]] = {}
    for step in steps:
        by_rule.setdefault(step.rule.name, []).append(step)
    for group in by_rule.values():
        quiet = [s for s in group if not s.firing and not s.pending and "resolved" not in s.events]
        for step in group:
            if step not in quiet or len(quiet) == 1:
                click.echo(f"  {describe(step, on=step.obs.metric if per_series else None)}")
        if len(quiet) > 1:
            names = ", ".join(s.obs.metric for s in quiet)
            click.echo(f"  {title(quiet[0].rule)}: not firing on {len(quiet)} series ({names})")


def _sent(results: dict[str, str]) -> str:
    done = [sink for sink, r in results.items() if r == "ok"]
    failed = [f"{sink} FAILED: {r}" for sink, r in results.items() if r != "ok"]
    if not results:
        return "no sink takes this severity"
    return "; ".join(([f"sent to {', '.join(done)}"] if done else []) + failed)


def _model_line(m: ModelReport) -> str:
    drifted = [w for w in m.windows if w.input_drifted]
    text = f"{m.title}: {len(m.windows)} new window(s)"
    if drifted:
        names = sorted({f for w in drifted for f in w.drifted_features})
        shown = [name + _new_share(name, drifted) for name in names]
        text += f", {len(drifted)} with input drift ({', '.join(shown)})"
    if m.concept and m.concept.mean_error is not None:
        text += f"; {m.concept.fed:,} labelled predictions fed (error {m.concept.mean_error:.3f})"
    if m.late_predictions:
        text += f"; {m.late_predictions:,} late predictions not tested"
    return text


def _new_share(feature: str, windows: list[WindowSummary]) -> str:
    """`` 12.5% out of range`` from the latest of ``windows`` where ``feature`` had never-seen values, else ''."""
    shares = [w.new_values[feature] for w in windows if feature in w.new_values]
    return f": {shares[-1]}" if shares else ""


# -- the exit status of alerts -------------------------------------------------------------------


def fired(checked: Checked | None, floor: str | None) -> list[Delivered]:
    """The alerts this check opened at or above ``floor`` (none without a floor)."""
    from goldband.alerts.rules import severity_at_least

    if checked is None or not floor:
        return []
    report = checked.report
    return [d for d in report.delivered if d.event.id in report.opened and severity_at_least(d.event.severity, floor)]


def alerts_text(checked: Checked, floor: str | None) -> str:
    """Why the alerts did (or did not) set the exit status, and which alerts opened earlier are still open."""
    from goldband.alerts.rules import severity_at_least

    if floor is None:
        return "alerts do not set the exit status (no --fail-on-alert)"
    new = fired(checked, floor)
    text = f"no new alert at or above {floor}"
    if new:
        named = ", ".join(f"#{d.event.id} {d.event.severity} [{d.event.rule}]" for d in new)
        text = f"{len(new)} new alert(s) at or above {floor} fired ({named})"
    ids = {d.event.id for d in new}
    old = sorted(i for i, severity, _ in checked.active if i not in ids and severity_at_least(severity, floor))
    if old:
        text += (f"; {len(old)} still open from an earlier check ({', '.join(f'#{i}' for i in old)}: "
                 "goldband alerts list)")
    return text


def check_status(command: str, checked: Checked, floor: str | None) -> int:
    """``goldband monitor check``'s status: ALERTS_FIRED when an alert at or above ``floor`` opened; the last line
    says so (only with a floor: without one alerts never set the status)."""
    code = ALERTS_FIRED if fired(checked, floor) else 0
    if floor is not None:
        click.echo(f"{command}: exit {code}: {alerts_text(checked, floor)}")
    return code


def nightly_status(pytest_code: int, checked: Checked | None, floor: str | None) -> int:
    """``goldband nightly``'s status from the run's (0, 1, 2, 3) and the alerts; prints the one-line reason."""
    cases = {0: "every case passed its band", 1: "cases failed (FAIL, ERROR or INCONCLUSIVE: see the run above)",
             2: "usage or collection error (see above)", 3: "goldband or its judge failed (see above)"}
    alerts = bool(fired(checked, floor))
    if pytest_code == 0 and alerts:
        code = ALERTS_FIRED
    elif pytest_code == 1 and alerts:
        code = FAILED_AND_ALERTS
    else:
        code = pytest_code
    watched = alerts_text(checked, floor) if checked is not None else "the monitors did not run"
    click.echo(f"goldband nightly: exit {code}: {cases.get(pytest_code, f'pytest exited {pytest_code}')}; {watched}")
    return code
