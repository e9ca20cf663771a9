"""The HTML report's views of a run: what was sent, what came back (grouped), and trends across versions."""

from __future__ import annotations

import json
import re

from goldband.report.data import load_report
from goldband.report.files import render
from goldband.report.outputs import PASSING_OUTPUTS
from goldband.results import Completion, Score, ScoredTrial, ToolCall, Trial, Verdict
from goldband.store import Rendering, Store, StoredVerdict
from goldband.store.writer import insert_rendering, insert_trials, insert_verdict
from storefixtures import GS_HASH, TARGET_HASH, CaseSpec, demo_cases, demo_store, write_run

HOSTILE = "<script>alert('x')</script>"


def test_the_trend_marks_where_the_golden_set_version_changed(store_at: str) -> None:
    with demo_store(store_at, runs=2) as store:
        write_run(store, "20261104-120000-0004", "2026-11-04T12:00:00.000+00:00", demo_cases(), version="4")
        page = render(load_report(store, "latest"), "html")
    assert page.count('<g class="marker">') == 2  # one per golden set x target
    assert "support version 3 \u2192 4 from run 20261104-120000-0004" in page
    assert re.search(r"<title>pass rate 0\.733 \u00b7 20261101-120000-0001 \u00b7 2026-11-01 12:00 UTC \u00b7 "
                     r"support version 3</title>", page)
    assert ">2026-11-01</text>" in page and ">2026-11-04</text>" in page and ">3 runs, oldest \u2192 newest<" in page
    assert "support version 4 <code" in page  # the run's header names its versions


def add_agent_trials(store: Store, run_id: str) -> Rendering:
    """A case whose trials called a tool (same arguments three times) after hostile messages."""
    sent = Rendering("sha256:" + "d" * 64, [{"role": "system", "content": f"Be brief. {HOSTILE}"},
                                            {"role": "user", "content": "Where is order A-17?"}],
                     [{"type": "function", "function": {"name": "lookup_order"}}])
    call = ToolCall("lookup_order", {"order_id": "A-17", "note": HOSTILE})
    trials = [ScoredTrial(Trial("agent", "support-v1", i, Completion(None, (call,), latency_ms=50.0)))
              for i in range(3)]
    with store.transaction() as conn:
        insert_rendering(conn, sent)
        insert_trials(conn, run_id, "support", trials, messages_hash=sent.hash)
    return sent


def test_messages_sent_and_tool_calls_are_shown_escaped_and_identical_outputs_once(store_at: str) -> None:
    with demo_store(store_at, runs=1) as store:
        sent = add_agent_trials(store, "20261101-120000-0001")
        report = load_report(store, "20261101-120000-0001")
        page = render(report, "html")
        data = json.loads(render(report, "json"))
    assert HOSTILE not in page and "Be brief. &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert ('<li class="message" data-role="user"><small class="role">user</small><pre>Where is order A-17?</pre>'
            in page)
    assert "messages sent · 2 messages · 1 tool offered" in page and "<code>lookup_order</code>" in page
    agent = page[page.index("support::agent<"):]
    agent = agent[:agent.index("</tbody>\n</table>\n</details>")]
    assert agent.count('<tr class="trial"') == 1 and '<b class="times">\u00d73</b>' in agent
    assert '<code class="tool-name">lookup_order</code>' in agent and "&#34;order_id&#34;: &#34;A-17&#34;" in agent
    assert "3 trials, 1 distinct output" in agent
    refund = page[page.index("support::refund-window<"):]
    assert '<b class="times">\u00d75</b>' in refund[:refund.index("</table>")]  # five equal answers, one row
    (case,) = [c for c in data["cases"] if c["case"] == "agent"]
    assert case["messages"] == [{"hash": sent.hash, "messages": sent.messages, "tools": sent.tools,
                                 "samples": [0, 1, 2]}]
    assert all(c["messages"] == [] for c in data["cases"] if c["case"] != "agent")


