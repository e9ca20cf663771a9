"""``goldband nightly``: the bundled golden sets as a nightly run, then the monitors, in one command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.store import open_store


@pytest.fixture
def project(demo_project: Path, store_at: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project with its store at ``store_at`` (an SQLite file or a PostgreSQL URL)."""
    config = demo_project / "goldband.yaml"
    config.write_text(config.read_text().replace("store: .goldband/store.db", f"store: {store_at}"))
    monkeypatch.chdir(demo_project)
    return demo_project


def test_nightly_records_a_nightly_run_then_watches_its_series(project: Path) -> None:
    result = CliRunner().invoke(main, ["nightly", "--no-progress", "-p", "no:cacheprovider"])
    assert result.exit_code == 1, result.output  # the bundled golden sets fail some cases on purpose
    out = result.stdout
    assert "goldband nightly: monitors" in out
    assert "support-v1 pass_rate [support]: 1 new run(s)" in out and "no new alerts" in out
    assert "  drift detector (page_hinkley): warming up (1 of 10 runs seen): no drift verdict yet" in out
    assert "  rule eval-drift (critical, flagged by the monitor): not firing: pass rate not flagged" in out
    assert out.splitlines()[-1] == ("goldband nightly: exit 1: cases failed (FAIL, ERROR or INCONCLUSIVE: see the "
                                    "run above); alerts do not set the exit status (no --fail-on-alert)")
    with open_store(store_of(project)) as store:
        (run,) = store.runs()
        assert run.kind == "nightly" and run.status == "complete"
        assert store.conn.execute("SELECT COUNT(*) FROM monitor_state WHERE scope = 'eval'").fetchone()[0] == 4


def store_of(project: Path) -> str:
    return next(line for line in (project / "goldband.yaml").read_text().splitlines()
                if line.startswith("store: ")).removeprefix("store: ")


@pytest.mark.parametrize("value", ["off", "none", "false", "0"])
def test_a_store_switched_off_is_not_monitored(project: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from goldband.cli.nightly import _monitors

    assert _monitors(value) is None  # the values the run's recorder takes for "off"
    assert capsys.readouterr().out == "the store is off: nothing to monitor\n"
    assert not (project / value).exists() and not (project / ".goldband").exists()


FLOOR = """
alerts:
  rules:
    - {name: pass-rate-floor, source: llm-eval, metric: pass_rate, below: %s, severity: critical}
    - {name: eval-drift, source: llm-eval, severity: critical}
"""


def nightly(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["nightly", "--no-progress", "-p", "no:cacheprovider", *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout[result.stdout.index("goldband nightly: monitors"):].splitlines()


def block(lines: list[str], series: str) -> list[str]:
    """A series' block of the monitors' output: its line and the indented lines under it."""
    start = next(i for i, line in enumerate(lines) if line.startswith(series))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start:end]


def assert_consistent(lines: list[str]) -> None:
    """Each statement names what it is about (the series, a detector, a rule); no bare verdict word."""
    for line in lines[1:]:
        assert line.startswith(("  drift detector (", "    ", "  rule ", "  no alert rule")), line
    assert not re.search(r"\bok\b", "\n".join(lines)), lines


def test_a_floor_alert_on_a_night_with_failed_cases_exits_7_and_says_both(project: Path) -> None:
    with (project / "goldband.yaml").open("a") as f:
        f.write(FLOOR % 0.95)  # support's pass rate is 0.922 in the bundled cassettes
    code, lines = nightly("--fail-on-alert", "warning")
    assert code == 7, lines
    support = block(lines, "support-v1 pass_rate [support]")
    assert_consistent(support)
    assert support == [
        "support-v1 pass_rate [support]: 1 new run(s), last 0.922",
        "  drift detector (page_hinkley): warming up (1 of 10 runs seen): no drift verdict yet",
        "  rule pass-rate-floor (critical, pass rate below 0.95): FIRING: alert #1 opened: pass rate 0.922 is below "
        "0.95",
        "  rule eval-drift (critical, flagged by the monitor): not firing: pass rate not flagged"]
    extract = block(lines, "extract-v1 pass_rate [extract]")
    assert_consistent(extract)
    assert "  rule pass-rate-floor (critical, pass rate below 0.95): not firing: pass rate 0.953 is not below 0.95" \
        in extract
    assert "alert #1 critical [pass-rate-floor]: sent to log" in lines
    assert lines[-1] == ("goldband nightly: exit 7: cases failed (FAIL, ERROR or INCONCLUSIVE: see the run above); "
                         "1 new alert(s) at or above warning fired (#1 critical [pass-rate-floor])")
    code, lines = nightly("--fail-on-alert", "warning")  # the next night: the same incident, not a new alert
    assert code == 1, lines
    support = block(lines, "support-v1 pass_rate [support]")
    assert_consistent(support)
    assert support[2].startswith("  rule pass-rate-floor (critical, pass rate below 0.95): FIRING: alert #1 open "
                                 "since ") and support[2].endswith(": pass rate 0.922 is below 0.95")
    assert "no new alerts" in lines
    assert lines[-1] == ("goldband nightly: exit 1: cases failed (FAIL, ERROR or INCONCLUSIVE: see the run above); "
                         "no new alert at or above warning; 1 still open from an earlier check (#1: goldband "
                         "alerts list)")


def test_an_alert_on_a_night_without_failed_cases_exits_6(project: Path) -> None:
    with (project / "goldband.yaml").open("a") as f:
        f.write(FLOOR % 0.995)  # a demanding floor: these cases pass, 0.992 of their trials
    code, lines = nightly("--fail-on-alert", "critical", "goldensets/extract.yaml",
                          "-k", "not angry-refund and not typo-order-id")
    assert code == 6, lines
    extract = block(lines, "extract-v1 pass_rate [extract]")
    assert_consistent(extract)
    assert extract[2] == ("  rule pass-rate-floor (critical, pass rate below 0.995): FIRING: alert #1 opened: "
                          "pass rate 0.992 is below 0.995")
    assert lines[-1] == ("goldband nightly: exit 6: every case passed its band; 1 new alert(s) at or above critical "
                         "fired (#1 critical [pass-rate-floor])")


def test_failed_cases_without_an_alert_exit_1(project: Path) -> None:
    code, lines = nightly("--fail-on-alert", "info")  # the default rules: nothing drifts on a first night
    assert code == 1, lines
    assert lines[-1] == ("goldband nightly: exit 1: cases failed (FAIL, ERROR or INCONCLUSIVE: see the run above); "
                         "no new alert at or above info")
