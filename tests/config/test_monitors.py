"""The monitor knobs of goldband.yaml added for issue 11: calendar windows, segments, quality rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldband.config.monitors import ModelMonitorConfig
from goldband.config.project import load_config
from goldband.errors import ConfigError


def load(tmp_path: Path, model: str) -> ModelMonitorConfig:
    (tmp_path / "goldband.yaml").write_text("monitors:\n  models:\n    churn:\n" + model)
    config, _ = load_config(tmp_path)
    return config.monitors.models["churn"]


def test_the_new_knobs_load_with_their_defaults(tmp_path: Path) -> None:
    cfg = load(tmp_path, "      window: 6h\n      segments: [country]\n      quality:\n        infer: true\n"
                         "        rules: {age: {min: 0, max: 120}, plan: {categories: [free, pro, 1]}}\n")
    assert (cfg.window, cfg.window_period, cfg.window_rows, cfg.test_rows) == ("6h", 21600.0, None, 500)
    assert (cfg.window_grace, cfg.min_window_rows, cfg.min_segment_rows) == ("1h", 30, 50)
    assert cfg.quality.rules["age"].max == 120 and cfg.quality.rules["plan"].tolerance == 0
    assert cfg.quality.rules["plan"].categories == ["free", "pro", 1]
    assert load(tmp_path, "      window: 500\n").window_rows == 500


@pytest.mark.parametrize(("model", "line", "found"), [
    ("      window: 1x\n", 4, "1x"),
    ("      window_grace: soon\n", 4, "soon"),
    ("      quality:\n        rules: {age: {min: 5, max: 1}}\n", 5, "min (5) is above max (1)"),
    ("      quality:\n        rules: {age: {maximum: 1}}\n", 5, "maximum"),
    ("      segments: [country, country]\n", 4, "repeated: country"),
])
def test_bad_values_name_the_line(tmp_path: Path, model: str, line: int, found: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, model)
    assert f"goldband.yaml:{line}" in str(info.value) and found in str(info.value)
