"""What ``goldband monitor check`` prints about a window: never-seen values are named with their share."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from goldband.cli.checktext import Checked, print_check
from goldband.clock import ManualClock
from goldband.config.monitors import EvalMonitorConfig
from goldband.store import open_store
from goldband.watch import ModelMonitorConfig, MonitorsConfig, check, register_reference
from monitorkit import T0, churn_reference, log_rows, phase


def test_a_drifted_feature_with_values_never_seen_in_training_shows_their_share(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = phase(500, "as in training", 5)
    for i, row in enumerate(data):
        row["features"]["monthly_charges"] += 200.0 if i % 4 == 0 else 0.0  # a quarter far above the reference
        row["features"]["payment_method"] = "crypto" if i % 5 == 0 else row["features"]["payment_method"]
    with open_store(tmp_path / "s.db") as store:
        register_reference(store, "churn", churn_reference(tmp_path))
        log_rows(store, data)
        report = check(store, MonitorsConfig(models={"churn": ModelMonitorConfig(window=500)}), include_eval=False,
                       clock=ManualClock(T0), stream=io.StringIO())
    print_check(Checked(report, [], EvalMonitorConfig()))
    out = capsys.readouterr().out
    assert "1 with input drift (" in out
    assert "monthly_charges: 25.0% out of range" in out and "payment_method: 20.0% unseen" in out
