"""The reference-too-small warning: at registration (``goldband monitor reference``) and in the status."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.config.monitors import ModelMonitorConfig
from goldband.store import open_store
from goldband.watch import MonitorsConfig, register_reference, status
from goldband.watch.sizing import size_warning
from monitorkit import churn_reference, log_rows, phase


def test_a_small_reference_is_warned_about_at_registration_and_in_the_status(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_at: str) -> None:
    monkeypatch.chdir(tmp_path)
    churn_reference(tmp_path, n=171)
    result = CliRunner().invoke(main, ["monitor", "reference", "churn", "churn_reference.csv", "--store", store_at])
    assert result.exit_code == 0, result.output
    assert "warning: the reference has 171 rows;" in result.stderr and "needs at least" in result.stderr
    with open_store(store_at) as store:
        log_rows(store, phase(500, "as in training", 3))
        model = status(store).models[0]
        assert model.reference is not None and "171 rows" in model.reference["warning"]
        assert "WARNING    the reference has 171 rows" in status(store).render()
        assert status(store, MonitorsConfig(models={"churn": ModelMonitorConfig(min_effect=0.3)})).models[0] \
            .reference["warning"] is None  # a larger minimum effect needs fewer rows


def test_a_large_enough_reference_gets_no_warning(tmp_path: Path, store_at: str) -> None:
    with open_store(store_at) as store:
        register_reference(store, "churn", churn_reference(tmp_path, n=3000))
        log_rows(store, phase(500, "as in training", 3))
        assert status(store).models[0].reference["warning"] is None


def test_the_warning_names_the_feature_and_a_window_too_small_for_any_reference() -> None:
    cfg = ModelMonitorConfig()
    text = size_warning(400, {"age": "numeric", "plan": "categorical"}, {"plan": 10}, cfg, 500)
    assert text is not None and "feature 'plan' (chi2, window 500, min_effect 0.1) needs at least 1,065" in text
    assert "the predicted classes" in (size_warning(1000, {"age": "numeric"}, {}, cfg, 500, classes=30) or "")
    tiny = size_warning(10**6, {"age": "numeric"}, {}, cfg, 40)
    assert tiny is not None and "a window of 40 is too small for ks" in tiny
