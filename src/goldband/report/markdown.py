"""The Markdown summary: short enough for a PR comment or a CI step summary.

GitHub caps a comment at 65,536 characters; the summary stays under
``MAX_CHARS`` by listing at most ``MAX_CASES`` non-passing cases and saying
how many it left out. Model output is not included (it is in the HTML);
everything user-written is escaped so it cannot break the tables or inject
links and HTML.
"""

from __future__ import annotations

import re

from goldband.report.data import CROSS, STATUS_ORDER, CaseResult, Group, RunReport, group_name
from goldband.report.fmt import ms, rate, spark, usd

MAX_CASES = 50
MAX_CHARS = 60_000
_SPECIAL = re.compile(r"([\\`*_\[\]|<>~])")
ICONS = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "❔", "ERROR": "💥", "EMPTY": "-", "NOT RUN": "⏸"}


def escape_md(text: object) -> str:
    """Text safe inside a Markdown table cell: specials escaped, newlines flattened."""
    flat = " ".join(str(text).split())
    return _SPECIAL.sub(r"\\\1", flat)


def render_markdown(report: RunReport, *, html_name: str | None = None) -> str:
    run = report.run
    lines = [f"### goldband {ICONS.get(report.verdict, '')} {report.verdict} · run `{run.id}`", "",
             f"{run.kind} · {run.status} · {_git(report)} · {report.trials} trials · cost {usd(report.cost_usd)}", ""]
    lines += _groups_table(report.groups)
    lines += _problem_cases(report)
    if html_name:
        lines += ["", f"Full report: `{html_name}` (trial outputs, plots, filters)."]
    text = "\n".join(lines) + "\n"
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 40] + "\n\n… (summary truncated)\n"


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


def _problem_cases(report: RunReport) -> list[str]:
    bad = [c for c in report.cases if c.status != "PASS"]
    if not bad:
        return ["", "Every case passed."]
    lines = ["", f"**{len(bad)} case(s) not passing**", "", "| verdict | case | pass rate | rule |",
             "|---|---|---|---|"]
    lines += [_case_line(c) for c in bad[:MAX_CASES]]
    if len(bad) > MAX_CASES:
        lines.append(f"| … | {len(bad) - MAX_CASES} more in the HTML report | | |")
    return lines


def _case_line(case: CaseResult) -> str:
    v = case.verdict
    passed = "-" if v is None or v.pass_rate is None else f"{v.passes}/{v.passes + v.fails} = {v.pass_rate:.2f}"
    if v is not None and v.pass_rate_low is not None and v.pass_rate_high is not None:
        passed += f" [{v.pass_rate_low:.2f}, {v.pass_rate_high:.2f}]"
    gating = "" if v is None or v.gating else " (not gating)"
    reason = v.reason if v else "not decided: the run stopped before this case"
    return (f"| {ICONS.get(case.status, '')} {case.status}{gating} | `{case.title.replace('`', '')}` | {passed} | "
            f"{escape_md(reason)} |")


def _spark(values: list[float]) -> str:
    """The last 12 values as a sparkline; ``-`` for none."""
    return spark(values[-12:]) or "-"
