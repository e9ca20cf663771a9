"""``goldband monitor demo --llm``: the whole production loop on the illustrative traces, offline."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from goldband.cli import main


def test_the_llm_demo_detects_the_silent_change_and_grows_the_golden_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["monitor", "demo", "--llm", "--dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "stored 700 of 700 traces" in out and "stored 60 of 60 feedback" in out
    assert "v3 window 5 (100 traces" in out and "refusal_rate 0.22" in out and "output drift: output_length" in out
    assert "support: version 3 -> 4, added 3 case(s)" in out
    assert "where they came from: hand-written 9 (60%), production 5 (33%), failure 1 (7%)" in out
    conn = sqlite3.connect(tmp_path / "d" / ".goldband" / "store.db")
    drifted = conn.execute("SELECT COUNT(*) FROM drift_events WHERE detector = 'output-drift'").fetchone()[0]
    assert drifted == 3  # windows 5-7, after the change; none of windows 3-4 before it
    assert conn.execute("SELECT rule FROM alerts").fetchall() == [("llm-production",)]
    assert "version: 4" in (tmp_path / "d" / "goldensets" / "support.yaml").read_text()
