"""A real pytest run (pytester) against the loopback FakeOpenAI: the reports a reviewer reads say why a case failed.

The model answers the refund case with hostile text that never contains "30 days", so its ``contains`` check
fails in every trial: summary.md, report.html, the terminal and ``goldband report --format md --stdout`` must
all name the check and its detail, and show the answer escaped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gfmkit import made, tables
from goldband.cli import main
from goldband.report.escape import WORD_JOINER, flat, shorten, visible
from goldband.testing import FakeOpenAI

pytestmark = pytest.mark.filterwarnings("error")

HOSTILE = ("Sorry | no.\n# Returns\n[policy](http://evil.example/p) ![x](http://evil.example/x.png) "
           "<script>alert(1)</script> www.evil.example @octocat \x1b[31mtwo weeks\x1b[0m only")
ARTIFACT = "https://github.example/acme/shop/actions/runs/7/artifacts/9"
CHECK = "contains \"30 days\": not found: '30 days' (3/3 trials)"


def project(root: Path, url: str) -> None:
    (root / "goldensets").mkdir()
    (root / "p.j2").write_text("Question: {{ question }}")
    (root / "goldband.yaml").write_text(
        f"mode: live\ntargets:\n  t:\n    model: openai/fake-model\n    prompt: p.j2\n    api_base: {url}\n"
        "    params: {temperature: 0.7}\n    timeout_s: 5\n    max_retries: 0\n")
    (root / "goldensets" / "shop.yaml").write_text(
        "name: shop\nversion: 1\ndefaults:\n  runs: 3\n  checks:\n    - contains: \"30 days\"\ncases:\n"
        "  - id: refund-window\n    input: {question: 'shoes after 40 days?'}\n"
        "  - id: shipping\n    input: {question: 'shipping time?'}\n")


@pytest.fixture
def ran(pytester: pytest.Pytester, openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    for name in ("CI", "GOLDBAND_STORE", "GOLDBAND_REPORT", "GOLDBAND_KIND", "GOLDBAND_RESUME", "GOLDBAND_MODE",
                 "GOLDBAND_RUNS", "GOLDBAND_TARGET", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOLDBAND_REPORT_URL", ARTIFACT)
    openai_server.add_rule(contains="shoes", replies=[HOSTILE])
    openai_server.add_rule(contains="shipping", replies=["Orders arrive within 30 days."])
    project(pytester.path, openai_server.url)
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")


def shown(text: str) -> str:
    """The failing output as the summary's reader sees it."""
    return shorten(visible(flat(text)), 160).replace("@", "@" + WORD_JOINER).replace("#", "#" + WORD_JOINER)


def test_the_summary_names_the_failing_check_and_shows_the_answer_escaped(ran: pytest.RunResult,
                                                                          pytester: pytest.Pytester) -> None:
    ran.assert_outcomes(passed=1, failed=1)
    md = (pytester.path / "reports" / "latest" / "summary.md").read_text(encoding="utf-8")
    (_, row) = tables(md)[1]
    assert row[0] == "❌ FAIL" and row[1] == "shop::refund-window[t]"
    assert row[4:] == [CHECK, f"“{shown(HOSTILE)}”"]
    assert "\\x1b[31mtwo weeks" in row[5] and row[5].endswith("…”")  # the escape shown, not sent; cut at 160
    assert made(md) == {"strong", "a"}  # the summary's own bold line and the link to the report, nothing else
    assert md.endswith(f"Full report: [report artifact]({ARTIFACT}) (`report.html`: trial outputs, plots, filters).\n")


def test_the_html_rule_column_names_the_failing_check(ran: pytest.RunResult, pytester: pytest.Pytester) -> None:
    page = (pytester.path / "reports" / "latest" / "report.html").read_text(encoding="utf-8")
    check = CHECK.replace('"', "&#34;").replace("'", "&#39;")
    assert f'<div class="failed-check">✗ {check}</div>' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_terminal_names_the_failing_check(ran: pytest.RunResult) -> None:
    ran.stdout.fnmatch_lines([f"  why     {CHECK}"])
    assert "\x1b[31m" not in ran.stdout.str()


def test_goldband_report_prints_the_same_summary(ran: pytest.RunResult, pytester: pytest.Pytester,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(pytester.path)
    result = CliRunner().invoke(main, ["report", "latest", "--format", "md", "--stdout"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output == (pytester.path / "reports" / "latest" / "summary.md").read_text(encoding="utf-8")
