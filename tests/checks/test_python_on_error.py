"""``python`` check ``on_error``: an exception in the user's check is an error (default) or a fail.

Unit level through ``build_check`` and ``run`` as golden sets build checks, then a real pytest run
(pytester) showing where the trial lands: outside the rate (ERROR) or in it as a failure.
"""

from __future__ import annotations

import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from goldband.checks import CheckContext, build_check
from goldband.checks.base import known_names
from goldband.errors import ConfigError
from goldband.results import Completion, Score, Trial

WHERE = "goldensets/s.yaml:3: case 'c1'"

CHECKS = '''
import json

def parses(output, ctx):
    return json.loads(output)["ok"] is True
'''


@pytest.fixture
def checks_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"gb_on_error_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(CHECKS, encoding="utf-8")
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield name
    sys.modules.pop(name, None)


def score(entry: dict[str, object], output: str, base_dir: Path) -> Score:
    check = build_check(entry, WHERE, base_dir)
    trial = Trial("c1", "app", 0, Completion(output))
    return check.run(CheckContext(trial, base_dir=base_dir))


def test_default_is_an_error_score(checks_module: str, tmp_path: Path) -> None:
    found = score({"python": f"{checks_module}:parses"}, "not json", tmp_path)
    assert (found.outcome, found.score) == ("error", 0.0)
    assert found.detail.startswith("JSONDecodeError: Expecting value")


def test_on_error_fail_is_a_fail_naming_the_exception(checks_module: str, tmp_path: Path) -> None:
    entry = {"python": f"{checks_module}:parses", "on_error": "fail"}
    found = score(entry, "not json", tmp_path)
    assert (found.outcome, found.score) == ("fail", 0.0)
    assert found.detail.startswith("raised JSONDecodeError: Expecting value")
    assert found.detail.endswith("(on_error: fail)")
    assert score(entry, '{"ok": true}', tmp_path).outcome == "pass"  # no exception: scored as usual


def test_on_error_fail_still_errors_on_a_wrong_return_type(tmp_path: Path, checks_module: str) -> None:
    """A wrong return type is the check author's bug, not the model's failure: it stays an error."""
    (tmp_path / f"{checks_module}.py").write_text("def parses(output, ctx):\n    return 'yes'\n")
    found = score({"python": f"{checks_module}:parses", "on_error": "fail"}, "x", tmp_path)
    assert found.outcome == "error" and "returned str" in found.detail


def test_unknown_on_error_value_is_a_config_error(checks_module: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_check({"python": f"{checks_module}:parses", "on_error": "skip"}, WHERE, tmp_path)
    message = str(info.value)
    assert message.startswith(f"{WHERE}: check 'python': parameter 'on_error'")
    assert "'error' or 'fail'" in message and "found \"skip\"" in message


@pytest.fixture(autouse=True)
def _families_loaded() -> None:
    """Load every check family before pytester snapshots sys.modules: a family imported inside an
    in-process run is dropped at its end and would register its checks twice in the next run."""
    known_names()


# --- as a run sees it -------------------------------------------------------------------------------

APP = '''
import itertools, threading
_count = itertools.count()
_lock = threading.Lock()

def answer(inp):
    """Every fifth answer is not JSON."""
    with _lock:
        n = next(_count)
    return "sorry, no JSON today" if n % 5 == 4 else '{"ok": true}'
'''

SET = """
name: s
version: 1
defaults: {{runs: 5, band: {{min_pass_rate: 0.5, confidence: 0.9}}}}
cases:
  - id: c1
    input: {{question: q}}
    checks:
      - python: checks:parses{option}
"""


def run_set(pytester: pytest.Pytester, option: str) -> dict[str, str]:
    pytester.makefile(".yaml", goldband="targets:\n  app:\n    callable: app:answer\n")
    pytester.makepyfile(app=APP, checks=CHECKS)
    pytester.mkdir("goldensets")
    (pytester.path / "goldensets" / "s.yaml").write_text(SET.format(option=option))
    pytester.syspathinsert()
    pytester.runpytest("-p", "no:randomly", "--junitxml=out.xml", "--goldband-concurrency", "1")
    case = ET.parse(pytester.path / "out.xml").getroot().find(".//testcase")
    assert case is not None
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def test_default_run_drops_the_trial_from_the_rate(pytester: pytest.Pytester) -> None:
    props = run_set(pytester, "")
    assert (props["goldband_verdict"], props["goldband_n"]) == ("ERROR", "5")
    assert (props["goldband_passes"], props["goldband_errors"]) == ("4", "1")


def test_on_error_fail_counts_the_trial_as_a_failure(pytester: pytest.Pytester) -> None:
    props = run_set(pytester, "\n        on_error: fail")
    assert (props["goldband_n"], props["goldband_passes"], props["goldband_errors"]) == ("5", "4", "0")
    assert props["goldband_pass_rate"] == "0.8000"  # 4/5, not 4/4


def test_the_rate_line_shows_errored_trials(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", goldband="targets:\n  app:\n    callable: app:answer\n")
    pytester.makepyfile(app="import itertools\n_n = itertools.count()\n"
                            "def answer(inp):\n    return 'x' if next(_n) % 5 == 4 else '{\"ok\": true}'\n",
                        checks="import json\ndef parses(output, ctx):\n    return json.loads(output)['ok']\n")
    pytester.mkdir("goldensets")
    (pytester.path / "goldensets" / "s.yaml").write_text(
        "name: s\nversion: 1\ndefaults: {runs: 5, band: {min_pass_rate: 0.5, confidence: 0.9}}\n"
        "cases:\n  - id: c1\n    input: {q: q}\n    checks: [{python: 'checks:parses'}]\n")
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:randomly", "--goldband-concurrency", "1")
    result.stdout.fnmatch_lines(
        ["*rate    4/4 = 1.00, 90% interval [[]0.*]; bar 0.5; 1 errored trial not in the rate*"])
