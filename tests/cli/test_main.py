"""The ``goldband`` command, through click's runner and as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from goldband.cli import main


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for name in [None, *main.commands]:
        result = runner.invoke(main, [name, "--help"] if name else ["--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


def test_schema_is_the_golden_set_json_schema() -> None:
    import json

    result = CliRunner().invoke(main, ["schema"])
    schema = json.loads(result.output)
    assert schema["title"] == "goldband golden set"
    assert {"name", "version", "cases"} <= set(schema["required"])


@pytest.fixture
def demo(demo_project: Path) -> Path:
    return demo_project


def test_goldband_run_replays_the_bundled_demo_offline(demo: Path) -> None:
    # The `goldband` command as users type it: a process of its own.
    out = subprocess.run([sys.executable, "-m", "goldband", "run", "-p", "no:cacheprovider"],
                         cwd=demo, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr  # the demo has failing cases on purpose
    assert "goldband: 19 PASS (3 flaky), 2 FAIL, 2 INCONCLUSIVE, 1 ERROR · 305 trials, 305 replayed" in out.stdout
    assert "goldband judge: 107 rubric scores, 1 errored (1%, limit 10%)" in out.stdout  # the demo's judge error:
    assert "rubric factual-accuracy: judge error: the judge's reply contains no JSON object; evidence: " \
           "'The answer gets the delivery time right" in out.stdout  # shown with its evidence
    assert "5 failed, 19 passed" in out.stdout


def test_goldband_run_passes_options_to_pytest(demo: Path) -> None:
    # The `goldband` command as users type it: a process of its own.
    out = subprocess.run([sys.executable, "-m", "goldband", "run", "--runs", "2", "-k", "refund-window"],
                         cwd=demo, capture_output=True, text=True, timeout=120)
    assert "1 INCONCLUSIVE · 2 trials, 2 replayed" in out.stdout, out.stdout


def test_live_mode_without_the_key_is_one_usage_error(demo: Path, monkeypatch: pytest.MonkeyPatch,
                                                     pytester: pytest.Pytester) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(demo)
    out = pytester.runpytest("goldensets", "--goldband-mode", "live")
    assert out.ret == pytest.ExitCode.USAGE_ERROR
    assert ("target 'extract-v1' (api_key_env): environment variable OPENAI_API_KEY is not set; "
            "expected the API key in OPENAI_API_KEY for --goldband-mode live; "
            "fix: export OPENAI_API_KEY=..., or run offline with --goldband-mode replay") in out.stderr.str()
    assert "Traceback" not in out.stderr.str()
