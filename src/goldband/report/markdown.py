"""The Markdown summary: short enough for a PR comment or a CI step summary.

Each non-passing case names *why*: the statistical rule, the failing checks
with their detail and in how many trials each failed, and one shortened
failing output (``report.why``). Everything user-written or model-written is
escaped (``report.escape.escape_md``) so it cannot break the tables, link,
embed, mention or inject HTML.

GitHub caps a comment at 65,536 characters; the summary stays under
``MAX_CHARS`` by listing at most ``MAX_CASES`` non-passing cases, fewer when
their rows would not fit, and saying how many it left out.
"""

from __future__ import annotations

from goldband.report.data import CROSS, STATUS_ORDER, CaseResult, Group, RunReport, group_name
from goldband.report.escape import code_md, escape_md
from goldband.report.fmt import ms, rate, spark, usd
from goldband.report.links import ReportLink
from goldband.report.why import failing_output, why_markdown
from goldband.results import ScoredTrial

__all__ = ["ICONS", "MAX_CASES", "MAX_CHARS", "escape_md", "render_markdown"]

MAX_CASES = 50
MAX_CHARS = 60_000
ICONS = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "❔", "ERROR": "💥", "EMPTY": "-", "NOT RUN": "⏸"}
CASE_HEADER = ("verdict", "case", "pass rate", "rule", "failing checks", "a failing output")


DRAFT_NOTE = ("> **DRAFT**: a golden set changed under an unchanged version (draft mode); these results are never "
              "a baseline and never in the series. Bump its `version` and commit its `.lock` to make them count.")


def render_markdown(report: RunReport, *, html_name: str | None = None, link: ReportLink | None = None) -> str:
    """The summary of one run; ``link`` (``report.links.report_link``) points at the full report in CI."""
    run = report.run
    head = [f"### goldband {ICONS.get(report.verdict, '')} {report.verdict} · run `{run.id}`"
            + (" · DRAFT" if run.draft else ""), "",
            f"{run.kind} · {run.status} · {_git(report)} · {report.trials} trials · cost {usd(report.cost_usd)}", ""]
    head += [DRAFT_NOTE, ""] if run.draft else []
    head += _groups_table(report.groups)
    head += _set_gates(report.groups)
    foot = _footer(html_name, link)
    room = MAX_CHARS - _size(head) - _size(foot)
    text = "\n".join(head + _problem_cases(report, room) + foot) + "\n"
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 40] + "\n\n… (summary truncated)\n"


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _footer(html_name: str | None, link: ReportLink | None) -> list[str]:
    if link is not None:
        return ["", link.markdown(html_name or "report.html")]
    return ["", f"Full report: `{html_name}` (trial outputs, plots, filters)."] if html_name else []


def _git(report: RunReport) -> str:
    run = report.run
    sha = (run.git_sha or "")[:10]
    return escape_md(f"{run.git_branch or '-'}@{sha or '-'}")


def _groups_table(groups: list[Group]) -> list[str]:
    shown = [s for s in STATUS_ORDER if any(g.counts.get(s) for g in groups)]
    head = [f"golden set {CROSS} target", *shown, "pass rate", "mean score", "p95 latency", "trend (pass rate)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        cells = [escape_md(group_name(g.goldenset, g.target)), *(str(g.counts.get(s, 0)) for s in shown),
                 rate(g.metrics.get("pass_rate")), rate(g.metrics.get("mean_score")),
                 ms(g.metrics.get("latency_p95_ms")), _spark([p.value for p in g.trend.get("pass_rate", [])])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _set_gates(groups: list[Group]) -> list[str]:
    """One row per set gate (``band: set:``, the case as the unit); nothing when no golden set has one."""
    gates = [g.set_gate for g in groups if g.set_gate is not None]
    if not gates:
        return []
    lines = ["", "**Set gates** (share of cases that PASS, the case as the unit)", "",
             "| set gate | verdict | cases passing | interval | bar | why |", "|---|---|---|---|---|---|"]
    for gate in gates:
        effect = " (fails the run)" if gate.fails_run else " (warn)" if gate.status == "INCONCLUSIVE" else ""
        effect += "; the set gates its cases" if gate.case_verdicts == "report" else ""
        shown = f"{gate.passes}/{gate.cases}" + (f" = {gate.pass_rate:.2f}" if gate.cases else "")
        if gate.excluded:
            shown += f" ({gate.excluded} not counted)"
        cells = [escape_md(gate.name), f"{ICONS.get(gate.status, '')} {gate.status}{effect}", shown,
                 f"[{gate.low:.2f}, {gate.high:.2f}] at {gate.confidence:g}", f">= {gate.min_pass_rate:g}",
                 escape_md(gate.reason)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _problem_cases(report: RunReport, room: int) -> list[str]:
    """The non-passing cases, worst first, as many rows as fit in ``room`` characters (and MAX_CASES)."""
    bad = [c for c in report.cases if c.status != "PASS"]
    if not bad:
        return ["", "Every case passed."]
    lines = ["", f"**{len(bad)} case(s) not passing**", "", "| " + " | ".join(CASE_HEADER) + " |",
             "|" + "---|" * len(CASE_HEADER)]
    room -= _size(lines) + 100  # the "more" line
    shown = 0
    for case in bad[:MAX_CASES]:
        line = _case_line(case, report.trials_of(case))
        if len(line) + 1 > room:
            break
        lines.append(line)
        room -= len(line) + 1
        shown += 1
    if shown < len(bad):
        lines.append(f"| … | {len(bad) - shown} more in the HTML report |" + " |" * (len(CASE_HEADER) - 2))
    return lines


def _case_line(case: CaseResult, trials: list[ScoredTrial]) -> str:
    v = case.verdict
    passed = "-" if v is None or v.pass_rate is None else f"{v.passes}/{v.passes + v.fails} = {v.pass_rate:.2f}"
    if v is not None and v.pass_rate_low is not None and v.pass_rate_high is not None:
        passed += f" [{v.pass_rate_low:.2f}, {v.pass_rate_high:.2f}]"
    gating = "" if v is None or v.gating else " (not gating)"
    reason = v.reason if v else "not decided: the run stopped before this case"
    output = failing_output(trials)
    cells = [f"{ICONS.get(case.status, '')} {case.status}{gating}", code_md(case.title), passed, escape_md(reason),
             why_markdown(trials) or "-", f"“{escape_md(output)}”" if output is not None else "-"]
    return "| " + " | ".join(cells) + " |"


def _spark(values: list[float]) -> str:
    """The last 12 values as a sparkline; ``-`` for none."""
    return spark(values[-12:]) or "-"
