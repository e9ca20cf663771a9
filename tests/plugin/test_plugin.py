"""The plugin as users run it: real pytest runs in a temporary project (pytester)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.filterwarnings("error")

APP = '''
import threading, time, json, os
_lock = threading.Lock()
_seen = {}
_inflight = [0, 0]

def answer(inp):
    """Per case, every `bad_every`-th call answers badly (deterministic counts per batch)."""
    q = inp["question"]
    with _lock:
        n = _seen[q] = _seen.get(q, 0) + 1
    bad_every = inp.get("bad_every", 0)
    bad = bad_every and n % bad_every == 0
    return f"No idea about {q}" if bad else f"Returns are accepted within 30 days. ({q})"

def slow(inp):
    with _lock:
        _inflight[0] += 1
        _inflight[1] = max(_inflight[1], _inflight[0])
    time.sleep(0.05)
    with _lock:
        _inflight[0] -= 1
        path = os.environ["INFLIGHT_LOG"]
        with open(path, "w") as f:
            f.write(str(_inflight[1]))
    return "ok"

def boom(inp):
    raise RuntimeError("app crashed")
'''

CONFIG = """
targets:
  app:
    callable: app:answer
  slow:
    callable: app:slow
  boom:
    callable: app:boom
"""

SUPPORT = """
name: support
version: 1
targets: [app]
defaults:
  min_runs: 5
  max_runs: 20
  band: {min_pass_rate: 0.8, confidence: 0.9}
  checks:
    - not_contains: "As an AI"
cases:
  - id: refund-window
    input: {question: "Can I return shoes after 40 days?"}
    tags: [policy]
    checks:
      - contains: "30 days"
  - id: flaky-ok
    input: {question: "q2", bad_every: 10}
    tags: [policy, flaky]
    checks:
      - contains: "30 days"
  - id: mostly-wrong
    input: {question: "q3", bad_every: 2}
    checks:
      - contains: "30 days"
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", goldband=CONFIG)
    pytester.makepyfile(app=APP)
    pytester.mkdir("goldensets")
    (pytester.path / "goldensets" / "support.yaml").write_text(SUPPORT)
    pytester.syspathinsert()
    return pytester


def run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest("-p", "no:randomly", *args)


def test_items_are_named_by_set_case_and_target(project: pytest.Pytester) -> None:
    result = run(project, "--collect-only", "-q")
    result.stdout.fnmatch_lines([
        "goldensets/support.yaml::support::refund-window[[]app[]]",
        "goldensets/support.yaml::support::flaky-ok[[]app[]]",
        "goldensets/support.yaml::support::mostly-wrong[[]app[]]",
    ])


def test_verdicts_follow_the_band(project: pytest.Pytester) -> None:
    result = run(project, "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*refund-window*PASSED*",
        "*flaky-ok*PASSED*",
        "*mostly-wrong*FAILED*",
        "*goldband: 2 PASS (1 flaky), 1 FAIL · 38 trials*",
    ])


def test_failure_shows_a_domain_table_not_a_traceback(project: pytest.Pytester) -> None:
    result = run(project, "-k", "mostly")
    out = result.stdout.str()
    assert "FAIL support::mostly-wrong[app]  (goldensets/support.yaml:" in out
    assert "rule    4/8 passed: sequential test favours p <= 0.70 over p >= 0.90" in out
    assert "rate    4/8 = 0.50, 90% interval [0.25, 0.75]; bar 0.8" in out
    assert "x contains \"30 days\": not found: '30 days'" in out
    assert "No idea about q3" in out
    assert re.search(r'contains "30 days"\s+4/8 pass', out)
    assert "Traceback" not in out and "goldband/collect.py" not in out


def test_failure_points_at_the_case_line(project: pytest.Pytester) -> None:
    result = run(project, "-k", "mostly", "-rf")
    line = SUPPORT.splitlines().index("  - id: mostly-wrong") + 1
    assert f"goldensets/support.yaml:{line}" in result.stdout.str()


