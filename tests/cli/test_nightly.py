"""``goldband nightly``: the bundled golden sets as a nightly run, then the monitors, in one command."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.store import open_store


@pytest.fixture
def project(demo_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(demo_project)
    return demo_project


def test_nightly_records_a_nightly_run_then_watches_its_series(project: Path) -> None:
    result = CliRunner().invoke(main, ["nightly", "--no-progress", "-p", "no:cacheprovider"])
    assert result.exit_code == 1, result.output  # the bundled golden sets fail some cases on purpose
    out = result.stdout
    assert "goldband nightly: monitors" in out
    assert "support-v1 pass_rate [support]: 1 new run(s)" in out and "no new alerts" in out
    with open_store(project / ".goldband" / "store.db") as store:
        (run,) = store.runs()
        assert run.kind == "nightly" and run.status == "complete"
        assert store.conn.execute("SELECT COUNT(*) FROM monitor_state WHERE scope = 'eval'").fetchone()[0] == 4


@pytest.mark.parametrize("value", ["off", "none", "false", "0"])
def test_a_store_switched_off_is_not_monitored(project: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from goldband.cli.nightly import _monitors

    _monitors(value, "info", 0)  # the values the run's recorder takes for "off"
    assert capsys.readouterr().out == "the store is off: nothing to monitor\n"
    assert not (project / value).exists() and not (project / ".goldband").exists()
