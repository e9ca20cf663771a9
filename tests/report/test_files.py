"""Reports rendered from the store: golden files for Markdown and JSON, structure and safety of the HTML.

The golden files live in ``tests/report/expected/``. Regenerate them after an intended change with
``GOLDBAND_UPDATE_GOLDEN=1 pytest tests/report/test_files.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from goldband.errors import UsageError
from goldband.report import html as html_report
from goldband.report.data import CROSS, load_report
from goldband.report.files import render, write_reports
from goldband.report.markdown import MAX_CASES, escape_md, render_markdown
from goldband.store import Store, open_store
from storefixtures import CaseSpec, demo_store, write_run

EXPECTED = Path(__file__).parent / "expected"
RUN = "20261103-120000-0003"


@pytest.fixture
def store(store_at: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The demo store, once per backend; closed after the test."""
    for module in ("goldband.report.data", "goldband.store.writer"):
        monkeypatch.setattr(f"{module}.now", lambda: "2026-11-04T00:00:00.000+00:00")
    for name in ("GOLDBAND_REPORT_URL", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)  # the summary's link comes from CI's environment
    with demo_store(store_at) as made:
        yield made


def golden(name: str, text: str) -> None:
    path = EXPECTED / name
    if os.environ.get("GOLDBAND_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see the module docstring to update it"


def test_markdown_summary_matches_the_golden_file(store: Store) -> None:
    golden("summary.md", render(load_report(store, RUN), "md"))


def test_json_report_matches_the_golden_file(store: Store) -> None:
    data = json.loads(render(load_report(store, RUN), "json"))
    assert data["format"] == "goldband-report/2"
    golden("report.json", json.dumps(data, indent=1, sort_keys=True) + "\n")


def test_markdown_fits_a_pr_comment(tmp_path: Path) -> None:
    cases = [CaseSpec(f"case-{i:03d}", "pff", "FAIL") for i in range(400)]
    with open_store(tmp_path / "s.db") as store:
        write_run(store, "r1", "2026-11-01T00:00:00.000+00:00", cases)
        text = render_markdown(load_report(store, "r1"))
    assert len(text) < 65_536
    assert f"{400 - MAX_CASES} more in the HTML report" in text


def test_markdown_escapes_user_text() -> None:
    assert escape_md("a | b <script> [x](y) `z`\nnext") == r"a \| b \<script\> \[x\](y) \`z\` next"


def test_html_escapes_everything_and_pins_its_own_script(store: Store) -> None:
    payload = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    write_run(store, "r-evil", "2026-11-05T00:00:00.000+00:00", [CaseSpec("evil", "pf", "FAIL", output=payload)])
    page = render(load_report(store, "r-evil"), "html")
    assert payload not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert re.findall(r"<script>", page) == ["<script>"]  # only the report's own
    js = (html_report.ASSETS / "report.js").read_text()
    css = (html_report.ASSETS / "report.css").read_text()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    assert f"script-src '{html_report.csp_hash(js)}'" in csp.group(1)
    assert f"style-src '{html_report.csp_hash(css)}'" in csp.group(1) and "default-src 'none'" in csp.group(1)
    assert f"<script>{js}</script>" in page and f"<style>{css}</style>" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page


def test_html_shows_the_run_the_groups_and_every_case(store: Store) -> None:
    page = render(load_report(store, RUN), "html")
    assert f"<title>goldband run {RUN}: FAIL</title>" in page
    assert page.count('<tbody class="case"') == 5
    assert f'data-group="support {CROSS} support-v1"' in page and f'data-group="extract {CROSS} extract-v1"' in page
    assert f"last 3 runs of this golden set {CROSS} target" in page  # the trend reads past runs from the store
    assert "timeout: no reply within 60 s" in page and "wrong answer 2" in page


def test_long_outputs_are_clipped_in_html(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db") as store:
        write_run(store, "r1", "2026-11-01T00:00:00.000+00:00", [CaseSpec("long", "p", output="x" * 10_000)])
        page = render(load_report(store, "r1"), "html")
    assert "x" * html_report.OUTPUT_LIMIT in page and "x" * (html_report.OUTPUT_LIMIT + 1) not in page
    assert "6,000 more characters in report.json" in page


def test_reports_are_written_per_run_and_as_latest(store: Store, tmp_path: Path) -> None:
    paths = write_reports(store, RUN, tmp_path / "reports")
    assert [p.relative_to(tmp_path) for p in paths] == [Path(f"reports/{RUN}/{n}")
                                                         for n in ("report.html", "summary.md", "report.json")]
    for path in paths:
        assert (tmp_path / "reports" / "latest" / path.name).read_bytes() == path.read_bytes()
    assert not list((tmp_path / "reports").rglob("*.tmp"))


def test_latest_is_a_relative_link_moved_to_each_new_run(store: Store, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write_reports(store, "20261102-120000-0002", reports)
    assert os.readlink(reports / "latest") == "20261102-120000-0002"
    write_reports(store, RUN, reports)
    assert os.readlink(reports / "latest") == RUN  # relative: the reports folder can move
    assert sorted(p.name for p in reports.iterdir()) == ["20261102-120000-0002", RUN, "latest"]
    moved = tmp_path / "moved"
    reports.rename(moved)
    assert (moved / "latest" / "summary.md").read_text(encoding="utf-8").startswith("### goldband")


def test_an_older_copy_in_latest_is_replaced_by_the_link(store: Store, tmp_path: Path) -> None:
    old = tmp_path / "reports" / "latest"
    old.mkdir(parents=True)
    for name in ("report.html", "summary.md", "report.json"):
        (old / name).write_text("an older goldband's copy")
    write_reports(store, RUN, tmp_path / "reports")
    assert old.is_symlink() and "an older" not in (old / "summary.md").read_text(encoding="utf-8")


def test_a_foreign_file_in_latest_is_not_deleted(store: Store, tmp_path: Path) -> None:
    (tmp_path / "reports" / "latest").mkdir(parents=True)
    (tmp_path / "reports" / "latest" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"holds files goldband did not write \(notes.txt\)") as caught:
        write_reports(store, RUN, tmp_path / "reports")
    assert str(tmp_path / "reports" / "latest") in str(caught.value) and "move those files" in str(caught.value)
    assert (tmp_path / "reports" / "latest" / "notes.txt").read_text() == "mine"


def test_without_links_latest_is_a_redirect_and_the_small_summary(store: Store, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(*args: object, **kwargs: object) -> None:  # as on Windows without the privilege
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "symlink", no_links)
    reports = tmp_path / "reports"
    write_reports(store, "20261102-120000-0002", reports)
    write_reports(store, RUN, reports)
    latest = reports / "latest"
    assert not latest.is_symlink() and sorted(p.name for p in latest.iterdir()) == ["RUN", "index.html",
                                                                                     "summary.md"]
    assert (latest / "RUN").read_text() == f"{RUN}\n"
    assert f'content="0; url=../{RUN}/report.html"' in (latest / "index.html").read_text()
    assert (latest / "summary.md").read_bytes() == (reports / RUN / "summary.md").read_bytes()
    monkeypatch.undo()  # links work again: the redirect directory gives way to a link
    write_reports(store, RUN, reports)
    assert os.readlink(latest) == RUN


def test_the_streamed_json_is_the_whole_report(store: Store, tmp_path: Path) -> None:
    for formats in (("json",), ("html", "json")):  # alone, and in one pass with the page
        (*_, path) = write_reports(store, RUN, tmp_path / "reports", formats=formats, latest=False)
        streamed = json.loads(path.read_text(encoding="utf-8"))
        whole = json.loads(render(load_report(store, RUN), "json"))
        assert streamed == whole and sum(c["trials_total"] for c in streamed["cases"]) == streamed["trials"] == 24
        assert len(path.read_text(encoding="utf-8").splitlines()) == len(whole) + len(whole["cases"]) + 2  # a line


def test_json_lists_a_clean_pass_by_its_outputs_and_every_other_trial(store: Store) -> None:
    write_run(store, "r-many", "2026-11-05T00:00:00.000+00:00",
              [CaseSpec("steady", "ppppp"), CaseSpec("shaky", "ppppf", "INCONCLUSIVE")])
    cases = {c["case"]: c for c in json.loads(render(load_report(store, "r-many"), "json"))["cases"]}
    steady, shaky = cases["steady"], cases["shaky"]
    assert [t["sample"] for t in steady["trials"]] == [0]  # five identical outputs: one listed
    assert (steady["trials_total"], steady["trials_omitted"]) == (5, 4)
    assert steady["show"] == "goldband show r-many support::steady --target support-v1"
    assert [t["sample"] for t in shaky["trials"]] == [0, 1, 2, 3, 4] and shaky["trials_omitted"] == 0
    assert "show" not in shaky
    every = json.loads(render(load_report(store, "r-many"), "json", every_trial=True))
    assert every["every_trial"] is True and [len(c["trials"]) for c in every["cases"]] == [5, 5]
    assert all(c["trials_omitted"] == 0 for c in every["cases"])


def test_a_lean_report_renders_the_same_pages_as_a_whole_one(store: Store) -> None:
    lean, whole = load_report(store, RUN, trials=False), load_report(store, RUN)
    assert all(c.trials == [] for c in lean.cases) and lean.trials == whole.trials == 24
    for fmt in ("html", "md", "json"):
        assert render(lean, fmt) == render(whole, fmt)


def test_an_unfinished_case_is_reported_as_not_run(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db") as store:
        write_run(store, "r1", "2026-11-01T00:00:00.000+00:00", [CaseSpec("half", "pp")], verdicts=False,
                  status="incomplete")
        report = load_report(store, "r1")
    assert [c.status for c in report.cases] == ["NOT RUN"] and report.verdict == "NOT RUN"
    assert "not decided" in render_markdown(report)


def test_html_rule_column_names_the_failing_checks(store: Store) -> None:
    write_run(store, "r-why", "2026-11-05T00:00:00.000+00:00", [CaseSpec("wrong-window", "pff", "FAIL")])
    page = render(load_report(store, "r-why"), "html")
    row = re.search(r'<tbody class="case".*?</tr>', page, re.S)
    assert row is not None
    rule = row.group(0).rsplit("<td>", 1)[1]  # the row's last cell
    assert rule.startswith("pass rate 1/3<div class=\"failed-check\">✗ contains &#34;30 days&#34;: "
                           "not found: &#39;30 days&#39; (2/3 trials)</div>")
