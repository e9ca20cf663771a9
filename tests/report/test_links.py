"""Where the Markdown summary links the full report: GOLDBAND_REPORT_URL first, else the GitHub Actions run page."""

from __future__ import annotations

import pytest

from gfmkit import parse, render
from goldband.report.links import ReportLink, report_link, report_url

GITHUB = {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "123"}


def test_an_explicit_url_wins_over_the_run_page() -> None:
    url = "https://github.example/acme/shop/actions/runs/123/artifacts/456"
    link = report_link({**GITHUB, "GOLDBAND_REPORT_URL": f" {url} "})
    assert link == ReportLink(url, artifact=True)
    assert link.markdown() == f"Full report: [report artifact]({url}) (`report.html`: trial outputs, plots, filters)."


def test_on_github_actions_the_run_page_is_linked_and_said_to_hold_the_artifacts() -> None:
    link = report_link({**GITHUB, "GITHUB_SERVER_URL": "https://github.example/"})
    assert link == ReportLink("https://github.example/acme/shop/actions/runs/123", artifact=False)
    assert "in the artifacts of [this workflow run](https://github.example/acme/shop/actions/runs/123)" \
        in link.markdown()


@pytest.mark.parametrize("environ", [
    {}, {"GOLDBAND_REPORT_URL": ""}, {**GITHUB, "GITHUB_RUN_ID": ""}, {**GITHUB, "GITHUB_RUN_ID": "12; rm"},
    {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_RUN_ID": "1"},
])
def test_no_link_without_what_it_needs(environ: dict[str, str]) -> None:
    assert report_link(environ) is None


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd",
                                 "ftp://example.com/r", "//example.com/r", "reports/latest/report.html", "https://",
                                 "http://[::1"])
def test_only_absolute_http_urls_are_linked(url: str) -> None:
    assert report_url({**GITHUB, "GOLDBAND_REPORT_URL": url}) is None  # an explicit bad URL is not replaced either


def test_a_url_cannot_break_out_of_its_link() -> None:
    url = report_url({"GOLDBAND_REPORT_URL": "https://example.com/a b)(<script>`|\"x\"\n[y](z)"})
    assert url == "https://example.com/a%20b%29%28%3Cscript%3E%60%7C%22x%22%0A%5By%5D%28z%29"
    page = parse(render(ReportLink(url, artifact=True).markdown()))
    assert page.tags == ["p", "a", "code"]  # one link, and the file name
    assert 'href="https://example.com/a%20b%29%28%3Cscript%3E%60%7C%22x%22%0A%5By%5D%28z%29"' in \
        render(ReportLink(url, artifact=True).markdown())


def test_a_repository_name_is_percent_encoded() -> None:
    assert report_url({**GITHUB, "GITHUB_REPOSITORY": "acme/sh op"}) == \
        "https://github.example/acme/sh%20op/actions/runs/123"
