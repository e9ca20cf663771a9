"""The committed baseline file: round trip, one clear error per bad file, and baselines from a run's outcomes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from goldband.bands.spec import Runs
from goldband.compare.baseline import BASELINE_FORMAT, read_baseline, stats_from_outcomes, write_baseline
from goldband.compare.cases import CaseStats
from goldband.errors import ConfigError, GoldbandError


def key(case: str, target: str = "gpt", goldenset: str = "support") -> tuple[str, str, str]:
    return (goldenset, case, target)


# --------------------------------------------------------------------------- baseline files


def test_baseline_round_trip(tmp_path):
    cases = {key("a"): CaseStats(10, 8, errors=1, scores=(0.5, 1.0)), key("b", "claude", "extract"): CaseStats(3, 3)}
    path = tmp_path / "nested" / "baseline.json"
    write_baseline(path, cases, source="run 42")
    assert read_baseline(path) == cases
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["goldband_baseline"] == BASELINE_FORMAT and data["source"] == "run 42"
    assert data["cases"][0] == {"goldenset": "extract", "case": "b", "target": "claude", "n": 3, "passes": 3,
                                "errors": 0, "scores": [], "looks": 1}


def test_baseline_rows_may_omit_errors_and_scores(tmp_path):
    path = tmp_path / "b.json"
    row = {"goldenset": "s", "case": "c", "target": "t", "n": 4, "passes": 3}
    path.write_text(json.dumps({"goldband_baseline": 1, "cases": [row]}), encoding="utf-8")
    assert read_baseline(path) == {("s", "c", "t"): CaseStats(4, 3)}


def test_baseline_not_json_names_the_line(tmp_path):
    path = tmp_path / "b.json"
    path.write_text('{\n "goldband_baseline": 1,\n "cases": [\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"b\.json:\d+:\d+: baseline file is not JSON") as info:
        read_baseline(path)
    assert info.value.where == f"{path}:4:1"  # line and column


def test_baseline_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read baseline file") as info:
        read_baseline(tmp_path / "nope.json")
    assert "existing baseline file" in str(info.value)


@pytest.mark.parametrize("content", ['{"goldband_baseline": 2, "cases": []}', '{"cases": []}', "[1, 2]", '"x"'])
def test_baseline_wrong_format_marker(tmp_path, content):
    path = tmp_path / "b.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_baseline(path)
    message = str(info.value)
    assert message.startswith(f"{path}:1: not a goldband baseline file")
    assert '"goldband_baseline": 1' in message and "goldband baseline save" in message


@pytest.mark.parametrize(
    "cases",
    [
        [{"goldenset": "s", "case": "c", "target": "t", "n": 4}],  # no passes
        [{"goldenset": "s", "case": "c", "n": 4, "passes": 4}],  # no target
        [{"goldenset": "s", "case": "c", "target": "t", "n": "four", "passes": 4}],
        [{"goldenset": "s", "case": "c", "target": "t", "n": 4, "passes": 4, "scores": [None]}],
        ["not a row"],
        None,
    ],
)
def test_baseline_malformed_rows(tmp_path, cases):
    path = tmp_path / "b.json"
    body = {"goldband_baseline": 1} if cases is None else {"goldband_baseline": 1, "cases": cases}
    path.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"malformed baseline row") as info:
        read_baseline(path)
    assert info.value.where == str(path)
    assert "goldenset, case, target, n, passes" in str(info.value)
    assert isinstance(info.value, GoldbandError)


# --------------------------------------------------------------------------- stats_from_outcomes


FIXED = Runs(3, 3, adaptive=False)


def _outcome(goldenset: str, case: str, target: str, *, n: int, passes: int, errors: int,
             scores: list[float | None], runs: Runs = FIXED) -> SimpleNamespace:
    plan = SimpleNamespace(goldenset=goldenset, case=SimpleNamespace(id=case), target=SimpleNamespace(name=target),
                           runs=runs)
    verdict = SimpleNamespace(n=n, passes=passes, errors=errors)
    return SimpleNamespace(plan=plan, verdict=verdict, trials=[SimpleNamespace(score=s) for s in scores])


def test_stats_from_outcomes():
    outcomes = [
        _outcome("support", "refund", "gpt", n=3, passes=2, errors=1, scores=[1.0, 0.5, None]),
        _outcome("support", "refund", "claude", n=2, passes=0, errors=2, scores=[None, None],
                 runs=Runs(2, 10, adaptive=True)),
    ]
    assert stats_from_outcomes(outcomes) == {
        ("support", "refund", "gpt"): CaseStats(3, 2, 1, (1.0, 0.5)),
        ("support", "refund", "claude"): CaseStats(2, 0, 2, (), looks=9),  # it could have stopped at 2..10
    }
    assert stats_from_outcomes([]) == {}


def test_stats_from_outcomes_round_trips_through_a_baseline(tmp_path):
    stats = stats_from_outcomes([_outcome("s", "c", "t", n=2, passes=1, errors=0, scores=[1.0, 0.0])])
    write_baseline(tmp_path / "b.json", stats, source="test")
    assert read_baseline(tmp_path / "b.json") == stats
