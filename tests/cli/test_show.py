"""``goldband show RUN CASE``: every trial of one case, from a real store (click's runner), made safe to print."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.report.data import load_report
from goldband.report.files import render
from goldband.results import Completion, Score, ScoredTrial, ToolCall, Trial, Verdict
from goldband.store import StoredVerdict, open_store
from goldband.store.writer import insert_trials, insert_verdict
from storefixtures import GS_HASH, TARGET_HASH, demo_store

RUN = "20261101-120000-0001"
ANSWERS = [f"Within 30 days, answer {i}.\nSecond line {i}." for i in range(5)]


@pytest.fixture
def store_path(store_at: str) -> str:
    """The demo run plus a clean pass with five distinct answers (the HTML shows two of them), once per backend."""
    with demo_store(store_at, runs=1) as store:
        trials = [ScoredTrial(Trial("chatty", "support-v1", i, Completion(text, latency_ms=120.0)),
                              (Score('contains "30 days"', "pass", 1.0),)) for i, text in enumerate(ANSWERS)]
        trials[4] = ScoredTrial(Trial("chatty", "support-v1", 4, Completion(
            "Within 30 days \x1b[31mred\x1b[0m \u202eevil", (ToolCall("lookup", {"id": "A-1"}),))),
            (Score('contains "30 days"', "pass", 1.0),))
        with store.transaction() as conn:
            insert_trials(conn, RUN, "support", trials)
            insert_verdict(conn, RUN, StoredVerdict("support", "chatty", "support-v1", None, GS_HASH, TARGET_HASH,
                                                    Verdict("PASS", 5, 5, 0, 0, "pass rate 5/5", 1.0)))
    return store_at


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_show_prints_every_trial_of_a_case_the_html_samples(store_path: str) -> None:
    with open_store(store_path, create=False) as store:
        page = render(load_report(store, RUN, trials=False), "html")
    command = f"goldband show {RUN} support::chatty --target support-v1"
    assert f"<code>{command}</code> prints every trial" in page and "answer 3." not in page
    code, out = invoke(*command.split()[1:], "--store", str(store_path))
    assert code == 0, out
    assert out.startswith("PASS support::chatty[support-v1]  pass rate 5/5  (5 trials)\n")
    for i in range(4):
        assert f"  trial {i}  pass  score 1.00  latency 120 ms\n    Within 30 days, answer {i}.\n" \
               f"    Second line {i}.\n" in out
    assert "    Within 30 days \\x1b[31mred\\x1b[0m \\u202eevil\n" in out  # escapes shown, never sent
    assert "\x1b" not in out and "\u202e" not in out
    assert '    tool call lookup {"id": "A-1"}\n' in out


def test_show_finds_a_case_by_its_id_alone_and_prints_json(store_path: str) -> None:
    code, out = invoke("show", RUN, "chatty", "--store", str(store_path))
    assert code == 0 and out.startswith("PASS support::chatty[support-v1]")
    code, out = invoke("show", RUN, "support::chatty[support-v1]", "--json", "--store", str(store_path))
    data = json.loads(out)
    assert code == 0 and data["status"] == "PASS" and [t["sample"] for t in data["trials"]] == [0, 1, 2, 3, 4]
    assert data["trials"][1]["completion"]["output"] == ANSWERS[1]


def test_show_names_what_it_cannot_find(store_path: str) -> None:
    code, out = invoke("show", RUN, "support::nope", "--store", str(store_path))
    assert code == 2 and f"Error: run {RUN} has no case 'support::nope'" in out
    assert f"goldband show {RUN} --all" in out and "Traceback" not in out
    code, out = invoke("show", RUN, "chatty", "--target", "other", "--store", str(store_path))
    assert code == 2 and "no case 'chatty' on target 'other'" in out
    code, out = invoke("show", RUN, "--target", "t", "--store", str(store_path))
    assert code == 2 and "--target narrows a CASE" in out


def test_show_without_a_case_still_shows_the_run(store_path: str) -> None:
    code, out = invoke("show", RUN, "--all", "--store", str(store_path))
    assert code == 0 and out.startswith(f"run {RUN}  FAIL") and "PASS         support::chatty[support-v1]" in out
