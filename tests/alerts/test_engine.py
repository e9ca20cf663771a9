"""Alert rules and incidents: sustained, dedupe, resolve, cool-down (controllable clock), ack, the outbox."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from goldband.alerts import AlertEngine, AlertEvent, AlertsConfig, Observation, RuleConfig, ack, list_alerts
from goldband.alerts.rules import evaluate
from goldband.clock import ManualClock
from goldband.config.project import load_config
from goldband.errors import ConfigError, GoldbandError
from goldband.store import Store, open_store


class Recorder:
    """A sink that keeps what it was sent, and fails on demand."""

    def __init__(self, name: str = "rec", *, min_severity: str = "info", fail: int = 0) -> None:
        self.name, self.min_severity, self.fail, self.max_attempts = name, min_severity, fail, 3
        self.events: list[AlertEvent] = []

    def send(self, event: AlertEvent) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the pager is down")
        self.events.append(event)


@pytest.fixture
def store(store_at: str) -> Store:
    with open_store(store_at) as s:
        yield s  # type: ignore[misc]


def obs(flagged: bool, *, metric: str = "input_drift", value: float | None = 0.5, model: str = "churn",
        t: int = 0, detector: str | None = "ks", labels: dict[str, Any] | None = None) -> Observation:
    return Observation("classic-ml", model, metric, f"2026-03-{2 + t:02d}T00:00:00.000+00:00", value, flagged,
                       labels if labels is not None else {"version": "1"}, detector, f"window {t}")


def engine(store: Store, *rules: RuleConfig, clock: ManualClock | None = None, cooldown: str = "6h",
           sinks: list[Any] | None = None) -> AlertEngine:
    config = AlertsConfig(cooldown=cooldown, rules=list(rules) or None)
    return AlertEngine(store, config, sinks=sinks if sinks is not None else [Recorder()],
                       clock=clock or ManualClock())


RULE = RuleConfig(name="inputs", metric="input_drift", severity="warning")


def test_one_alert_per_incident(store: Store) -> None:
    e = engine(store, RULE)
    delivered = e.process([obs(True, t=i) for i in range(5)])
    assert len(delivered) == 1 and delivered[0].results == {"rec": "ok"}
    (alert,) = list_alerts(store.conn)
    assert (alert["status"], alert["count"], alert["first_time"][:10], alert["last_time"][:10]) == \
        ("open", 5, "2026-03-02", "2026-03-06")
    assert len(e.sinks[0].events) == 1  # type: ignore[attr-defined]


def test_sustained_needs_consecutive_flagged_windows(store: Store) -> None:
    e = engine(store, RULE.model_copy(update={"sustained": 3}))
    e.process([obs(True), obs(True), obs(False), obs(True), obs(True)])
    assert list_alerts(store.conn, status=["open"]) == []
    e.process([obs(True)])  # the third in a row, across two checks: the streak is stored
    assert list_alerts(store.conn)[0]["count"] == 3


def test_clean_windows_resolve(store: Store) -> None:
    e = engine(store, RULE.model_copy(update={"resolve_after": 2}))
    e.process([obs(True), obs(False)])
    assert list_alerts(store.conn)[0]["status"] == "open"
    e.process([obs(False)])
    assert list_alerts(store.conn, status=["resolved"])[0]["resolved_at"]


def test_cooldown_reopens_instead_of_notifying_again(store: Store) -> None:
    clock = ManualClock("2026-03-02T00:00:00+00:00")
    e = engine(store, RULE, clock=clock, cooldown="6h")
    sink = e.sinks[0]
    e.process([obs(True), obs(False)])  # incident 1: notified, resolved
    clock.advance(3600)
    e.process([obs(True)])  # incident 2, one hour later: a flap
    alerts = list_alerts(store.conn, limit=None)
    assert len(alerts) == 1 and alerts[0]["status"] == "open" and alerts[0]["reopened"] == 1
    assert len(sink.events) == 1  # type: ignore[attr-defined]
    e.process([obs(False)])
    clock.advance(7 * 3600)  # past the cool-down since the last notification
    e.process([obs(True)])
    assert [a["id"] for a in list_alerts(store.conn, limit=None)] == [2, 1]
    assert len(sink.events) == 2  # type: ignore[attr-defined]


def test_a_rule_cooldown_overrides_the_default(store: Store) -> None:
    clock = ManualClock()
    e = engine(store, RULE.model_copy(update={"cooldown": "10m"}), clock=clock, cooldown="1d")
    e.process([obs(True), obs(False)])
    clock.advance(900)
    e.process([obs(True)])
    assert len(list_alerts(store.conn, limit=None)) == 2


def test_acknowledged_alerts_stay_quiet_until_they_resolve(store: Store) -> None:
    e = engine(store, RULE)
    e.process([obs(True)])
    assert ack(store, [1], by="ana", note="looking") == [1]
    e.process([obs(True), obs(True)])
    (alert,) = list_alerts(store.conn)
    assert (alert["status"], alert["acked_by"], alert["note"], alert["count"]) == ("acked", "ana", "looking", 3)
    assert ack(store, [1]) == []  # already acknowledged
    e.process([obs(False)])
    assert list_alerts(store.conn, status=["open", "acked"]) == []
    assert list_alerts(store.conn, status=["resolved"])[0]["id"] == 1
    with pytest.raises(GoldbandError, match="no alert #99"):
        ack(store, [99])


def test_a_failing_sink_never_breaks_the_run_and_is_retried(store: Store) -> None:
    good, bad = Recorder("good"), Recorder("bad", fail=1)
    e = engine(store, RULE, sinks=[bad, good])
    (delivered,) = e.process([obs(True)])
    assert delivered.results == {"bad": "the pager is down", "good": "ok"}
    alert = list_alerts(store.conn)[0]
    assert alert["notify_pending"] == 1 and alert["deliveries"]["bad"]["attempts"] == 1
    (again,) = e.deliver()  # the next check retries only the sink that failed
    assert again.results == {"bad": "ok"} and len(good.events) == 1 and len(bad.events) == 1
    assert list_alerts(store.conn)[0]["notify_pending"] == 0 and e.deliver() == []


def test_a_sink_gives_up_after_its_attempts(store: Store) -> None:
    bad = Recorder("bad", fail=99)
    e = engine(store, RULE, sinks=[bad])
    e.process([obs(True)])
    for _ in range(5):
        e.deliver()
    alert = list_alerts(store.conn)[0]
    assert alert["deliveries"]["bad"] == {**alert["deliveries"]["bad"], "status": "failed", "attempts": 3}
    assert alert["notify_pending"] == 0


def test_alerts_are_stored_before_any_sink_runs(store: Store) -> None:
    """The outbox: a check killed after deciding still delivers on the next run."""
    e = engine(store, RULE)
    with store.transaction() as conn:
        e.observe(conn, [obs(True)])
    fresh = engine(store, RULE)  # a new process
    assert [d.event.id for d in fresh.deliver()] == [1]


def test_sinks_filter_by_severity(store: Store) -> None:
    pager, log = Recorder("pager", min_severity="critical"), Recorder("log")
    e = engine(store, RULE, RuleConfig(name="concept", metric="concept_drift", severity="critical"),
               sinks=[pager, log])
    e.process([obs(True), obs(True, metric="concept_drift")])
    assert [ev.rule for ev in pager.events] == ["concept"] and len(log.events) == 2


def test_rules_pick_series_and_thresholds() -> None:
    eu = obs(True, labels={"version": "2", "region": "eu"})
    assert evaluate(RuleConfig(name="a", model="ch*", labels={"region": "e?"}), eu) is True
    assert evaluate(RuleConfig(name="a", model="other"), eu) is None
    assert evaluate(RuleConfig(name="a", source="llm-eval"), eu) is None
    assert evaluate(RuleConfig(name="a", detector="adwin"), eu) is False  # flagged by ks, not adwin
    assert evaluate(RuleConfig(name="a", metric="error_rate", above=0.3), obs(False, metric="error_rate",
                                                                               value=0.31)) is True
    assert evaluate(RuleConfig(name="a", below=0.3), obs(True, value=0.5)) is False
    assert evaluate(RuleConfig(name="a", below=0.3), obs(True, value=None)) is None


def test_threshold_rules_alert_on_values(store: Store) -> None:
    e = engine(store, RuleConfig(name="floor", metric="error_rate", above=0.3, sustained=2, severity="critical"))
    e.process([obs(False, metric="error_rate", value=v, t=i) for i, v in enumerate([0.2, 0.35, 0.25, 0.4, 0.41])])
    (alert,) = list_alerts(store.conn)
    assert alert["value"] == 0.41 and alert["severity"] == "critical"


def test_events_are_frozen_and_portable(store: Store) -> None:
    e = engine(store, RULE)
    e.process([obs(True)])
    (event,) = e.sinks[0].events  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.summary = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        event.labels["version"] = "9"  # type: ignore[index]
    assert pickle.loads(pickle.dumps(event)) == event
    assert json.loads(json.dumps(event.to_json()))["labels"] == {"version": "1"}
    assert event.text.startswith("goldband WARNING alert #1 [inputs] churn")


def test_bad_alert_config_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "goldband.yaml").write_text("alerts:\n  rules:\n    - name: a\n      above: 1\n      below: 0\n")
    with pytest.raises(ConfigError, match=r"goldband.yaml:3: .*give 'above' or 'below', not both"):
        load_config(tmp_path)
    (tmp_path / "goldband.yaml").write_text("alerts:\n  sinks:\n    - type: webhook\n      timeout_s: 3\n")
    with pytest.raises(ConfigError, match=r"goldband.yaml:3: .*exactly one of 'url' or 'url_env'"):
        load_config(tmp_path)
    (tmp_path / "goldband.yaml").write_text("alerts:\n  cooldown: soon\n")
    with pytest.raises(ConfigError, match=r"goldband.yaml:2: .*not a duration: 'soon'"):
        load_config(tmp_path)
    (tmp_path / "goldband.yaml").write_text("monitors:\n  models:\n    churn:\n      windw: 10\n")
    with pytest.raises(ConfigError, match=r"goldband.yaml:4: unknown key 'windw'"):
        load_config(tmp_path)
