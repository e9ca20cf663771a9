"""The self-contained HTML report: one file, no network, nothing from the model executed.

Safety, in layers: every value goes through Jinja2 autoescaping (model
output, case inputs, check details, judge evidence); the page's own script
reads text and attributes only (never ``innerHTML``); and a Content Security
Policy allows exactly the page's own script and style by hash, so even an
escaping bug could not run an injected script or load anything remote.

Size, at thousands of cases: every trial of a case that did not cleanly pass
(FAIL, ERROR, INCONCLUSIVE, QUARANTINED, not run, or a PASS with a failing
trial) is shown; a clean pass shows its first ``PASSING_OUTPUTS`` distinct
outputs (each with its count of identical trials) and says how many more there
are and how to see them all (``goldband show RUN CASE``; report.json lists one
trial of each output shown, ``report.files``). The page is written as it renders (``write_html``), one case's trials
in memory at a time.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import jinja2
from markupsafe import Markup

from goldband.report import fmt, svg
from goldband.report.data import (
    STATUS_ORDER,
    CaseResult,
    Group,
    RunReport,
    TrendPoint,
    group_name,
    pretty,
    show_command,
)
from goldband.report.escape import visible_lines
from goldband.report.outputs import OutputGroup, Sent, arguments, group_outputs, messages_sent, shown_outputs
from goldband.report.why import failing_checks
from goldband.results import ScoredTrial

ASSETS = Path(__file__).parent / "assets"
OUTPUT_LIMIT = 4000  # characters of one output shown; report.json has the rest


@dataclass(frozen=True)
class Row:
    case: CaseResult
    interval: Markup
    strip: Markup
    input: str
    reference: str
    outputs: list[OutputGroup]  # identical trials once, with a count
    sent: list[Sent]  # the rendered messages the trials were sent
    why: tuple[str, ...] = ()  # the failing checks, each "label: detail (k/n trials)" (report.why)
    left_out: int = 0  # trials of a clean pass whose outputs are not shown (outputs.PASSING_OUTPUTS)
    show: str = ""  # the command that prints every trial of the case
    case_outputs: int = 0  # distinct outputs among all of the case's trials

    @property
    def left_out_outputs(self) -> int:
        """Distinct outputs not shown: all of the case's outputs but those shown."""
        return self.case_outputs - len(self.outputs)


def csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ASSETS), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, finalize=_shown)
    env.filters.update(rate=_number(fmt.rate), pct=_number(fmt.pct), usd=_number(fmt.usd), ms=_number(fmt.ms),
                       css=_css, clip=_clip, arguments=arguments)
    return env


@functools.cache
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def render_html(report: RunReport, *, store: str = "", version: str = "") -> str:
    """The report page for one run."""
    return "".join(_chunks(report, store=store, version=version))


#: Told each case as the page renders it: the case, all its trials, and the output groups the page shows.
OnCase = Callable[[CaseResult, list[ScoredTrial], list[OutputGroup]], None]


def write_html(report: RunReport, out: TextIO, *, store: str = "", version: str = "",
               on_case: OnCase | None = None) -> None:
    """The report page written to ``out`` as it renders: one case's trials in memory at a time.
    ``on_case``: what else is written from the same trials (report.json, ``report.files``)."""
    out.writelines(_chunks(report, store=store, version=version, on_case=on_case))


def _chunks(report: RunReport, *, store: str, version: str, on_case: OnCase | None = None) -> Iterator[str]:
    css, js = _asset("report.css"), _asset("report.js")
    groups = report.groups
    return _environment().get_template("report.html.j2").generate(
        report=report, run=report.run, version=version, store=store, statuses=STATUS_ORDER,
        css=Markup(css), js=Markup(js), style_hash=csp_hash(css), script_hash=csp_hash(js),
        trends=[_trend(g) for g in groups],
        histograms=[svg.histogram([s for c in g.cases for s in c.scores if s is not None],
                                  label=f"trial scores of {group_name(g.goldenset, g.target)}") for g in groups],
        rows=_case_rows(report, on_case),
    )


