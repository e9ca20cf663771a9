"""Set gates in a run (issue 15): ``band: set:`` gates the share of a golden set's cases that PASS, shown in the
terminal, summary.md, report.json and the HTML, kept in the store, and failing the run when it fails."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from goldband.bands.setgate import SetBand
from goldband.golden.goldenset import load as load_goldenset
from goldband.session import setgates
from goldband.store import open_store
from tests.session.test_recorder import at, backend_store, make_project, run, store_of

X = "\u00d7"  # golden set x target, as goldband names a group


def golden(cases: int, *, bad: tuple[int, ...] = (), band: str = "", runs: int = 1, case_band: str = "") -> str:
    """``cases`` cases on the callable ``app`` (a ``bad`` one fails its check), with a set-level ``band``."""
    body = "".join(f"  - id: c{i:02d}\n    input: {{question: q{i}{', bad: true' if i in bad else ''}}}\n"
                   for i in range(cases))
    return (f"name: support\nversion: 1\ntargets: [app]\n{band}defaults:\n  runs: {runs}\n{case_band}"
            f"  checks:\n    - contains: '30 days'\ncases:\n{body}")


def set_band(bar: float, confidence: float = 0.9, extra: str = "") -> str:
    return f"band:\n  set: {{min_pass_rate: {bar}, confidence: {confidence}{extra}}}\n"


def latest(p: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((p.path / "reports" / "latest" / "report.json").read_text())
    return data


def test_a_passing_set_gate_is_shown_everywhere_and_kept_in_the_store(pytester: pytest.Pytester, store_at: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_project(pytester, monkeypatch, golden(12, bad=(3,), band=set_band(0.5)))
    store = backend_store(p, store_at)
    result = run(p, *at(store))
    result.assert_outcomes(passed=11, failed=1)  # the failing case fails its item; the set still passes
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*goldband set gates*", f"set support {X} app: 11/12 cases pass 0.92 [0.70, 0.98] "
                                 ">= 0.5: PASS"])
    gate = latest(p)["groups"][0]["set_gate"]
    assert (gate["status"], gate["cases"], gate["passes"], gate["fails_run"]) == ("PASS", 12, 11, False)
    summary = (p.path / "reports" / "latest" / "summary.md").read_text()
    assert "**Set gates**" in summary
    assert f"| support {X} app | ✅ PASS | 11/12 = 0.92 | [0.70, 0.98] at 0.9 |" in summary
    page = (p.path / "reports" / "latest" / "report.html").read_text()
    assert 'data-set-gate="PASS"' in page and "11/12 cases pass" in page
    with open_store(store, create=False) as db:
        (only,) = db.runs()
        kept = {pt.metric: pt.value for pt in db.series(run_id=only.id) if pt.metric.startswith("set_")}
    assert kept["set_pass_rate"] == pytest.approx(11 / 12) and kept["set_cases"] == 12
    again = subprocess.run([sys.executable, "-m", "goldband", "report", only.id, "--format", "json", "--stdout",
                            "--store", store], capture_output=True, text=True, cwd=p.path, check=True)
    assert json.loads(again.stdout)["groups"][0]["set_gate"] == gate  # re-rendered from the store


def test_a_failing_set_gate_fails_a_run_whose_items_all_pass(pytester: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # 3 runs cannot show a case's 0.8: every case is INCONCLUSIVE, which `warn` lets pass as an item;
    # for the set none of them passes, so the set gate FAILs and fails the run
    case_band = "  band: {min_pass_rate: 0.8}\n"
    p = make_project(pytester, monkeypatch, golden(6, band=set_band(0.9), runs=3, case_band=case_band))
    result = run(p, "--goldband-inconclusive", "warn")
    result.assert_outcomes(passed=6)
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"set support {X} app: 0/6 cases pass 0.00 [0.00, 0.31] >= 0.9: FAIL",
                                 f"*set gate support {X} app FAIL: upper bound 0.311 < min_pass_rate 0.9*(exit*1)*"])
    with open_store(store_of(p), create=False) as store:
        (only,) = store.runs()
    assert (only.status, only.exit_status) == ("complete", 1)
    head = latest(p)
    assert head["verdict"] == "FAIL" and head["groups"][0]["set_gate"]["status"] == "FAIL"


@pytest.mark.parametrize(("extra", "args", "code"), [
    ("", (), 1),  # INCONCLUSIVE fails the run by default
    (", inconclusive: warn", (), 0),  # the set's own policy
    (", inconclusive: warn", ("--goldband-inconclusive", "fail"), 1),  # the option overrides it, as for cases
])
def test_an_inconclusive_set_gate_follows_the_inconclusive_policy(pytester: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch, extra: str,
                                                                   args: tuple[str, ...], code: int) -> None:
    p = make_project(pytester, monkeypatch, golden(5, band=set_band(0.9, 0.95, extra)))
    result = run(p, *args)
    result.assert_outcomes(passed=5)
    assert result.ret == code
    line = f"set support {X} app: 5/5 cases pass 1.00 [0.57, 1.00] >= 0.9: INCONCLUSIVE"
    assert (line if code else f"{line} (warn: does not fail the run)") in result.stdout.lines
    gate = latest(p)["groups"][0]["set_gate"]
    assert gate["status"] == "INCONCLUSIVE" and gate["fails_run"] is bool(code)
    assert "5 cases cannot show >= 0.9 at confidence 0.95: a PASS needs at least 35, all passing" in gate["reason"]
    assert (f"set gate support {X} app INCONCLUSIVE" in result.stdout.str()) is bool(code)  # the alarm line
    assert latest(p)["verdict"] == ("INCONCLUSIVE" if code else "PASS")


def test_a_process_that_loaded_no_golden_set_reads_the_bands_from_the_recorded_files(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, store_at: str) -> None:
    """What an xdist controller (which collects nothing) or a resume from elsewhere does at the finish."""
    p = make_project(pytester, monkeypatch, golden(8, bad=(1, 2, 3, 4, 5), band=set_band(0.9)))
    result = run(p, *at(backend_store(p, store_at)))
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"set support {X} app: 3/8 cases pass 0.38 [0.16, 0.65] >= 0.9: FAIL"])
    with open_store(backend_store(p, store_at), create=False) as store:
        (only,) = store.runs()
        bands, problems = setgates.set_bands(store, only.id, {}, p.path)
        assert (bands, problems) == ({"support": SetBand(0.9)}, [])
        (gate,) = setgates.gates(store, only.id, bands)
        assert (gate.passes, gate.cases, gate.status) == (3, 8, "FAIL")
        assert gate.to_json() == latest(p)["groups"][0]["set_gate"]
        (p.path / "goldensets" / "support.yaml").write_text(golden(8, band=set_band(0.5)))
        bands, problems = setgates.set_bands(store, only.id, {}, p.path)
    assert bands == {} and len(problems) == 1
    assert "set gate of 'support' not computed: goldensets/support.yaml changed since the run used it" in problems[0]


def test_without_a_set_band_nothing_changes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_project(pytester, monkeypatch, golden(3))
    result = run(p)
    assert result.ret == 0 and "set gates" not in result.stdout.str()
    assert latest(p)["groups"][0]["set_gate"] is None
    assert "Set gates" not in (p.path / "reports" / "latest" / "summary.md").read_text()


def test_the_set_band_is_content_and_is_checked_at_load(tmp_path: Path) -> None:
    path = tmp_path / "support.yaml"
    path.write_text(golden(2))
    plain = load_goldenset(path, base_dir=tmp_path)
    path.write_text(golden(2, band=set_band(0.9)))
    gated = load_goldenset(path, base_dir=tmp_path)
    assert plain.set_band is None and gated.set_band is not None and gated.set_band.min_pass_rate == 0.9
    assert gated.content_hash != plain.content_hash  # a set band changes what PASS means: a version bump
    path.write_text(golden(2, band=set_band(0.8)))
    assert load_goldenset(path, base_dir=tmp_path).content_hash != gated.content_hash


@pytest.mark.parametrize(("band", "message"), [
    ("band:\n  set: {min_pass_rate: 1.5}\n", "support.yaml:5*min_pass_rate*"),
    ("band:\n  min_pass_rate: 0.9\n", "support.yaml:5*unknown key 'min_pass_rate'*expected one of: set*"),
    ("band:\n  set: {confidence: 0.9}\n", "support.yaml:5*missing required key 'min_pass_rate'*"),
])
def test_a_bad_set_band_is_a_usage_error_naming_the_line(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                         band: str, message: str) -> None:
    p = make_project(pytester, monkeypatch, golden(2, band=band))
    result = run(p)
    assert result.ret != 0
    assert any(fnmatch_any(line, message) for line in (result.stdout.lines + result.stderr.lines)), \
        result.stdout.str() + result.stderr.str()


def fnmatch_any(line: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatch(line, f"*{pattern}*")


def test_each_set_gate_is_a_junit_testcase(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_project(pytester, monkeypatch, golden(6, band=set_band(0.9), runs=3,
                                                   case_band="  band: {min_pass_rate: 0.8}\n"))
    result = run(p, "--goldband-inconclusive", "warn", "--junitxml=out.xml")
    assert result.ret == 1
    suite = ET.parse(p.path / "out.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("7", "1")
    (case,) = [c for c in suite.iter("testcase") if c.get("name") == "set-gate[app]"]
    assert case.get("classname") == "goldensets.support.yaml.support"
    failure = case.find("failure")
    assert failure is not None and "0/6 cases pass 0.00 [0.00, 0.31] >= 0.9: FAIL" in (failure.get("message") or "")
    props = {e.get("name"): e.get("value") for e in case.iter("property")}
    assert (props["goldband_set_gate"], props["goldband_set_cases"], props["goldband_set_passes"]) == ("FAIL", "6.0",
                                                                                                        "0.0")
    assert props["goldband_run"] == latest(p)["run"]["id"]


def test_without_a_store_the_session_gates_the_set_from_its_own_verdicts(pytester: pytest.Pytester,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_project(pytester, monkeypatch, golden(4, bad=(0, 1, 2), band=set_band(0.9)))
    result = run(p, "--goldband-store", "off")
    assert result.ret == 1 and not store_of(p).exists()
    result.stdout.fnmatch_lines([f"set support {X} app: 1/4 cases pass 0.25 [0.06, 0.64] >= 0.9: FAIL"])


def test_with_cases_report_the_set_alone_gates_its_cases(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """An accuracy gate: 11 of 12 cases pass, the set PASSes at 0.5, and the failing case fails no item."""
    p = make_project(pytester, monkeypatch, golden(12, bad=(3,), band=set_band(0.5, extra=", cases: report")))
    result = run(p, "-v")
    result.assert_outcomes(passed=12)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*support::c03?app? FAIL (the set gates)*",
                                 f"set support {X} app: 11/12 cases pass 0.92 * PASS (cases: report, the set gates *"])
    head = latest(p)
    assert head["verdict"] == "PASS" and head["counts"] == {"PASS": 11, "FAIL": 1}  # the case keeps its verdict
    assert head["groups"][0]["set_gate"]["cases_gate"] is False
    worse = golden(12, bad=tuple(range(10)), band=set_band(0.5, extra=", cases: report"))
    (p.path / "goldensets" / "support.yaml").write_text(worse.replace("version: 1", "version: 2"))
    result = run(p)
    result.assert_outcomes(passed=12)
    assert result.ret == 1 and latest(p)["verdict"] == "FAIL"
