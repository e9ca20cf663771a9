"""The HTML report in a real headless Chromium: it renders, shows the numbers, filters, and runs no model output.

Needs Debian's ``chromium`` package (``.ci/run`` installs it). Chromium's
``--dump-dom`` prints the DOM after the page's scripts ran, so the report's
own script (allowed by its CSP hash) must have marked ``<body data-ready>``,
while anything injected through model output must have changed nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import agentkit
import goldband
from goldband.report.files import write_reports
from goldband.store import open_store
from goldband.testing import FakeOpenAI
from storefixtures import CaseSpec, demo_cases, write_run

CHROMIUM = next((p for name in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(name))), None)
if CHROMIUM is None and os.environ.get("GOLDBAND_REQUIRE_CHROMIUM"):  # .ci/run: never skip silently
    raise RuntimeError("GOLDBAND_REQUIRE_CHROMIUM is set but no chromium is installed (apt-get install chromium)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium (apt-get install chromium)")

PAYLOADS = [
    "<script>document.title='pwned-script'</script>",
    "<img src=x onerror=\"document.title='pwned-img';document.body.setAttribute('data-pwned','1')\">",
    "\"><svg onload=\"document.body.setAttribute('data-pwned','2')\">",
    "<div id=\"pwned-div\">injected</div>",
    "javascript:alert(1)</pre><iframe src=\"https://example.com\"></iframe>",
    "Total: \u202e\u2066 5$ \u2069 refund approved\x1b[31m\x07",  # bidi overrides and C0 controls
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("chromium")
    hostile = " ".join(PAYLOADS)
    cases = [*demo_cases(), CaseSpec("hostile", "pfp", "FAIL", output=hostile, low=0.1, high=0.9)]
    with open_store(tmp / "store.db") as store:
        write_run(store, "20261101-120000-0001", "2026-11-01T12:00:00.000+00:00", demo_cases())
        write_run(store, "20261102-120000-0002", "2026-11-02T12:00:00.000+00:00", cases)
        store.conn.execute("UPDATE cases SET input = ?, reference = ?, description = ? WHERE case_id = 'hostile'",
                           [json.dumps({"question": PAYLOADS[1]}), PAYLOADS[0], PAYLOADS[3]])
        store.conn.execute("UPDATE trials SET error = ? WHERE case_id = 'timeouts'", [PAYLOADS[2]])
        store.conn.execute("UPDATE scores SET detail = ?, evidence = ? WHERE outcome = 'fail'",
                           [PAYLOADS[3], PAYLOADS[1]])
        write_reports(store, "20261102-120000-0002", tmp / "reports")
    return tmp / "reports" / "20261102-120000-0002" / "report.html"


def dump_dom(url: str, profile: Path) -> str:
    assert CHROMIUM is not None
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", url],
        capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "<html" in out.stdout, out.stderr[-2000:]
    return out.stdout


def body_tag(dom: str) -> str:
    match = re.search(r"<body[^>]*>", dom)
    assert match is not None
    return match.group(0)


def test_the_report_renders_with_the_expected_numbers(report: Path, tmp_path: Path) -> None:
    dom = dump_dom(report.as_uri(), tmp_path / "profile")
    assert 'data-ready="1"' in body_tag(dom)  # the page's own script ran under its CSP
    assert "<title>goldband run 20261102-120000-0002: FAIL</title>" in dom
    assert "showing 6 of 6 cases" in dom
    assert re.search(r'data-count="FAIL">2<', dom) and re.search(r'data-count="ERROR">1<', dom)
    assert re.search(r'data-count="PASS">2<', dom) and re.search(r'id="trial-count">27<', dom)
    express = dom[dom.index("support::express-shipping"):]
    assert '<td class="num rate">0.40</td>' in express[:2000] and "[0.12, 0.77]" in express[:3000]
    assert dom.count("<svg") >= 6 + 2 * 2  # a trend and a histogram per group, plots per case


def test_model_output_executes_nothing(report: Path, tmp_path: Path) -> None:
    dom = dump_dom(report.as_uri(), tmp_path / "profile")
    assert "pwned" not in dom.split("<body", 1)[0]  # the title is the report's own
    assert "data-pwned" not in body_tag(dom)
    assert '<div id="pwned-div">' not in dom and "<iframe" not in dom and "<svg onload" not in dom
    assert "&lt;script&gt;document.title='pwned-script'&lt;/script&gt;" in dom  # shown as text
    assert "&lt;img src=x onerror=" in dom


def test_bidi_overrides_and_control_characters_are_shown_not_obeyed(report: Path, tmp_path: Path) -> None:
    """A right-to-left override in model output must not reorder what a reviewer reads (as the terminal shows it)."""
    dom = dump_dom(report.as_uri(), tmp_path / "profile")
    body = dom.split("<body", 1)[1]
    assert not any(ch in body for ch in "\u202e\u2066\u2069\x1b\x07")
    assert "Total: \\u202e\\u2066 5$ \\u2069 refund approved\\x1b[31m\\x07" in body


def test_filters_apply_from_the_address(report: Path, tmp_path: Path) -> None:
    dom = dump_dom(report.as_uri() + "#status=FAIL", tmp_path / "profile")
    assert "showing 2 of 6 cases" in dom
    rows = re.findall(r'<tbody class="case"[^>]*>', dom)
    assert len(rows) == 6
    assert all(("hidden" in row) != ('data-status="FAIL"' in row) for row in rows)
    dom = dump_dom(report.as_uri() + "#q=order-id", tmp_path / "profile")
    assert "showing 1 of 6 cases" in dom


def test_an_agent_run_shows_the_messages_sent_and_the_tool_calls_grouped(
        tmp_path: Path, openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(agentkit.KEY_ENV, agentkit.KEY)
    root = agentkit.project(tmp_path / "project", openai_server.url, runs=4)
    agentkit.serve(openai_server)
    result = goldband.run(root=root, store="store.db", report="reports")
    assert result.run_id is not None and openai_server.requests[0].body["tools"][0]["function"]["name"] == \
        "lookup_order"
    dom = dump_dom((root / "reports" / result.run_id / "report.html").as_uri(), tmp_path / "profile")
    assert 'data-ready="1"' in body_tag(dom)
    case = dom[dom.index("orders::where-is-a17<"):]
    case = case[:case.index('<tbody class="case"')] if '<tbody class="case"' in case else case
    assert ('<li class="message" data-role="system"><small class="role">system</small><pre>You are the support '
            "agent of Acme Shoes. Look orders up with the lookup_order tool.</pre></li>") in case
    assert ('<li class="message" data-role="user"><small class="role">user</small><pre>Where is my order A-17?</pre>'
            "</li>") in case
    assert "1 tool offered" in case and "<summary><code>lookup_order</code></summary>" in case
    calls, refusal = re.findall(r'<tr class="trial"[^>]*>.*?</tr>', case, flags=re.S)
    assert '<b class="times">\u00d73</b>' in calls and "#0, 1, 2" in calls and "3 pass" in calls
    assert '<code class="tool-name">lookup_order</code>' in calls
    assert '"order_id": "A-17"' in calls and '"include": [\n  "status",\n  "eta"\n ]' in calls
    assert "#3" in refusal and "I cannot look that up." in refusal and "no call to lookup_order" in refusal
    assert "4 trials, 2 distinct outputs" in case
