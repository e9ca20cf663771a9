"""Rubric files: loading, hashing, and one clear message per kind of bad input (file:line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldband.checks import build_check
from goldband.errors import ConfigError
from goldband.judge.rubric import load_file, load_rubric
from judgekit import RUBRIC


def write(root: Path, text: str, name: str = "helpful") -> Path:
    (root / "rubrics").mkdir(exist_ok=True)
    path = root / "rubrics" / f"{name}.yaml"
    path.write_text(text)
    return path


def error(root: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_file(write(root, text), root)
    return str(info.value)


def test_a_rubric_loads_with_its_defaults_and_hashes(tmp_path: Path) -> None:
    rubric = load_file(write(tmp_path, RUBRIC), tmp_path)
    assert (rubric.name, rubric.version, rubric.scale_text, rubric.pass_score) == ("helpful", "1", "1-5", 4.0)
    assert [(c.name, c.weight) for c in rubric.criteria] == [("correct", 2.0), ("clear", 1.0)]
    assert (rubric.samples, rubric.combine, rubric.show_input, rubric.show_reference) == (1, "mean", True, False)
    assert rubric.content_hash.startswith("sha256:") and rubric.normalise(4) == 0.75
    assert str(rubric.path) == "rubrics/helpful.yaml"


def test_the_pass_threshold_changes_the_content_hash_but_not_what_the_judge_sees(tmp_path: Path) -> None:
    before = load_file(write(tmp_path, RUBRIC), tmp_path)
    after = load_file(write(tmp_path, RUBRIC.replace("pass: 4", "pass: 3")), tmp_path)
    assert before.content_hash != after.content_hash and before.prompt_hash == after.prompt_hash
    reworded = load_file(write(tmp_path, RUBRIC.replace("The answer is right.", "Right.")), tmp_path)
    assert reworded.prompt_hash != before.prompt_hash


def test_samples_and_show_forms(tmp_path: Path) -> None:
    rubric = load_file(write(tmp_path, RUBRIC + "samples: 3\nshow: {reference: true}\n"), tmp_path)
    assert (rubric.samples, rubric.combine, rubric.show_reference) == (3, "mean", True)
    rubric = load_file(write(tmp_path, RUBRIC + "samples: {n: 5, combine: majority}\n"), tmp_path)
    assert (rubric.samples, rubric.combine) == (5, "majority")


def test_floor_forms(tmp_path: Path) -> None:
    short = load_file(write(tmp_path, RUBRIC + "calibration: helpful.yaml\nagreement_floor: 0.6\n"), tmp_path)
    assert short.floor is not None and short.floor.model_dump() == {"kappa": 0.6, "accuracy": None, "mae": None}
    long = load_file(write(tmp_path, RUBRIC + "calibration: helpful.yaml\nagreement_floor: {accuracy: 0.8, mae: 1}\n"),
                     tmp_path)
    assert long.floor is not None and long.floor.model_dump() == {"kappa": None, "accuracy": 0.8, "mae": 1.0}


BAD = {
    "level outside the scale": (
        RUBRIC.replace('levels: {1: "muddled", 5: "clear"}', "levels:\n      1: muddled\n      5: clear\n      7: wow"),
        "rubrics/helpful.yaml:16: criterion 'clear': level 7 is outside the scale 1-5; "
        "expected levels between 1 and 5; fix: renumber the level, or widen 'scale'"),
    "an end of the scale without an anchor": (
        RUBRIC.replace('{1: "muddled", 5: "clear"}', '{1: "muddled", 4: "clear"}'),
        "rubrics/helpful.yaml:13: criterion 'clear' has no anchor for level 5, an end of the scale 1-5; "
        "expected a description for both ends of the scale (1 and 5)"),
    "missing criteria": (
        RUBRIC.split("criteria:")[0] + "pass: 4\n",
        "rubrics/helpful.yaml:1: a rubric needs at least one criterion (no 'criteria' key); "
        "expected a list under 'criteria:', each with name, weight, description and levels"),
    "empty criteria": (
        RUBRIC.split("criteria:")[0] + "criteria: []\npass: 4\n",
        "rubrics/helpful.yaml:5: a rubric needs at least one criterion (criteria: [])"),
    "a negative weight": (
        RUBRIC.replace("weight: 2", "weight: -2"),
        "rubrics/helpful.yaml:7: criterion 'correct': weight -2.0 is not a positive number; "
        "expected a weight > 0 (weights are relative: 2 counts twice as much as 1)"),
    "a zero weight": (RUBRIC.replace("weight: 1\n", "weight: 0\n"), "criterion 'clear': weight 0.0 is not a positive"),
    "fractions that do not sum to 1": (
        RUBRIC.replace("weight: 2", "weight: 0.5").replace("weight: 1\n", "weight: 0.3\n"),
        "rubrics/helpful.yaml:5: the weights look like fractions but sum to 0.8 (0.5 + 0.3); "
        "expected fractions that sum to 1, or relative weights"),
    "a weight that is not a number": (RUBRIC.replace("weight: 2", "weight: heavy"),
                                      "rubrics/helpful.yaml:7: criteria.0.weight: Input should be a valid number"),
    "pass outside the scale": (RUBRIC.replace("pass: 4", "pass: 6"),
                               "rubrics/helpful.yaml:14: pass 6 is outside the scale 1-5"),
    "an upside-down scale": (RUBRIC.replace("{min: 1, max: 5}", "{min: 5, max: 1}"),
                             "scale: the scale must have 2 to 11 integer levels, min < max (found 5-1)"),
    "a majority that can tie": (RUBRIC + "samples: {n: 4, combine: majority}\n",
                                "combine: majority with 4 samples can tie; expected an odd number"),
    "too many samples": (RUBRIC + "samples: 30\n",
                         "rubrics/helpful.yaml:15: samples.n: Input should be less than or equal to 20 (found 30)"),
    "too many samples in the long form": (
        RUBRIC + "samples: {n: 30}\n",
        "rubrics/helpful.yaml:15: samples.n: Input should be less than or equal to 20 (found 30)"),
    "an unknown way to combine samples": (
        RUBRIC + "samples: {n: 3, combine: avg}\n",
        "rubrics/helpful.yaml:15: samples.combine: Input should be 'mean', 'median' or 'majority' (found 'avg')"),
    "samples that are not a count": (
        RUBRIC + "samples: three\n",
        "rubrics/helpful.yaml:15: samples: expected a count such as 3, or {n: 3, combine: mean | median | majority} "
        "(found 'three')"),
    "a kappa floor above 1": (
        RUBRIC + "calibration: helpful.yaml\nagreement_floor: 2\n",
        "rubrics/helpful.yaml:16: agreement_floor.kappa: Input should be less than or equal to 1 (found 2)"),
    "a kappa floor above 1 in the long form": (
        RUBRIC + "calibration: helpful.yaml\nagreement_floor: {kappa: 2}\n",
        "rubrics/helpful.yaml:16: agreement_floor.kappa: Input should be less than or equal to 1 (found 2)"),
    "a misspelled key": (RUBRIC + "pas: 3\n", "rubrics/helpful.yaml:15: unknown key 'pas' at pas"),
    "a name that differs from the file": (RUBRIC.replace("name: helpful", "name: helpfull"),
                                          "rubrics/helpful.yaml:1: rubric name 'helpfull' differs from its file name"),
    "a floor without a calibration file": (RUBRIC + "agreement_floor: 0.6\n",
                                           "rubrics/helpful.yaml:15: agreement_floor is set but no calibration file"),
    "a missing calibration file": (RUBRIC + "calibration: nope.jsonl\n",
                                   "rubrics/helpful.yaml:15: calibration file 'nope.jsonl' not found"),
    "an example scoring other criteria": (
        RUBRIC + "examples:\n  - output: hi\n    scores: {correct: 5}\n",
        "rubrics/helpful.yaml:17: example 1 scores ['correct'], not the rubric's criteria; "
        "expected one score for each of: correct, clear"),
    "an example off the scale": (
        RUBRIC + "examples:\n  - output: hi\n    scores: {correct: 5, clear: 9}\n",
        "example 1: clear=9 is outside the scale 1-5"),
    "a duplicate criterion": (RUBRIC.replace("name: clear", "name: correct"), "duplicate criterion 'correct'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_rubrics_are_one_clear_message(tmp_path: Path, case: str) -> None:
    text, message = BAD[case]
    assert message in error(tmp_path, text)


def test_unknown_rubric_in_a_golden_set_names_the_golden_set_line(tmp_path: Path) -> None:
    write(tmp_path, RUBRIC)
    with pytest.raises(ConfigError) as info:
        build_check({"rubric": "helpfull"}, "goldensets/s.yaml:9: case 'c0'", tmp_path)
    assert str(info.value) == (
        "goldensets/s.yaml:9: case 'c0': check 'rubric': unknown rubric 'helpfull' (no rubrics/helpfull.yaml); "
        "expected one of: helpful; fix: create rubrics/helpfull.yaml or correct the name")


def test_min_score_outside_the_scale_is_a_golden_set_error(tmp_path: Path) -> None:
    write(tmp_path, RUBRIC)
    with pytest.raises(ConfigError) as info:
        build_check({"rubric": "helpful", "min_score": 9}, "goldensets/s.yaml:9: case 'c0'", tmp_path)
    assert "goldensets/s.yaml:9: case 'c0': check 'rubric': min_score 9 is outside the scale 1-5" in str(info.value)


def test_an_error_inside_the_rubric_names_the_rubric_file(tmp_path: Path) -> None:
    write(tmp_path, RUBRIC.replace("pass: 4", "pass: 6"))
    with pytest.raises(ConfigError) as info:
        build_check({"rubric": "helpful"}, "goldensets/s.yaml:9: case 'c0'", tmp_path)
    assert str(info.value).startswith("rubrics/helpful.yaml:14: pass 6 is outside the scale 1-5")


def test_rubrics_are_loaded_once_per_file_version(tmp_path: Path) -> None:
    path = write(tmp_path, RUBRIC)
    first = load_rubric("helpful", tmp_path)
    assert load_rubric("helpful", tmp_path) is first
    path.write_text(RUBRIC.replace("pass: 4", "pass: 3"))
    import os

    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert load_rubric("helpful", tmp_path).pass_score == 3


def test_the_rubric_check_contract(tmp_path: Path) -> None:
    import pickle

    write(tmp_path, RUBRIC)
    check = build_check({"rubric": "helpful", "min_score": 3.5}, "where", tmp_path)
    assert check.describe() == "rubric helpful" and check.model_copy(update={"label": "x"}).describe() == "x"
    again = type(check).model_validate(check.model_dump(by_alias=True))
    again.prepare(tmp_path)
    assert again == check and pickle.loads(pickle.dumps(check)) == check
    with pytest.raises(Exception, match="frozen"):
        check.min_score = 1  # type: ignore[misc]
    assert check.run(None).outcome == "error"  # type: ignore[arg-type]  # only the judge can score it
    identity = check.store_identity()
    assert identity["name"] == "helpful" and identity["judge_hash"].startswith("sha256:")


def test_the_readme_rubric_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("```yaml\n# rubrics/policy-adherence.yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "policy-adherence.calibration.jsonl").write_text('{"output": "x", "score": 1}\n')
    rubric = load_file(write(tmp_path, block, "policy-adherence"), tmp_path)
    assert [c.name for c in rubric.criteria] == ["within-policy", "handover"] and rubric.floor is not None
    assert rubric.judge is not None and rubric.judge.model == "openai/gpt-4o-mini"


def test_the_bundled_rubrics_load() -> None:
    root = Path(__file__).resolve().parents[2]
    names = {p.stem for p in (root / "rubrics").glob("*.yaml")}
    assert names == {"helpfulness", "factual-accuracy", "policy-adherence"}
    assert len(load_rubric("helpfulness", root).criteria) == 3
    assert load_rubric("factual-accuracy", root).show_reference
