"""``goldband monitor evaluate``: production traces scored in windows, series, output drift, the judge on a sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.store import open_store
from goldband.testing import FakeOpenAI, Reply
from goldband.watch.llmeval import output_drift, window_metrics
from goldband.watch.llmsignals import TraceSignals, is_refusal, signals
from goldband.watch.tracelog import TraceLogger
from goldband.watch.tracerecords import TraceRecord
from goldband.watch.traces import StoredTrace
from judgekit import GRADE, project, reply

GOOD = "Returns are accepted within 30 days of delivery; the return label is free."
BAD = "I'm sorry, but I can't help with that."


def record(i: int, output: str | None, **extra: Any) -> TraceRecord:
    return TraceRecord("support", f"t{i}", f"2026-05-01T10:{i // 60:02d}:{i % 60:02d}.000+00:00",
                       {"question": f"q{i}"}, output, **extra)


def test_refusals_are_recognised_and_ordinary_answers_are_not() -> None:
    assert is_refusal("I'm sorry, but I cannot help with refunds.") and is_refusal("As an AI, I must decline.")
    assert not is_refusal("Sorry for the delay: your refund is on its way.") and not is_refusal(None)


def test_signals_run_the_checks_and_read_empty_truncated_and_failed_calls() -> None:
    from goldband.checks import build_check

    checks = [build_check({"contains": "30 days"}, "t", Path(".")),
              build_check({"length": {"max": 60}}, "t", Path("."))]
    ok = signals(record(1, "Within 30 days.", finish_reason="stop"), checks)
    assert (ok.passed, ok.checks_passed, ok.refusal, ok.empty, ok.truncated) == (True, 2, False, False, False)
    cut = signals(record(2, "Within 40 days " + "x" * 80, finish_reason="length"), checks)
    assert (cut.passed, cut.checks_failed, cut.truncated) == (False, 2, True)
    assert cut.failed == ('contains "30 days"', "length 0..60 chars")
    failed_call = signals(record(3, None, error="timeout: 30 s"), checks)
    assert (failed_call.errored, failed_call.checks_passed, failed_call.passed, failed_call.empty) == (True, 0, False,
                                                                                                      True)


def test_window_metrics_count_each_signal_over_the_window() -> None:
    rows = [StoredTrace(i, record(i, GOOD if i % 4 else BAD, latency_ms=float(100 * (i + 1)), cost=0.001))
            for i in range(8)]
    found = [TraceSignals(checks_passed=1, refusal=i % 4 == 0) if i % 4 else
             TraceSignals(checks_failed=1, failed=("c",), refusal=True) for i in range(8)]
    metrics = window_metrics(rows, found, {1: 4.0, 2: 2.0}, 1, {"t5"}, has_checks=True, judged=3)
    assert metrics["check_pass_rate"] == 0.75 and metrics["refusal_rate"] == 0.25
    assert metrics["judge_score"] == 3.0 and metrics["judge_error_rate"] == pytest.approx(1 / 3)
    assert metrics["latency_p50"] == 450.0 and metrics["latency_p95"] == pytest.approx(765.0)
    assert metrics["negative_feedback_rate"] == 0.125 and metrics["cost"] == pytest.approx(0.001)


def test_output_drift_flags_longer_outputs_and_more_refusals_but_not_noise() -> None:
    import random

    rng = random.Random(3)
    reference = {"lengths": [rng.randint(60, 90) for _ in range(600)], "refusals": 6, "answered": 600,
                 "outcomes": {"pass": 570, "fail": 30}}
    same = {"lengths": [rng.randint(60, 90) for _ in range(200)], "refusals": 2, "answered": 200,
            "outcomes": {"pass": 189, "fail": 11}}
    moved = {"lengths": [rng.randint(150, 220) for _ in range(200)], "refusals": 40, "answered": 200,
             "outcomes": {"pass": 120, "fail": 80}}
    assert not any(t.drifted for t in output_drift(reference, same, alpha=0.05, min_effect=0.1))
    tests = {t.name: t for t in output_drift(reference, moved, alpha=0.05, min_effect=0.1)}
    assert all(t.drifted for t in tests.values()) and set(tests) == {"output_length", "refusal_rate",
                                                                      "check_outcomes"}
    assert tests["refusal_rate"].value == "20.0%" and tests["refusal_rate"].reference == "1.0%"


def evaluate(*args: str) -> Any:
    return CliRunner().invoke(main, ["monitor", "evaluate", *args])


def llm_project(root: Path, url: str, store: str, *, window: int = 20, sample: int = 4) -> Path:
    """The judge project with an LLM monitor for ``support``, its store at ``store`` (store_at's file or URL)."""
    project(root, url)
    with (root / "goldband.yaml").open("a") as f:
        f.write(f"store: {store}\nmonitors:\n  llm:\n    support:\n      checks:\n        - contains: '30 days'\n"
                f"      judge: {{rubric: helpful, sample: {sample}}}\n      window: {window}\n"
                f"      reference_windows: 2\n")
    return root


def log_traces(store: str, outputs: list[str], *, version: str = "1", start: int = 0,
               environment: str | None = None) -> None:
    with TraceLogger("support", store=store, version=version, environment=environment) as log:
        for i, text in enumerate(outputs, start):
            log.log({"question": f"q{i}"}, text, trace_id=f"{environment or ''}t{i}", latency_ms=100.0 + i,
                    time=f"2026-05-0{1 + i // 1000}T10:{(i % 1000) // 60:02d}:{i % 60:02d}Z")


def test_evaluate_scores_windows_judges_a_sample_and_resumes(tmp_path: Path, store_at: str, openai_server: FakeOpenAI,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    llm_project(tmp_path, openai_server.url, store_at)
    openai_server.add_rule(contains=GRADE, replies=[Reply(reply(5, 5))] * 3 + ["not json"] * 1 + [Reply(reply(3, 3))])
    log_traces(store_at, [GOOD] * 15 + [BAD] * 5 + [GOOD] * 7)
    monkeypatch.chdir(tmp_path)
    first = evaluate("support")
    assert first.exit_code == 0, first.output
    assert "support: 1 new window(s); 1 check(s); judge on a sample" in first.output
    assert "check_pass_rate 0.75" in first.output and "refusal_rate 0.25" in first.output
    assert "v1: 7 trace(s) waiting for a complete window" in first.output
    with open_store(store_at) as store:
        conn = store.conn
        judged = conn.execute("SELECT COUNT(judge_score), COUNT(judge_error) FROM llm_evaluations").fetchone()
        assert sum(judged) == 4  # the sample, judged or failed: a failure is an error, never a score
        points = dict(conn.execute("SELECT metric, value FROM series_points WHERE source = 'llm-prod'").fetchall())
        assert points["check_pass_rate"] == 0.75 and points["refusal_rate"] == 0.25
        assert json.loads(conn.execute("SELECT labels FROM series_points LIMIT 1").fetchone()[0]) == {"version": "1"}
    again = evaluate("support")  # nothing new: the cursor is in the store
    assert again.exit_code == 0 and "0 new window(s)" in again.output


def test_output_drift_opens_an_alert_through_the_default_rules(tmp_path: Path, store_at: str,
                                                               openai_server: FakeOpenAI,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    llm_project(tmp_path, openai_server.url, store_at)
    monkeypatch.chdir(tmp_path)
    log_traces(store_at, [GOOD] * 40)  # the two reference windows
    log_traces(store_at, [BAD] * 20, start=40)  # a window of refusals
    result = evaluate("support", "--no-judge", "--fail-on-alert", "warning")
    assert result.exit_code == 6, result.output
    assert "output drift: output_length" in result.output and "refusal_rate (chi2" in result.output
    with open_store(store_at) as store:
        (rule, metric, source), = store.conn.execute("SELECT rule, metric, source FROM alerts").fetchall()
    assert (rule, metric, source) == ("llm-production", "output_drift", "llm-prod")


def test_each_environment_is_evaluated_apart(tmp_path: Path, store_at: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Production's traces turn to refusals while staging's stay good: production's windows drift and alert,
    staging's never see production's traces."""
    llm_project(tmp_path, "http://127.0.0.1:9/v1", store_at)
    monkeypatch.chdir(tmp_path)
    log_traces(store_at, [GOOD] * 60, environment="staging")
    log_traces(store_at, [GOOD] * 40 + [BAD] * 20, environment="production")
    only = evaluate("support", "--no-judge", "--environment", "staging")
    assert only.exit_code == 0, only.output
    assert "support: 3 new window(s)" in only.output and "production" not in only.output
    result = evaluate("support", "--no-judge", "--fail-on-alert", "warning")
    assert result.exit_code == 6, result.output
    assert "support: 3 new window(s)" in result.output
    assert "v1 in production window 3 (20 traces" in result.output and "output drift: output_length" in result.output
    with open_store(store_at) as store:
        conn = store.conn
        alerts = conn.execute("SELECT metric, environment FROM alerts").fetchall()
        assert [tuple(a) for a in alerts] == [("output_drift", "production")]
        rates = conn.execute("SELECT environment, labels, value FROM series_points WHERE metric = 'refusal_rate' "
                             "ORDER BY environment, time").fetchall()
        assert [(env, json.loads(labels), value) for env, labels, value in rates] == [
            ("production", {"environment": "production", "version": "1"}, v) for v in (0.0, 0.0, 1.0)] + [
            ("staging", {"environment": "staging", "version": "1"}, 0.0)] * 3
    bad = evaluate("support", "--environment", "Prod")
    assert bad.exit_code == 2 and "--environment: environment 'Prod' is not a valid name" in bad.output


def test_evaluate_an_unknown_app_names_the_known_ones(tmp_path: Path, store_at: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    llm_project(tmp_path, "http://127.0.0.1:9/v1", store_at)
    log_traces(store_at, [GOOD])
    monkeypatch.chdir(tmp_path)
    result = evaluate("suport", "--no-judge")
    assert result.exit_code != 0 and "no traces of app 'suport'" in result.output and "'support'" in result.output