def test_tags_are_registered_markers(project: pytest.Pytester) -> None:
    result = run(project, "-m", "flaky", "--strict-markers", "-W", "error")
    result.assert_outcomes(passed=1, deselected=2)


def test_k_and_x_and_lf(project: pytest.Pytester) -> None:
    run(project, "-k", "refund").assert_outcomes(passed=1, deselected=2)
    run(project, "-x", "-p", "no:randomly").assert_outcomes(passed=2, failed=1)
    result = run(project, "--lf")
    result.assert_outcomes(failed=1, deselected=2)


def test_runs_option_and_env_override_the_golden_set(project: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(project, "--goldband-runs", "2", "-k", "refund")
    result.stdout.fnmatch_lines(["*goldband: 1 INCONCLUSIVE · 2 trials*"])  # 2 runs cannot show >= 0.8
    monkeypatch.setenv("GOLDBAND_RUNS", "3")
    run(project, "-k", "refund").stdout.fnmatch_lines(["*goldband: 1 INCONCLUSIVE · 3 trials*"])
    run(project, "-k", "refund", "--goldband-runs", "1").stdout.fnmatch_lines(["*1 trials*"])


def test_bad_option_values_are_usage_errors(project: pytest.Pytester) -> None:
    result = run(project, "--goldband-runs", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--goldband-runs: expected a whole number >= 1, found 0*"])
    result = run(project, "--goldband-target", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--goldband-target: unknown target 'nope'; expected one of: app, boom, slow*"])


def test_target_option_selects_targets(project: pytest.Pytester) -> None:
    gs = project.path / "goldensets" / "multi.yaml"
    gs.write_text("name: multi\nversion: 1\ntargets: [app, slow]\ncases:\n"
                  "  - id: c1\n    input: {question: q}\n    checks: [{length: {min: 1}}]\n")
    result = run(project, "--collect-only", "-q", "--goldband-target", "slow")
    result.stdout.fnmatch_lines(["goldensets/multi.yaml::multi::c1[[]slow[]]", "*1 test collected*"])


def test_errors_are_an_outcome_not_a_pass(project: pytest.Pytester) -> None:
    (project.path / "goldensets" / "crash.yaml").write_text(
        "name: crash\nversion: 1\ntargets: [boom]\ndefaults: {runs: 3}\ncases:\n"
        "  - id: c1\n    input: {question: q}\n    checks: [{not_contains: x}]\n")
    result = run(project, "goldensets/crash.yaml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["ERROR crash::c1[[]boom[]]*", "*3 of 3 trials errored (max_error_rate 0)*",
                                 "*! callable: RuntimeError: app crashed*"])


def test_trials_of_all_items_run_concurrently(project: pytest.Pytester,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    log = project.path / "inflight.txt"
    cases = "".join(f"  - id: c{i}\n    input: {{question: q{i}}}\n" for i in range(10))
    (project.path / "goldensets" / "slow.yaml").write_text(
        "name: slowset\nversion: 1\ntargets: [slow]\ndefaults:\n  runs: 3\n  checks: [{equals: ok}]\n"
        f"cases:\n{cases}")
    monkeypatch.setenv("INFLIGHT_LOG", str(log))
    result = run(project, "goldensets/slow.yaml", "--goldband-concurrency", "8")
    result.assert_outcomes(passed=10)
    peak = int(log.read_text())
    assert 2 <= peak <= 8, f"peak in-flight calls {peak}: items must overlap, within the limit"


def test_junit_xml_carries_verdict_properties(project: pytest.Pytester) -> None:
    run(project, "--junitxml=out.xml", "-k", "mostly")
    tree = ET.parse(project.path / "out.xml")
    props = {p.get("name"): p.get("value") for p in tree.iter("property")}
    assert props["goldband_verdict"] == "FAIL"
    assert props["goldband_pass_rate"] == "0.5000"
    assert props["goldband_pass_rate_low"] == "0.2486"
    assert props["goldband_n"] == "8"


def test_bad_golden_set_is_one_collection_error(project: pytest.Pytester) -> None:
    (project.path / "goldensets" / "bad.yaml").write_text(textwrap.dedent("""\
        name: bad
        version: 1
        cases:
          - id: c1
            input: {question: q}
            checks:
              - contians: "x"
        """))
    result = run(project)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str()
    assert "goldensets/bad.yaml:7: case 'c1': unknown check 'contians'" in out
    assert "did you mean 'contains'" in out
    assert "Traceback" not in out


def test_missing_template_variable_names_case_and_target(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", goldband="targets:\n  t:\n    model: openai/x\n    prompt: p.j2\n")
    pytester.makefile(".j2", p="Q: {{ question }} {{ context }}")
    pytester.mkdir("goldensets")
    (pytester.path / "goldensets" / "s.yaml").write_text(
        "name: s\nversion: 1\ncases:\n  - id: c1\n    input: {question: q}\n")
    result = run(pytester, "--goldband-mode", "replay")
    out = result.stdout.str()
    assert "goldensets/s.yaml:4: case 'c1'" in out
    assert "needs a variable the case does not give: context (the template reads context, question; " \
           "the case gives question)" in out and "target 't'" in out


def test_bad_config_is_a_usage_error_without_traceback(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", goldband="targets:\n  t:\n    model: openai/x\n    temprature: 0.2\n")
    pytester.mkdir("goldensets")
    (pytester.path / "goldensets" / "s.yaml").write_text("name: s\nversion: 1\ncases: []\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*goldband.yaml:4: unknown key 'temprature'*"])
    assert "Traceback" not in result.stderr.str()


def test_version_lock_stops_an_unbumped_change(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")  # strict in CI; locally the change runs as a draft (tests/session/test_draft.py)
    run(project, "--collect-only")
    assert (project.path / "goldensets" / "support.lock").exists()
    path = project.path / "goldensets" / "support.yaml"
    path.write_text(SUPPORT.replace("q3", "q4"))
    result = run(project, "--collect-only")
    result.stdout.fnmatch_lines(["*goldensets/support.yaml:3: golden set 'support' changed but its version is still 1"
                                 "*bump 'version' (e.g. to 2)*"])
    path.write_text(SUPPORT.replace("q3", "q4").replace("version: 1", "version: 2"))
    run(project, "--collect-only").assert_outcomes()


def test_replay_miss_is_an_error_naming_case_target_and_sample(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", goldband="mode: replay\ntargets:\n  t:\n    model: openai/x\n    prompt: p.j2\n")
    pytester.makefile(".j2", p="Q: {{ question }}")
    pytester.mkdir("goldensets")
    (pytester.path / "goldensets" / "s.yaml").write_text(
        "name: s\nversion: 1\ndefaults: {runs: 2}\ncases:\n  - id: c1\n    input: {question: q}\n"
        "    checks: [{contains: a}]\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "ERROR s::c1[[]t[]]*",
        "*replay: no cassette entry for case 'c1', target 't', sample 0 in *cassettes/s/t.jsonl"
        "*--goldband-mode record*",
    ])


def test_plugin_import_stays_light() -> None:
    code = ("import sys, goldband.plugin; heavy = ('litellm','openai','numpy','scipy','jsonschema','pydantic',"
            "'jinja2','yaml'); print(json.dumps([m for m in heavy if m in sys.modules]))")
    # A fresh interpreter: in this process the heavy modules are loaded already.
    out = subprocess.run([sys.executable, "-c", "import json;" + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_projects_without_golden_sets_load_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="""
        import sys
        def test_light():
            heavy = ('litellm','openai','numpy','scipy','jsonschema','pydantic')
            assert [m for m in heavy if m in sys.modules] == []
    """)
    # A fresh interpreter: in this process the heavy modules are loaded already.
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=1)
