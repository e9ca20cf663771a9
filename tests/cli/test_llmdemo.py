"""``goldband monitor demo --llm``: the whole production loop on the illustrative traces, offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.cli.llmdemo import run_llm_demo
from goldband.store import open_store


def assert_the_story(out: str, folder: Path, store: str | Path) -> None:
    """The silent change is found (three drifted windows, one alert) and the golden set grows by three cases."""
    assert "stored 700 of 700 traces" in out and "stored 60 of 60 feedback" in out
    assert "v3 window 5 (100 traces" in out and "refusal_rate 0.22" in out and "output drift: output_length" in out
    assert "support: version 3 -> 4, added 3 case(s)" in out
    assert "where they came from: hand-written 9 (60%), production 5 (33%), failure 1 (7%)" in out
    with open_store(store) as opened:
        conn = opened.conn
        drifted = conn.execute("SELECT COUNT(*) FROM drift_events WHERE detector = 'output-drift'").fetchone()[0]
        assert drifted == 3  # windows 5-7, after the change; none of windows 3-4 before it
        assert [tuple(r) for r in conn.execute("SELECT rule FROM alerts").fetchall()] == [("llm-production",)]
    assert "version: 4" in (folder / "goldensets" / "support.yaml").read_text()


def test_the_llm_demo_detects_the_silent_change_and_grows_the_golden_set(tmp_path: Path) -> None:
    """The command as a newcomer runs it: its store is .goldband/store.db in the demo's folder (SQLite)."""
    result = CliRunner().invoke(main, ["monitor", "demo", "--llm", "--dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert_the_story(result.output, tmp_path / "d", tmp_path / "d" / ".goldband" / "store.db")


def test_the_llm_demo_tells_the_same_story_on_postgresql(tmp_path: Path, postgres_url: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    said: list[str] = []
    folder = run_llm_demo(tmp_path / "d", said.append, store=postgres_url)
    assert_the_story("\n".join(said) + capsys.readouterr().out, folder, postgres_url)  # the commands print too
