"""The one-line inline rubric: ``- rubric: "Does not mention being an AI"``.

How a value is read (file or inline), the rubric it becomes (one criterion, pass/fail,
hashed by its text), and real runs against the loopback FakeOpenAI as the judge:
through ``goldband.run`` and through pytest itself (pytester).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goldband.checks.base import build_check, known_names
from goldband.errors import ConfigError
from goldband.judge import prompt
from goldband.judge.check import RubricCheck
from goldband.judge.rubric import INLINE_CRITERION, inline_rubric, is_inline
from goldband.testing import FakeOpenAI
from judgekit import GRADE, RUBRIC, judge_requests, project, rubric_score, run, serve

known_names()  # every check family loaded before any pytester exists (it drops modules a run imports)

TEXT = "Does not mention being an AI"
INLINE = f'      - rubric: "{TEXT}"\n'
WHERE = "goldensets/s.yaml:9: case 'c0'"


def verdict(score: int) -> str:
    """A judge reply for an inline rubric: its one criterion, 0 (not met) or 1 (met)."""
    return json.dumps({"criteria": {INLINE_CRITERION: {"reasoning": f"scored {score}", "score": score}}})


def with_rubric_file(root: Path) -> Path:
    (root / "rubrics").mkdir(exist_ok=True)
    (root / "rubrics" / "helpful.yaml").write_text(RUBRIC)
    return root


# --- file or inline ----------------------------------------------------------------------------------------------


def test_a_value_with_spaces_is_inline_and_a_name_or_yaml_file_is_not(tmp_path: Path) -> None:
    with_rubric_file(tmp_path)
    assert is_inline(TEXT, tmp_path) and is_inline("  be   brief ", tmp_path)
    for value in ("helpful", "helpful.yaml", "rubrics/helpful.yaml", "no such.yml", "typo"):
        assert not is_inline(value, tmp_path), value


@pytest.mark.parametrize("value", ["helpful", "helpful.yaml", "rubrics/helpful.yaml"])
def test_a_rubric_file_is_found_by_name_file_name_or_path(tmp_path: Path, value: str) -> None:
    check = build_check({"rubric": value}, WHERE, with_rubric_file(tmp_path))
    assert isinstance(check, RubricCheck) and check.loaded(tmp_path).name == "helpful"
    assert check.loaded(tmp_path).inline is None and check.describe() == "rubric helpful"


def test_an_inline_rubric_is_one_criterion_on_a_pass_fail_scale(tmp_path: Path) -> None:
    check = build_check({"rubric": TEXT}, WHERE, tmp_path)
    assert isinstance(check, RubricCheck)
    rubric = check.loaded(tmp_path)
    assert rubric.inline == TEXT and check.describe() == f'rubric "{TEXT}"'
    assert [c.name for c in rubric.criteria] == [INLINE_CRITERION] and rubric.criteria[0].description == TEXT
    assert (rubric.levels, rubric.pass_score, check.threshold) == ([0, 1], 1.0, 1.0)
    assert rubric.judge is None and rubric.floor is not None  # goldband.yaml's judge; gates once calibrated
    assert TEXT in prompt.rubric_text(rubric)


def test_an_inline_rubric_is_named_and_hashed_by_its_text() -> None:
    a, b = inline_rubric(TEXT), inline_rubric(f"  {TEXT.replace(' ', '  ')} ")
    other = inline_rubric("Answers in English")
    assert a == b and a.name.startswith("inline-") and len(a.name) == len("inline-") + 12
    assert (a.name, a.content_hash, a.prompt_hash) != (other.name, other.content_hash, other.prompt_hash)


def test_an_unknown_single_word_is_an_error_that_mentions_inline_rubrics(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_check({"rubric": "helpfull"}, WHERE, with_rubric_file(tmp_path))
    message = str(info.value)
    assert message.startswith(WHERE) and "unknown rubric 'helpfull'" in message and "expected one of: helpful" in \
        message


@pytest.mark.parametrize(("value", "expected"), [
    ("other/helpful.yaml", "rubric file 'other/helpful.yaml' is outside rubrics/"),
    ("missing.yaml", "unknown rubric 'missing'"),
    ("a\nb", "an inline rubric is one line"),
    ("bad|name", "not a rubric name"),
])
def test_bad_values_are_config_errors_naming_the_case(tmp_path: Path, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_check({"rubric": value}, WHERE, with_rubric_file(tmp_path))
    assert str(info.value).startswith(WHERE) and expected in str(info.value)


def test_min_score_is_on_the_inline_scale(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"min_score 4 is outside the scale 0-1"):
        build_check({"rubric": TEXT, "min_score": 4}, WHERE, tmp_path)


# --- runs against the loopback judge -----------------------------------------------------------------------------


def test_a_run_judges_with_the_project_judge_and_does_not_gate_until_calibrated(
        tmp_path: Path, openai_server: FakeOpenAI) -> None:
    serve(openai_server, [verdict(1)])
    trials = run(project(tmp_path, openai_server.url, checks=INLINE))["c0"]
    [body] = judge_requests(openai_server)
    assert body["model"] == "judge-model" and body["temperature"] == 0
    system = body["messages"][0]["content"]
    assert f"## Criterion: {INLINE_CRITERION} (weight 1)\n{TEXT}" in system
    assert "integers from 0 (worst) to 1 (best)" in system and GRADE in body["messages"][1]["content"]
    score = rubric_score(trials[0])
    assert (score.check, score.outcome, score.score, score.gating) == (f'rubric "{TEXT}"', "pass", 1.0, False)
    assert (score.meta or {})["rubric"] == inline_rubric(TEXT).name


def test_an_unchanged_output_is_judged_once_across_runs(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    serve(openai_server, [verdict(0)])
    root = project(tmp_path, openai_server.url, checks=INLINE)
    first = rubric_score(run(root)["c0"][0])
    second = rubric_score(run(root)["c0"][0])
    assert len(judge_requests(openai_server)) == 1  # the judge cache keys the inline rubric by its text
    assert first.outcome == second.outcome == "fail" and first.score == second.score == 0.0


def test_a_changed_text_is_judged_again(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    serve(openai_server, [verdict(1)])
    run(project(tmp_path, openai_server.url, checks=INLINE))
    run(project(tmp_path, openai_server.url, checks='      - rubric: "Answers in English"\n'))
    assert len(judge_requests(openai_server)) == 2


def pytest_run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest("-p", "no:randomly", "--goldband-store", "off", "--goldband-report", "off", *args)


@pytest.mark.filterwarnings("error")
def test_pytest_reports_the_inline_text_and_gates_only_on_request(pytester: pytest.Pytester,
                                                                  openai_server: FakeOpenAI) -> None:
    serve(openai_server, [verdict(0)])
    project(pytester.path, openai_server.url, checks=INLINE)
    result = pytest_run(pytester, "-v", "-rA")
    assert result.ret == 0  # the judge says 'not met', but an uncalibrated rubric does not gate
    assert "(not gating)" in result.stdout.str()
    gated = pytest_run(pytester, "-v", "--goldband-judge-gate", "always")
    gated.assert_outcomes(failed=1)
    assert f'rubric "{TEXT}"' in gated.stdout.str()
