"""The bleu and rouge checks: their numbers are the libraries' own, and a missing extra is a clear ConfigError.

Agreement is checked three ways: against sacreBLEU and rouge-score called directly on
real sentence pairs, against values worked out by hand from the definitions (BLEU's
clipped n-gram precisions; ROUGE-1 on the example in rouge-score's README), and
through a golden set loaded and run by ``goldband.run``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from goldband.checks.base import CheckContext, CheckSpec, build_check
from goldband.errors import ConfigError
from goldband.results import Completion, Score, Trial

sacrebleu = pytest.importorskip("sacrebleu", reason="the overlap extra: pip install 'goldband[overlap]'")
rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer", reason="the overlap extra")

WHERE = "goldensets/qa.yaml:7: case 'returns'"

# (output, reference): answers an LLM might give, and the reference answers of a golden set
PAIRS = [
    ("Returns are accepted within 30 days of purchase.", "We accept returns within 30 days of purchase."),
    ("The capital of France is Paris.", "Paris is the capital of France."),
    ("You can reset your password from the login page.", "Use 'Forgot password' on the login page to reset it."),
    ("Shipping is free on orders over $50.", "Orders above $50 ship for free."),
    ("I don't know.", "The warranty covers two years of normal use."),
]


def check(entry: dict[str, Any]) -> CheckSpec:
    return build_check(entry, WHERE, Path("."))


def score(entry: dict[str, Any], output: str, reference: str | None = None) -> Score:
    trial = Trial("returns", "t", 0, Completion(output))
    result = check(entry).run(CheckContext(trial, reference=reference))
    assert 0.0 <= result.score <= 1.0
    return result


@pytest.mark.parametrize(("output", "reference"), PAIRS)
def test_bleu_equals_sacrebleu_sentence_bleu(output: str, reference: str) -> None:
    expected = sacrebleu.metrics.BLEU(effective_order=True).sentence_score(output, [reference]).score / 100
    assert score({"bleu": 0.0}, output, reference).score == pytest.approx(expected, abs=1e-12)
    assert sacrebleu.sentence_bleu(output, [reference]).score / 100 == pytest.approx(expected)


@pytest.mark.parametrize(("output", "reference"), PAIRS)
@pytest.mark.parametrize("metric", ["rouge1", "rouge2", "rougeL", "rougeLsum"])
def test_rouge_equals_rouge_score(output: str, reference: str, metric: str) -> None:
    scorer = rouge_scorer.RougeScorer([metric], use_stemmer=True)
    expected = scorer.score(reference, output)[metric]
    assert score({"rouge": 0.0, "metric": metric}, output, reference).score == pytest.approx(expected.fmeasure)
    got = score({"rouge": 0.0, "metric": metric, "measure": "recall"}, output, reference).score
    assert got == pytest.approx(expected.recall)


def test_bleu_by_hand() -> None:
    # 'The cat sat on the mat .' against 'The cat is on the mat .' (13a splits the full stop):
    # clipped 1- to 4-gram precisions 6/7, 4/6, 2/5, 1/4, equal lengths (no brevity penalty).
    result = score({"bleu": 0.4}, "The cat sat on the mat.", "The cat is on the mat.")
    by_hand = (6 / 7 * 4 / 6 * 2 / 5 * 1 / 4) ** 0.25
    assert (result.outcome, result.score) == ("pass", pytest.approx(by_hand))
    assert "BLEU 0.489 >= 0.4" in result.detail and "sacreBLEU 48.9/100" in result.detail
    assert "tok:13a" in result.detail  # sacreBLEU's signature: the score can be reproduced


def test_rouge1_on_the_rouge_score_readme_example_by_hand() -> None:
    # 6 unigrams shared (the, quick, brown, dog, jumps, the) of 8 in the prediction and 9 in the target
    result = score({"rouge": 0.7, "metric": "rouge1"}, "The quick brown dog jumps on the log.",
                   "The quick brown fox jumps over the lazy dog")
    precision, recall = 6 / 8, 6 / 9
    assert result.score == pytest.approx(2 * precision * recall / (precision + recall))
    assert result.outcome == "pass" and "rouge1 0.706 >= 0.7 (fmeasure)" in result.detail


def test_the_stemmer_is_on_by_default_and_can_be_turned_off() -> None:
    assert score({"rouge": 0.9, "metric": "rouge1"}, "jumping dogs", "jumped dog").outcome == "pass"
    off = score({"rouge": 0.9, "metric": "rouge1", "stemmer": False}, "jumping dogs", "jumped dog")
    assert (off.outcome, off.score) == ("fail", 0.0)


def test_below_min_fails_with_the_metric_as_score() -> None:
    result = score({"bleu": 0.5}, "I don't know.", "The warranty covers two years of normal use.")
    assert result.outcome == "fail" and result.score < 0.5 and "< 0.5" in result.detail


def test_a_given_reference_wins_over_the_case_reference() -> None:
    entry = {"rouge": 0.99, "reference": "exactly this"}
    assert score(entry, "exactly this", reference="something else").outcome == "pass"


def test_several_references_multi_reference_bleu_and_best_rouge() -> None:
    refs = ["The dog bit the man.", "The dog had bit the man."]
    output = "The dog bit the man."
    expected = sacrebleu.metrics.BLEU(effective_order=True).sentence_score(output, refs).score / 100
    assert score({"bleu": 0.5, "reference": refs}, output).score == pytest.approx(expected) == 1.0
    rouge = score({"rouge": 0.5, "metric": "rouge2", "reference": ["unrelated words", *refs]}, output)
    assert (rouge.outcome, rouge.score) == ("pass", 1.0) and "best of 3 references: #2" in rouge.detail


def test_no_reference_is_an_error_score_never_a_pass() -> None:
    for entry in ({"bleu": 0.1}, {"rouge": 0.1}):
        result = score(entry, "anything")
        assert (result.outcome, result.score) == ("error", 0.0)
        assert "give 'reference:' on the check or a case 'reference'" in result.detail


def test_an_empty_output_scores_zero() -> None:
    assert score({"bleu": 0.1}, "", "Returns within 30 days.").score == 0.0
    assert score({"rouge": 0.1}, "", "Returns within 30 days.").score == 0.0


def test_describe_names_the_metric_and_threshold() -> None:
    assert check({"bleu": 0.4}).describe() == "bleu >= 0.4"
    assert check({"rouge": None}).describe() == "rouge rougeL >= 0.5"  # defaults: ROUGE-L F1 at 0.5
    assert check({"rouge": {"metric": "rouge2", "min": 0.3}}).describe() == "rouge rouge2 >= 0.3"


@pytest.mark.parametrize(("entry", "expected"), [
    ({"bleu": 40}, "scores here are on 0-1, not 0-100: write 0.4 for 40"),
    ({"rouge": 0.5, "metric": "rouge3"}, "parameter 'metric'"),
    ({"bleu": 0.5, "reference": []}, "give at least one reference"),
    ({"rouge": 0.5, "measure": "f1"}, "parameter 'measure'"),
    ({"bleu": 0.5, "tokenise": "13a"}, "did you mean 'tokenize'?"),
])
def test_bad_parameters_are_config_errors_naming_where(entry: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        check(entry)
    assert str(info.value).startswith(WHERE) and expected in str(info.value)


@pytest.mark.parametrize(("entry", "module", "distribution"), [
    ({"bleu": 0.4}, "sacrebleu", "sacrebleu"),
    ({"rouge": 0.4}, "rouge_score", "rouge-score"),
])
def test_without_the_extra_loading_is_a_config_error_with_the_install_command(
        monkeypatch: pytest.MonkeyPatch, entry: dict[str, Any], module: str, distribution: str) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package looks like to import
    with pytest.raises(ConfigError) as info:
        check(entry)
    message = str(info.value)
    assert message.startswith(WHERE) and f"needs {distribution}, which is not installed" in message
    assert "goldband[overlap]" in message and "pip install 'goldband[overlap]'" in message


GOLDEN = """\
name: qa
version: 1
defaults: {runs: 1}
cases:
  - id: returns
    input: {question: "Can I return shoes?"}
    reference: "We accept returns within 30 days of purchase."
    checks:
      - bleu: 0.2
      - rouge: 0.5
        metric: rouge1
  - id: capital
    input: {question: "Capital of France?"}
    reference: "The warranty covers two years."
    checks:
      - rouge: 0.5