def test_a_case_sent_two_renderings_names_the_trials_of_each(store_at: str) -> None:
    with demo_store(store_at, runs=1) as store:
        first, second = (Rendering(f"sha256:{c * 64}", [{"role": "user", "content": text}])
                         for c, text in (("e", "v1 of the template"), ("f", "v2 of the template")))
        with store.transaction() as conn:
            for rendering, samples in ((first, (0, 1)), (second, (2,))):
                insert_rendering(conn, rendering)
                insert_trials(conn, "20261101-120000-0001", "support", [ScoredTrial(Trial(
                    "two", "support-v1", i, Completion("ok"))) for i in samples], messages_hash=rendering.hash)
        page = render(load_report(store, "20261101-120000-0001"), "html")
    assert "messages sent to trials 0, 1 · 1 message" in page and "messages sent to trials 2 · 1 message" in page


def test_a_run_without_stored_messages_reports_as_before(store_at: str) -> None:
    with demo_store(store_at, runs=1) as store:
        write_run(store, "r-plain", "2026-11-05T00:00:00.000+00:00", [CaseSpec("plain", "pf", "FAIL")])
        page = render(load_report(store, "r-plain"), "html")
    assert "messages sent" not in page and "2 trials · goldensets/support.yaml:10" in page


def add_case(store: Store, run_id: str, case_id: str, outputs: list[str], status: str) -> None:
    """A case whose trials gave these outputs, passing its check when the output says "30 days"."""
    trials = [ScoredTrial(Trial(case_id, "support-v1", i, Completion(text)),
                          (Score('contains "30 days"', *(("pass", 1.0) if "30 days" in text else ("fail", 0.0))),))
              for i, text in enumerate(outputs)]
    passes = sum(t.outcome == "pass" for t in trials)
    verdict = Verdict(status, len(trials), passes, len(trials) - passes, 0, f"pass rate {passes}/{len(trials)}", 1.0)
    with store.transaction() as conn:
        insert_trials(conn, run_id, "support", trials)
        insert_verdict(conn, run_id, StoredVerdict("support", case_id, "support-v1", None, GS_HASH, TARGET_HASH,
                                                   verdict))


def case_section(page: str, case_id: str) -> str:
    """The page from a case's row up to the next case's."""
    start = page.index(f"support::{case_id}<")
    end = page.find('<tbody class="case"', start)
    return page[start:] if end == -1 else page[start:end]


def test_a_clean_pass_shows_a_sample_of_its_outputs_and_how_to_see_them_all(store_at: str) -> None:
    run = "20261101-120000-0001"
    with demo_store(store_at, runs=1) as store:
        add_case(store, run, "chatty", [f"Within 30 days, says answer {i}." for i in range(5)], "PASS")
        add_case(store, run, "wobbly", [f"Within 30 days, variant {i}." for i in range(4)] + ["Two weeks."], "FAIL")
        page = render(load_report(store, run, trials=False), "html")
    chatty = case_section(page, "chatty")
    assert chatty.count('<tr class="trial"') == PASSING_OUTPUTS == 2
    assert "answer 0." in chatty and "answer 1." in chatty and "answer 2." not in chatty
    assert "<summary>5 trials · " in chatty  # every trial counted, shown or not
    assert ('<p class="left-out" data-left-out="3">3 more passing trials (3 more distinct outputs) not shown '
            '(a case whose every trial passed shows its first 2 distinct outputs): '
            '<code>goldband show 20261101-120000-0001 support::chatty --target support-v1</code> prints every trial.'
            '</p>') in chatty
    wobbly = case_section(page, "wobbly")  # not a clean pass: every output, as before
    assert wobbly.count('<tr class="trial"') == 5 and "Two weeks." in wobbly and "left-out" not in wobbly
    refund = case_section(page, "refund-window")  # five equal answers: one row, nothing left out
    assert '<b class="times">\u00d75</b>' in refund and "left-out" not in refund
