"""The self-contained HTML report: one file, no network, nothing from the model executed.

Safety, in layers: every value goes through Jinja2 autoescaping (model
output, case inputs, check details, judge evidence); the page's own script
reads text and attributes only (never ``innerHTML``); and a Content Security
Policy allows exactly the page's own script and style by hash, so even an
escaping bug could not run an injected script or load anything remote.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from goldband.report import fmt, svg
from goldband.report.data import STATUS_ORDER, CaseResult, RunReport, TrendPoint, group_name, pretty

ASSETS = Path(__file__).parent / "assets"
OUTPUT_LIMIT = 4000  # characters of one output shown; report.json has the rest


@dataclass(frozen=True)
class Row:
    case: CaseResult
    interval: Markup
    strip: Markup
    input: str
    reference: str


def csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ASSETS), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(rate=fmt.rate, pct=fmt.pct, usd=fmt.usd, ms=fmt.ms, css=_css, clip=_clip)
    return env


@functools.cache
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def render_html(report: RunReport, *, store: str = "", version: str = "") -> str:
    """The report page for one run."""
    css, js = _asset("report.css"), _asset("report.js")
    groups = report.groups
    return _environment().get_template("report.html.j2").render(
        report=report, run=report.run, version=version, store=store, statuses=STATUS_ORDER,
        css=Markup(css), js=Markup(js), style_hash=csp_hash(css), script_hash=csp_hash(js),
        trends=[_trend(g.trend) for g in groups],
        histograms=[svg.histogram([t.score for c in g.cases for t in c.trials if t.score is not None],
                                  label=f"trial scores of {group_name(g.goldenset, g.target)}") for g in groups],
        rows=[_row(c) for g in groups for c in g.cases], limit=OUTPUT_LIMIT,
    )


def _trend(trend: dict[str, list[TrendPoint]]) -> Markup:
    series = {name.replace("_", " "): [(p.run_id, p.value) for p in points] for name, points in trend.items()
              if points}
    return svg.trend(series, label="pass rate, mean score and error rate over runs")


def _row(case: CaseResult) -> Row:
    v = case.verdict
    bar = _bar(case)
    interval = svg.interval(v.pass_rate if v else None, v.pass_rate_low if v else None,
                            v.pass_rate_high if v else None, bar, label=f"pass rate of {case.title}")
    scores = [t.score for t in case.trials]
    strip = svg.strip(scores, [t.outcome for t in case.trials], label=f"trial scores of {case.title}")
    return Row(case, interval, strip, pretty(case.meta.get("input")), pretty(case.meta.get("reference")))


def _bar(case: CaseResult) -> float | None:
    band = case.meta.get("band")
    value = band.get("min_pass_rate") if isinstance(band, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _css(status: str) -> str:
    return "s-" + status.lower().replace(" ", "-")


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters in report.json)"