"""


def test_a_golden_set_run_scores_with_the_libraries(tmp_path: Path) -> None:
    import goldband

    (tmp_path / "goldensets").mkdir()
    (tmp_path / "goldensets" / "qa.yaml").write_text(GOLDEN)
    (tmp_path / "answer.py").write_text("def answer(inp):\n    return 'Returns are accepted within 30 days of "
                                        "purchase.'\n")
    (tmp_path / "goldband.yaml").write_text("targets:\n  app:\n    callable: answer:answer\n")
    result = goldband.run("goldensets/qa.yaml", root=tmp_path, store="off")
    outcomes = {o.plan.case.id: o for o in result.outcomes}
    scores = {s.check: s for s in outcomes["returns"].trials[0].scores}
    output, reference = PAIRS[0]
    expected = sacrebleu.sentence_bleu(output, [reference]).score / 100
    assert scores["bleu >= 0.2"].score == pytest.approx(expected) and scores["bleu >= 0.2"].outcome == "pass"
    assert scores["rouge rouge1 >= 0.5"].outcome == "pass"
    assert outcomes["capital"].trials[0].scores[0].outcome == "fail"


@pytest.mark.parametrize("entry", [{"bleu": 0.5}, {"rouge": 0.5, "metric": "rouge2", "reference": ["a b", "c d"]}])
def test_the_check_contract(entry: dict[str, Any]) -> None:
    import json
    import pickle

    spec = check(entry)
    ctx = CheckContext(Trial("returns", "t", 0, Completion("c d")), reference="c d")
    first = spec.run(ctx)
    assert (first.outcome, first.score) == ("pass", 1.0) and first.check == spec.describe()
    assert all(spec.run(ctx) == first for _ in range(3))  # deterministic
    dumped = spec.model_dump(by_alias=True)
    json.dumps(dumped)
    again = type(spec).model_validate(dumped)
    assert again == spec and again.run(ctx) == first
    assert pickle.loads(pickle.dumps(spec)) == spec and pickle.loads(pickle.dumps(spec)).run(ctx) == first
    with pytest.raises(Exception, match="frozen"):
        spec.min = 0.1  # type: ignore[misc]
    assert spec.model_copy(update={"label": "mine"}).run(ctx).check == "mine"
