"""Calendar windows (``window: 1d``): aligned to UTC midnight, tested after their end plus grace, empty days
recorded, too-small days not tested, resumable after a crash, late rows counted."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from goldband.alerts.engine import AlertEngine
from goldband.clock import ManualClock
from goldband.config.project import load_config
from goldband.errors import ConfigError
from goldband.store import Store, open_store
from goldband.watch import ModelMonitorConfig, MonitorsConfig, check, register_reference
from goldband.watch.db import issues
from monitorkit import T0, churn_reference, log_rows, phase

DAY = timedelta(days=1)


def monitors(**changes: Any) -> MonitorsConfig:
    return MonitorsConfig(models={"churn": ModelMonitorConfig(**{"window": "1d", **changes})})


def store_with_days(folder: Path, at: str, days: dict[int, int], *, seed: int = 5) -> str:
    """A store at ``at`` whose day ``d`` (from Monday 2026-03-02) holds ``days[d]`` predictions, spread over 20
    hours; the reference CSV goes in ``folder``."""
    path = at
    with open_store(path) as store:
        register_reference(store, "churn", churn_reference(folder), version="1")
        for day, n in days.items():
            log_rows(store, phase(n, "as in training", seed + day), start=T0 + day * DAY, step_s=72000 / n,
                     prefix=f"d{day}-")
    return path


def run(store: Store, at: timedelta, cfg: MonitorsConfig | None = None, **kw: Any) -> Any:
    return check(store, cfg or monitors(), include_eval=False, clock=ManualClock(T0 + at), stream=io.StringIO(),
                 **kw)


def windows(store: Store) -> list[tuple[Any, ...]]:
    return store.conn.execute(f'SELECT "window", start_time, end_time, rows, {store.json_text("results", "status")} '
                              'FROM monitor_windows ORDER BY "window"').fetchall()


def test_days_are_windows_and_an_empty_day_is_recorded_not_skipped(tmp_path: Path, store_at: str) -> None:
    path = store_with_days(tmp_path, store_at, {0: 300, 2: 300, 3: 300})
    with open_store(path) as store:
        report = run(store, 4 * DAY + timedelta(hours=2))
        found = windows(store)
        counted = {i["kind"]: i for i in issues(store.conn, "churn")}
    assert [(w[1][:10], w[2][:10], w[3], w[4]) for w in found] == [
        ("2026-03-02", "2026-03-03", 300, "tested"), ("2026-03-03", "2026-03-04", 0, "empty"),
        ("2026-03-04", "2026-03-05", 300, "tested"), ("2026-03-05", "2026-03-06", 300, "tested")]
    assert found[0][1] == "2026-03-02T00:00:00.000+00:00"  # aligned to UTC midnight
    summaries = [w.summary for w in report.models[0].windows]
    assert summaries[1] == "churn v1 window 2026-03-03 has no predictions"
    assert counted["empty_window"]["count"] == 1 and "2026-03-03" in counted["empty_window"]["example"]
    assert sum(w.rows for w in report.models[0].windows) == 900  # nothing lost
    assert not any(w.input_drifted for w in report.models[0].windows)


def test_a_window_waits_for_its_grace_and_takes_late_logged_rows(tmp_path: Path, store_at: str) -> None:
    path = store_with_days(tmp_path, store_at, {0: 300})
    with open_store(path) as store:
        assert run(store, DAY + timedelta(minutes=30)).models[0].windows == []  # within the 1h grace
        log_rows(store, phase(5, "as in training", 9), start=T0 + timedelta(hours=23), step_s=60, prefix="late-")
        first = run(store, DAY + timedelta(hours=1, minutes=1)).models[0]
        assert [(w.rows, w.status) for w in first.windows] == [(305, "tested")]
        log_rows(store, phase(3, "as in training", 10), start=T0 + timedelta(hours=12), step_s=60, prefix="later-")
        second = run(store, DAY + timedelta(hours=3)).models[0]
    assert second.windows == [] and second.late_predictions == 3


def test_a_day_with_too_few_predictions_is_recorded_as_too_small(tmp_path: Path, store_at: str) -> None:
    path = store_with_days(tmp_path, store_at, {0: 300, 1: 12})
    with open_store(path) as store:
        report = run(store, 2 * DAY + timedelta(hours=2)).models[0]
        kinds = {i["kind"] for i in issues(store.conn, "churn")}
    small = report.windows[1]
    assert (small.status, small.rows, small.input_drifted) == ("too_small", 12, False)
    assert "12 predictions, too few to test (min_window_rows: 30)" in small.summary
    assert "small_window" in kinds


def test_a_second_check_tests_only_new_periods(tmp_path: Path, store_at: str) -> None:
    path = store_with_days(tmp_path, store_at, {0: 300, 1: 300, 2: 300})
    with open_store(path) as store:
        assert [w.window for w in run(store, 2 * DAY + timedelta(hours=2)).models[0].windows] == [1, 2]
        later = run(store, 3 * DAY + timedelta(hours=2)).models[0]
        assert [(w.window, w.start[:10], w.rows) for w in later.windows] == [(3, "2026-03-04", 300)]
        assert run(store, 3 * DAY + timedelta(hours=3)).models[0].windows == []
        assert len(windows(store)) == 3


class CrashOnWindow(AlertEngine):
    """An alert engine that dies while window ``n`` is being recorded (a kill mid-check)."""

    def __init__(self, *args: Any, n: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n = n

    def observe(self, conn: Any, observations: Any) -> Any:
        if any(o.details.get("window") == self.n for o in observations):
            raise KeyboardInterrupt
        return super().observe(conn, observations)


def test_a_killed_check_resumes_at_the_window_it_did_not_finish(tmp_path: Path, store_at: str) -> None:
    path = store_with_days(tmp_path, store_at, {0: 300, 1: 300, 2: 300})
    at = 3 * DAY + timedelta(hours=2)
    with open_store(path) as store:
        engine = CrashOnWindow(store, None, clock=ManualClock(T0 + at), stream=io.StringIO(), n=2)
        with pytest.raises(KeyboardInterrupt):
            run(store, at, engine=engine)
        assert [w[0] for w in windows(store)] == [1]  # window 2 rolled back whole
        resumed = run(store, at).models[0]
        assert [w.window for w in resumed.windows] == [2, 3]
        points = store.conn.execute("SELECT COUNT(*) FROM series_points WHERE metric = 'input_drift'").fetchone()[0]
    assert points == 3  # one per window: none twice, none lost


def test_a_model_that_stops_logging_shows_empty_days_up_to_now(tmp_path: Path, store_at: str) -> None:
    path = store_with_days(tmp_path, store_at, {0: 300})
    with open_store(path) as store:
        report = run(store, 4 * DAY + timedelta(hours=2)).models[0]
        again = run(store, 5 * DAY + timedelta(hours=2)).models[0]
    assert [w.summary for w in report.windows][1:] == [
        "churn v1 window 2026-03-03 to 2026-03-05 (3 periods) have no predictions"]
    assert [w.summary for w in again.windows] == ["churn v1 window 2026-03-06 has no predictions"]


def test_an_environment_that_stops_logging_shows_its_empty_days(tmp_path: Path, store_at: str) -> None:
    """Staging moved on to version 2 while production serves version 1 and stopped logging: version 1 is still
    production's newest, so production's empty days are recorded; staging's version 1 stops at its last."""
    path = store_with_days(tmp_path, store_at, {})
    with open_store(path) as store:
        (tmp_path / "v2").mkdir()
        register_reference(store, "churn", churn_reference(tmp_path / "v2", seed=2), version="2")
        for env, version, day in (("production", "1", 0), ("staging", "1", 0), ("staging", "2", 1),
                                  ("staging", "2", 2), ("staging", "2", 3)):
            log_rows(store, phase(300, "as in training", day), start=T0 + day * DAY, step_s=240, version=version,
                     prefix=f"{env}-{version}-{day}-", environment=env)
        report = run(store, 4 * DAY + timedelta(hours=2))
    found = {m.title: [w.summary for w in m.windows] for m in report.models}
    assert found["churn v1 in production"][1:] == [
        "churn v1 in production window 2026-03-03 to 2026-03-05 (3 periods) have no predictions"]
    assert len(found["churn v1 in staging"]) == 1 and len(found["churn v2 in staging"]) == 3


