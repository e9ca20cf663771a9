"""Several processes feeding the alert engine one series at once, on each backend: nothing is lost and one
incident stays one alert (PostgreSQL takes turns through the alerts lock as SQLite does through its write lock)."""

from __future__ import annotations

from typing import Any

from goldband.alerts.engine import AlertEngine, list_alerts
from goldband.alerts.rules import Observation
from goldband.clock import ManualClock
from goldband.config.alerts import AlertsConfig, RuleConfig
from goldband.store import open_store
from racekit import PROCESSES, race

ROUNDS = 5
RULE = RuleConfig(name="inputs", metric="input_drift", severity="warning")


class Quiet:
    name, min_severity, max_attempts = "quiet", "info", 3

    def send(self, event: object) -> None:
        return None


def _checker(location: str, worker: int, barrier: Any) -> list[int]:
    """One process: each round, wait for the others, then one flagged observation of the same series."""
    with open_store(location, create=False) as store:
        engine = AlertEngine(store, AlertsConfig(cooldown="6h", rules=[RULE]), sinks=[Quiet()], clock=ManualClock())
        for round_ in range(ROUNDS):
            barrier.wait(timeout=60)
            engine.process([Observation("classic-ml", "churn", "input_drift", f"2026-03-02T00:00:{round_:02d}Z",
                                        0.5, True, {"version": "1"}, "ks", f"worker {worker} round {round_}")])
        return list(engine.opened)


def test_four_processes_flagging_one_series_at_once_make_one_alert_and_lose_no_count(store_at: str) -> None:
    with open_store(store_at):  # created and migrated once, before the racers open it
        pass
    opened = [alert_id for ids in race(_checker, store_at) for alert_id in ids]
    with open_store(store_at, create=False) as store:
        alerts = list_alerts(store.conn, limit=None)
        streak = store.conn.execute("SELECT streak FROM alert_state").fetchall()
    assert len(opened) == 1 and [a["id"] for a in alerts] == opened  # one process opened it; the rest updated it
    assert alerts[0]["status"] == "open" and alerts[0]["count"] == PROCESSES * ROUNDS  # every observation counted
    assert streak == [(PROCESSES * ROUNDS,)]
