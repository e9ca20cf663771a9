"""The judge inside real pytest runs (pytester): collection errors, gating, the judge-error limit."""

from __future__ import annotations

import pytest

from goldband.testing import FakeOpenAI
from judgekit import RUBRIC, project, reply, serve

pytestmark = pytest.mark.filterwarnings("error")


def run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest("-p", "no:randomly", "--goldband-store", "off", "--goldband-report", "off", *args)


def test_an_unknown_rubric_is_a_collection_error_at_the_case_line(pytester: pytest.Pytester) -> None:
    project(pytester.path, "http://127.0.0.1:9/v1", checks="      - rubric: helpfull\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*goldensets/s.yaml:9: case 'c0': check 'rubric': unknown rubric 'helpfull' "
                                 "(no rubrics/helpfull.yaml); expected one of: helpful; fix: create*"])
    assert "Traceback" not in result.stdout.str()


def test_a_bad_rubric_is_a_collection_error_at_the_rubric_line(pytester: pytest.Pytester) -> None:
    project(pytester.path, "http://127.0.0.1:9/v1", rubric=RUBRIC.replace("pass: 4", "pass: 9"))
    result = run(pytester)
    result.stdout.fnmatch_lines(["*rubrics/helpful.yaml:14: pass 9 is outside the scale 1-5*"])


def test_a_missing_reference_is_one_usage_error(pytester: pytest.Pytester) -> None:
    project(pytester.path, "http://127.0.0.1:9/v1", rubric=RUBRIC + "show: {reference: true}\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert ("goldensets/s.yaml:6: case 'c0': rubric 'helpful' grades against the reference, but the case has none; "
            "expected a 'reference:' answer") in result.stderr.str()


def test_judge_scores_decide_items_and_show_in_the_report(pytester: pytest.Pytester,
                                                          openai_server: FakeOpenAI) -> None:
    serve(openai_server, [reply(5, 5), reply(2, 1)], outputs=["good answer", "bad answer"])
    project(pytester.path, openai_server.url, cases=2)
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "x rubric helpful: 1.67/5 < pass 4 (correct 2, clear 1); clear: 'clear is 1'" in out
    assert "goldband judge: 2 rubric scores, 0 errored (0%, limit 10%) · 2 judge requests, 2 judged live" in out


def test_judge_errors_over_the_limit_are_a_harness_error(pytester: pytest.Pytester,
                                                         openai_server: FakeOpenAI) -> None:
    # The judge refuses sample #0 of each case, picked by the output it grades rather than by the order in which
    # the judge requests arrive: the two cases are judged concurrently.
    openai_server.add_rule(contains="refuse-me", replies=["I am unable to grade this."])
    serve(openai_server, [reply(5, 5)], outputs=["refuse-me a", "b", "refuse-me c", "d"])
    project(pytester.path, openai_server.url, cases=2, runs=2)
    result = run(pytester)
    assert result.ret == 3  # not 1: the judge failed, the model did not regress
    out = result.stdout.str()
    assert "goldband: JUDGE ERROR — 2 of 4 rubric scores errored (50% > limit 10%): the judge or harness " \
           "failed; this is not a model regression" in out
    assert "judge error: the judge refused to grade (its reply has no JSON and reads as a refusal); " \
           "evidence: 'I am unable to grade this.'" in out
    assert "judge errors in 1 of 2 rubric scores" in out
    relaxed = run(pytester, "--goldband-judge-max-errors", "0.6")
    assert relaxed.ret == 1 and "JUDGE ERROR" not in relaxed.stdout.str()


def test_an_uncalibrated_rubric_reports_but_does_not_gate(pytester: pytest.Pytester,
                                                          openai_server: FakeOpenAI) -> None:
    serve(openai_server, [reply(1, 1)])
    (pytester.path / "rubrics").mkdir()
    (pytester.path / "rubrics" / "helpful.calibration.jsonl").write_text('{"output": "x", "score": 1}\n')
    rubric = RUBRIC + "calibration: helpful.calibration.jsonl\nagreement_floor: 0.6\n"
    checks = '      - rubric: helpful\n      - contains: "30 days"\n'
    project(pytester.path, openai_server.url, rubric=rubric, checks=checks)
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1)
    gated = run(pytester, "-v", "--goldband-judge-gate", "always")
    gated.assert_outcomes(failed=1)
    assert "gating by request (judge gate: always) although rubric 'helpful' was never calibrated" in \
        gated.stdout.str()


def test_only_uncalibrated_rubrics_leave_the_item_not_gating(pytester: pytest.Pytester,
                                                             openai_server: FakeOpenAI) -> None:
    serve(openai_server, [reply(1, 1)])
    (pytester.path / "rubrics").mkdir()
    (pytester.path / "rubrics" / "helpful.calibration.jsonl").write_text('{"output": "x", "score": 1}\n')
    project(pytester.path, openai_server.url,
            rubric=RUBRIC + "calibration: helpful.calibration.jsonl\nagreement_floor: 0.6\n")
    result = run(pytester, "-rA", "-v")
    assert result.ret == 0
    assert "(not gating)" in result.stdout.str()
