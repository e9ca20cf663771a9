"""``goldband nightly``: the bundled golden sets as a nightly run, then the monitors, in one command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.store import open_store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("goldensets", "prompts", "schemas", "cassettes", "rubrics"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "goldband.yaml", tmp_path / "goldband.yaml")
    monkeypatch.chdir(tmp_path)
    for name in ("CI", "GOLDBAND_STORE", "GOLDBAND_REPORT", "GOLDBAND_KIND", "GOLDBAND_RESUME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


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
