"""Statistical verdicts as users see them in pytest: statuses, policies, budget, baseline, quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

APP = '''
import os, threading
_lock = threading.Lock()
_calls = {}

def answer(inp):
    """Every `bad_every`-th call per question is wrong; BROKEN=1 breaks the `fragile` cases."""
    q = inp["q"]
    with _lock:
        n = _calls[q] = _calls.get(q, 0) + 1
    if os.environ.get("BROKEN") == "1" and inp.get("fragile"):
        return "wrong"
    every = inp.get("bad_every", 0)
    return "wrong" if every and n % every == 0 else "right"
'''

CONFIG = "targets:\n  app:\n    callable: app:answer\n"


def golden(defaults: str, cases: dict[str, str]) -> str:
    body = "".join(f"  - id: {cid}\n    input: {{{inp}}}\n" for cid, inp in cases.items())
    return f"name: s\nversion: 1\ndefaults:\n{defaults}  checks: [{{equals: right}}]\ncases:\n{body}"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", goldband=CONFIG)
    pytester.makepyfile(app=APP)
    pytester.mkdir("goldensets")
    pytester.syspathinsert()
    return pytester


def write(p: pytest.Pytester, text: str) -> None:
    (p.path / "goldensets" / "s.yaml").write_text(text)
    (p.path / "goldensets" / "s.lock").unlink(missing_ok=True)


def run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest("-p", "no:cacheprovider", *args)


ADAPTIVE = "  min_runs: 5\n  max_runs: 20\n  band: {min_pass_rate: 0.8, confidence: 0.9}\n"
CASES = {"solid": "q: a", "shaky": "q: b, bad_every: 5", "broken": "q: c, bad_every: 2"}


def test_each_verdict_has_its_own_label_and_the_summary_counts_them(project: pytest.Pytester) -> None:
    write(project, golden(ADAPTIVE, CASES))
    result = run(project, "-v")
    result.stdout.fnmatch_lines([
        "*s::solid[[]app[]] PASSED*",
        "*s::shaky[[]app[]] INCONCLUSIVE*",
        "*s::broken[[]app[]] FAILED*",
        "*goldband: 1 PASS, 1 FAIL, 1 INCONCLUSIVE*",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "rule    12/12 passed: sequential test favours p >= 0.90 over p <= 0.70" not in out  # passes are quiet
    assert "INCONCLUSIVE s::shaky[app]" in out
    assert "stopped early: the chance of a PASS or FAIL within 20 runs was below futility 0.1" in out


def test_inconclusive_warn_policy_passes_the_run_but_says_so(project: pytest.Pytester) -> None:
    write(project, golden(ADAPTIVE, {"shaky": CASES["shaky"]}))
    result = run(project, "-v", "--goldband-inconclusive", "warn")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*s::shaky[[]app[]] INCONCLUSIVE*",
                                 "goldband: INCONCLUSIVE (not failing the run) s::shaky[[]app[]]: *"])


def test_fixed_runs_that_cannot_pass_the_bar_say_how_many_are_needed(project: pytest.Pytester) -> None:
    write(project, golden("  runs: 5\n  band: {min_pass_rate: 0.8, confidence: 0.9}\n", {"solid": "q: a"}))
    result = run(project)
    result.stdout.fnmatch_lines([
        "INCONCLUSIVE s::solid[[]app[]]*",
        "*rate    5/5 = 1.00, 90% interval [[]0.65, 1.00[]]; bar 0.8",
        "*note    5 runs can never PASS min_pass_rate 0.8 at confidence 0.9: at least 11 are needed*",
    ])


def test_inconclusive_more_spends_more_runs_on_undecided_cases(project: pytest.Pytester) -> None:
    write(project, golden("  runs: 5\n  band: {min_pass_rate: 0.8, confidence: 0.9, inconclusive: more}\n",
                          {"solid": "q: a"}))
    result = run(project)
    result.stdout.fnmatch_lines(["*goldband: 1 PASS · 12 trials*"])  # 5 runs could not decide; 12 could


def test_budget_in_calls_stops_adaptive_repeats_and_is_reported(project: pytest.Pytester) -> None:
    write(project, golden(ADAPTIVE, {"solid": "q: a", "solid2": "q: d"}))
    result = run(project, "--goldband-budget", "14", "--goldband-mode", "live")
    out = result.stdout.str()
    assert "goldband budget 14 calls: spent 14 calls" in out
    assert "stopped after" in out and "the run's budget is spent" in out
    result.stdout.fnmatch_lines(["*14 trials*"])


def test_errors_beyond_max_error_rate_are_error_verdicts(project: pytest.Pytester) -> None:
    project.makepyfile(app="def answer(inp):\n    raise RuntimeError('down')\n")
    write(project, golden("  runs: 3\n", {"c": "q: a"}))
    result = run(project, "-v")
    result.stdout.fnmatch_lines(["*s::c[[]app[]] ERROR*", "*3 of 3 trials errored (max_error_rate 0)*"])


@pytest.mark.parametrize(("band", "message"), [
    ("  band: {min_pass_rate: 1.5}\n",
     "goldensets/s.yaml:4: defaults.band.min_pass_rate: 1.5 is greater than the maximum of 1.0"),
    ("  band: {confidence: 1}\n",
     "goldensets/s.yaml:4: defaults.band.confidence: 1 is greater than or equal to the maximum of 1.0"),
    ("  min_runs: 10\n  max_runs: 5\n", "goldensets/s.yaml:8: case 'c': max_runs 5 is below min_runs 10"),
    ("  runs: 5\n  min_runs: 3\n", "give 'runs' (fixed) or 'min_runs'/'max_runs' (adaptive), not both"),
])
def test_impossible_band_settings_are_collection_errors(project: pytest.Pytester, band: str, message: str) -> None:
    write(project, golden(band, {"c": "q: a"}))
    result = run(project)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert message in result.stdout.str()


def test_band_option_is_validated_with_a_clear_message(project: pytest.Pytester) -> None:
    write(project, golden("  runs: 2\n", {"c": "q: a"}))
    result = run(project, "--goldband-band", "min_pass_rate=2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--goldband-band: min_pass_rate: Input should be less than or equal to 1*"])
    result = run(project, "--goldband-band", "confidence")
    result.stderr.fnmatch_lines(["*--goldband-band: expected key=value pairs separated by commas*"])


def baseline_file(path: Path, passes: dict[str, int], n: int = 20) -> None:
    rows = [{"goldenset": "s", "case": c, "target": "app", "n": n, "passes": k, "errors": 0, "scores": []}
            for c, k in passes.items()]
    path.write_text(json.dumps({"goldband_baseline": 1, "source": "test", "cases": rows}))


FIXED = "  runs: 20\n  band: {min_pass_rate: 0.5}\n"
BASE_CASES = {"a": "q: a, fragile: true", "b": "q: b", "c": "q: c", "d": "q: d"}


def test_a_significant_regression_against_the_baseline_fails_the_run(project: pytest.Pytester,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, golden(FIXED, BASE_CASES))
    baseline_file(project.path / "base.json", {"a": 20, "b": 20, "c": 20, "d": 20})
    monkeypatch.setenv("BROKEN", "1")
    result = run(project, "--goldband-baseline", "base.json", "--junitxml=out.xml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["goldband compare: baseline file base.json -> run *",
                                 "4 cases: 1 regressed, 3 not significant", "*s::a*20/20 (1.00)*0/20 (0.00)*regressed"])


def test_no_regression_against_the_baseline_passes(project: pytest.Pytester) -> None:
    write(project, golden(FIXED, BASE_CASES))
    baseline_file(project.path / "base.json", {"a": 20, "b": 19, "c": 20, "d": 18, "gone": 20})
    result = run(project, "--goldband-baseline", "base.json", "--deselect", "goldensets/s.yaml::s::d[app]")
    assert result.ret == pytest.ExitCode.OK
    out = result.stdout.str()
    assert "4 cases: 1 removed, 3 not significant" in out  # 'gone' left the golden set
    assert "s::d " not in out  # deselected, so neither compared nor 'removed'
    assert "s::gone  app     20/20 (1.00)  -" in out


def test_a_missing_baseline_stops_before_any_call(project: pytest.Pytester) -> None:
    write(project, golden(FIXED, BASE_CASES))
    result = run(project, "--goldband-baseline", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--goldband-baseline*"])
    assert "Traceback" not in result.stderr.str()


def test_a_case_that_flips_between_runs_is_quarantined(project: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = "  runs: 3\n  band: {quarantine: {window: 4, max_flip_rate: 0.5}}\n"
    write(project, golden(defaults, {"flip": "q: a, fragile: true", "steady": "q: b"}))
    for broken in ("0", "1", "0", "1"):
        monkeypatch.setenv("BROKEN", broken)
        run(project)
    monkeypatch.setenv("BROKEN", "1")
    result = run(project, "-v")
    result.stdout.fnmatch_lines(["*s::flip[[]app[]] QUARANTINED (not gating)*", "*s::steady[[]app[]] PASSED*",
                                 "*goldband: 1 PASS, 1 QUARANTINED*"])
    assert result.ret == pytest.ExitCode.OK
    assert "flipped between PASS and not-PASS 3 times in the last 4 runs" in result.stdout.str()