def test_six_hour_windows_start_at_midnight_and_six(tmp_path: Path, store_at: str) -> None:
    path = store_with_days(tmp_path, store_at, {0: 300})
    with open_store(path) as store:
        report = run(store, DAY + timedelta(hours=2), monitors(window="6h")).models[0]
    assert [w.start[11:16] for w in report.windows] == ["00:00", "06:00", "12:00", "18:00"]
    assert [w.rows for w in report.windows] == [90, 90, 90, 30]  # 300 predictions from 00:00 to 20:00


def test_results_say_which_period_was_tested(tmp_path: Path, store_at: str) -> None:
    path = store_with_days(tmp_path, store_at, {0: 300})
    with open_store(path) as store:
        run(store, DAY + timedelta(hours=2))
        results = json.loads(store.conn.execute("SELECT results FROM monitor_windows").fetchone()[0])
    assert results["status"] == "tested" and results["n"] == 300 and results["segments"] == []


@pytest.mark.parametrize("bad", ["1x", "10s", 5, "day"])
def test_a_bad_window_is_refused_with_what_was_expected(bad: Any) -> None:
    with pytest.raises(ValidationError) as info:
        ModelMonitorConfig(window=bad)
    assert "window" in str(info.value) and ("1h, 6h, 1d or 7d" in str(info.value) or "at least 1m" in str(info.value))


def test_a_bad_window_in_goldband_yaml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "goldband.yaml").write_text("monitors:\n  models:\n    churn:\n      window: 1x\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    text = str(info.value)
    assert "goldband.yaml:4" in text and "1x" in text and "1d" in text


def test_a_bad_grace_is_refused() -> None:
    with pytest.raises(ValidationError, match="window_grace"):
        ModelMonitorConfig(window="1d", window_grace="soon")


def test_goldband_monitor_check_prints_the_empty_day(tmp_path: Path, store_at: str) -> None:
    """The real command, as a subprocess: day 2026-03-03 has no predictions, and says so."""
    (tmp_path / "goldband.yaml").write_text("monitors:\n  models:\n    churn:\n      reference: churn_reference.csv\n"
                                            "      window: 1d\n      quality: {rules: {tenure_months: {min: 0}}}\n")
    churn_reference(tmp_path, n=2000)
    later = phase(200, "as in training", 2)
    later[50]["features"]["tenure_months"] = -2.0
    with open_store(store_at) as store:
        log_rows(store, phase(200, "as in training", 1), step_s=300, prefix="a")
        log_rows(store, later, start=T0 + 2 * DAY, step_s=300, prefix="b")
    out = subprocess.run([sys.executable, "-m", "goldband", "monitor", "check"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "GOLDBAND_STORE": store_at})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "  churn v1 window 2026-03-03 has no predictions" in lines
    assert any(line.startswith("  churn v1 window 2026-03-04 (200 predictions): no drift; data quality: 1 rule(s) "
                               "broken: tenure_months >= 0: 1 of 200 rows (0.5%) break it, e.g. -2") for line in lines)
