"""The Markdown summary names why each case failed, keeps hostile text in its cell, and fits a PR comment.

Rendered with cmark-gfm (GitHub's own renderer) so "cannot break the table or inject a link" is checked the
way GitHub would read it, not only by looking at the raw text.
"""

from __future__ import annotations

import re

from gfmkit import cells, made, parse, render, tables
from goldband.report.data import CaseResult, Group, RunReport
from goldband.report.escape import WORD_JOINER, flat, shorten, visible
from goldband.report.links import ReportLink
from goldband.report.markdown import CASE_HEADER, MAX_CASES, MAX_CHARS, render_markdown
from goldband.results import Completion, Score, ScoredTrial, Trial, Verdict
from goldband.store import RunRow

EVIL_OUTPUT = ("Sorry | we \\| can't\n\n# Heading\n[click](http://evil.example) ![x](http://evil.example/p.png) "
               "<http://evil.example> https://evil.example/a www.evil.example evil@example.com <script>alert(1)"
               "</script> <img src=x onerror=alert(1)> `code` **bold** $x$ &lt;b&gt; @octocat #12 \x1b[31mred\u202e")
EVIL_LABEL = "regex '^(a|b)$' <b>[l](http://evil.example/l)</b>"
EVIL_DETAIL = "matched \"![d](http://evil.example/d)\" | <i>@someone</i>\nnext line"


def case(case_id: str, outcomes: str, *, status: str = "FAIL", output: str = "wrong", label: str = 'contains "x"',
         detail: str = 'missing "x"') -> CaseResult:
    """A case whose 'f' trials fail ``label`` with ``detail`` and answer ``output``; 'p' pass; 'e' time out."""
    trials = []
    for i, letter in enumerate(outcomes):
        if letter == "e":
            trials.append(ScoredTrial(Trial(case_id, "t", i, None, error="timeout: no reply", error_kind="timeout")))
            continue
        score = Score(label, "pass", 1.0) if letter == "p" else Score(label, "fail", 0.0, detail)
        trials.append(ScoredTrial(Trial(case_id, "t", i, Completion("fine" if letter == "p" else output)), (score,)))
    n, passes = len(outcomes), outcomes.count("p")
    verdict = Verdict(status, n, passes, outcomes.count("f"), outcomes.count("e"), f"pass rate {passes}/{n} < 0.8")
    return CaseResult("gs", case_id, "t", None, verdict, trials, {})


def report(*cases: CaseResult) -> RunReport:
    run = RunRow("r1", "ci", "complete", "2026-11-01T00:00:00.000+00:00", git_sha="0123456789", git_branch="main")
    return RunReport(run, {"gs": "sha256:a"}, {"t": "sha256:b"}, [Group("gs", "t", list(cases), {}, {})], "now")


def case_rows(markdown: str) -> list[str]:
    """The raw rows of the not-passing table (after its header and separator)."""
    lines = markdown.splitlines()
    start = lines.index("| " + " | ".join(CASE_HEADER) + " |")
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def expected_cell(text: str) -> str:
    return text.replace("@", "@" + WORD_JOINER).replace("#", "#" + WORD_JOINER)


def test_each_failing_case_names_its_checks_and_shows_an_output() -> None:
    md = render_markdown(report(case("refund", "ffpff", output="We take returns within 14 days."),
                                case("slow", "eeeee", status="ERROR"), case("ok", "ppppp", status="PASS")))
    (header, refund, slow) = tables(md)[1]
    assert header == list(CASE_HEADER)
    assert refund[1:] == ["gs::refund[t]", "1/5 = 0.20", "pass rate 1/5 < 0.8",
                          'contains "x": missing "x" (4/5 trials)', "“We take returns within 14 days.”"]
    assert slow[3:] == ["pass rate 0/5 < 0.8", "timeout error: no reply (5/5 trials)", "-"]


def test_hostile_output_labels_and_details_stay_in_their_cells() -> None:
    hostile = case("evil|case<b>@x", "fff", output=EVIL_OUTPUT, label=EVIL_LABEL, detail=EVIL_DETAIL)
    md = render_markdown(report(hostile, case("plain", "ff")))
    rows = case_rows(md)
    assert [len(cells(r)) for r in rows] == [6, 6]
    raw = " ".join(cell for row in rows for cell in cells(row)[2:])  # the name is a code span: < is literal there
    assert not re.search(r"(?<!\\)\]\(", raw) and not re.search(r"(?<!\\)<", raw)  # no link, no tag or autolink
    assert made(md) == {"strong"}  # no link, image, script, heading, emphasis, math... anywhere in the summary
    assert parse(render(md)).tags.count("strong") == 1  # only the summary's own "**2 case(s) not passing**"
    (_, evil, plain) = tables(md)[1]
    assert len(evil) == len(plain) == 6
    assert evil[1] == "gs::evil|case<b>@x[t]"
    assert evil[4] == expected_cell(f"{visible(flat(EVIL_LABEL))}: {visible(flat(EVIL_DETAIL))} (3/3 trials)")
    assert evil[5] == expected_cell(f"“{shorten(visible(flat(EVIL_OUTPUT)), 160)}”")


def test_the_summary_fits_a_comment_and_counts_what_it_left_out() -> None:
    big = "x|<" * 700  # escaping doubles it; labels, details and outputs are clipped, but names are not
    bad = [case(f"c{i:03d}-{big}", "fff", output=big, label=big, detail=big) for i in range(2 * MAX_CASES)]
    md = render_markdown(report(*bad))
    assert len(md) <= MAX_CHARS and "summary truncated" not in md
    rows = case_rows(md)
    assert all(len(cells(r)) == 6 for r in rows)
    shown, more = rows[:-1], rows[-1]
    assert 0 < len(shown) < MAX_CASES
    assert more.startswith(f"| … | {len(bad) - len(shown)} more in the HTML report |")
    assert len(tables(md)[1]) == len(rows) + 1  # GitHub sees every row whole


def test_at_most_max_cases_rows() -> None:
    md = render_markdown(report(*(case(f"c{i:03d}", "ff") for i in range(MAX_CASES + 7))))
    assert case_rows(md)[-1].startswith("| … | 7 more in the HTML report |") and len(case_rows(md)) == MAX_CASES + 1


def test_the_footer_links_the_report_when_ci_says_where() -> None:
    plain = render_markdown(report(case("a", "ff")), html_name="report.html")
    assert plain.endswith("Full report: `report.html` (trial outputs, plots, filters).\n")
    link = ReportLink("https://ci.example/run/1", artifact=False)
    linked = render_markdown(report(case("a", "ff")), html_name="report.html", link=link)
    assert linked.endswith("Full report: `report.html` in the artifacts of [this workflow run]"
                           "(https://ci.example/run/1).\n")
    assert made(linked) == {"a", "strong"}