def _case_rows(report: RunReport, on_case: OnCase | None) -> Iterator[Markup]:
    """Each case's rows of the case table, rendered on their own (case.html.j2): one chunk a case for the
    page's writer rather than hundreds, and one case's trials read at a time."""
    template = _environment().get_template("case.html.j2")
    for index, case in enumerate(report.cases, start=1):
        trials = report.trials_of(case)
        row = _row(case, trials, report.run.id)
        if on_case is not None:
            on_case(case, trials, row.outputs)
        yield Markup(template.render(c=row, index=index, limit=OUTPUT_LIMIT) + "\n")


def _trend(group: Group) -> Markup:
    """The group's metrics over runs: axes, each run's id, time and golden set version on hover, and a
    marker where the version changed (a step there may be the new cases, not the target)."""
    runs = _runs(group.trend)
    series = {name.replace("_", " "): [(p.run_id, p.value) for p in points] for name, points in group.trend.items()
              if points}
    notes = {p.run_id: _when(p.time) + (f" \u00b7 {group.goldenset} version {p.version}" if p.version else "")
             for p in runs}
    ends = (runs[0].time[:10], runs[-1].time[:10]) if runs else None
    return svg.trend(series, label="pass rate, mean score and error rate over runs", order=[p.run_id for p in runs],
                     notes=notes, markers=_version_changes(group.goldenset, runs), ends=ends, unit="run")


def _version_changes(goldenset: str, runs: list[TrendPoint]) -> list[tuple[str, str, str]]:
    """(run id, label, hover text) of each run whose golden set version differs from the run before."""
    return [(b.run_id, f"v{b.version}", f"{goldenset} version {a.version} \u2192 {b.version} from run {b.run_id}")
            for a, b in itertools.pairwise(runs) if a.version and b.version and a.version != b.version]


def _runs(trend: dict[str, list[TrendPoint]]) -> list[TrendPoint]:
    """One point per run across the metrics, oldest first: the trend's x axis."""
    by_run = {p.run_id: p for points in trend.values() for p in points}
    return sorted(by_run.values(), key=lambda p: (p.time, p.run_id))


def _when(stamp: str) -> str:
    return stamp[:16].replace("T", " ") + " UTC"


def _row(case: CaseResult, trials: list[ScoredTrial], run_id: str) -> Row:
    v = case.verdict
    bar = _bar(case)
    interval = svg.interval(v.pass_rate if v else None, v.pass_rate_low if v else None,
                            v.pass_rate_high if v else None, bar, label=f"pass rate of {case.title}")
    strip = svg.strip(case.scores, case.outcomes, label=f"trial scores of {case.title}")
    outputs = group_outputs(trials)
    shown = shown_outputs(case.clean_pass, outputs)
    return Row(case, interval, strip, pretty(case.meta.get("input")), pretty(case.meta.get("reference")),
               shown, messages_sent(case.renderings), tuple(c.text for c in failing_checks(trials)),
               left_out=len(trials) - sum(g.count for g in shown), show=show_command(run_id, case),
               case_outputs=len(outputs))


def _bar(case: CaseResult) -> float | None:
    band = case.meta.get("band")
    value = band.get("min_pass_rate") if isinstance(band, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _shown(value: object) -> object:
    """Every printed text (model output, inputs, details, names) with control and bidi characters made
    visible, as the terminal shows them: a right-to-left override cannot reorder what a reviewer reads.
    The page's own markup (``Markup``: the SVGs, style and script) is left alone."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible_lines(value)
    return value


def _number(format_: Callable[[float | None], str]) -> Callable[[float | None], Markup]:
    """A number's format as markup: digits, signs and units need no escaping, and the page prints
    thousands of them (escaping each is a measurable share of the page's time)."""
    return lambda value: Markup(format_(value))


def _css(status: str) -> str:
    return "s-" + status.lower().replace(" ", "-")


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters in report.json)"
