"""From alerts to retrain requests on real stores: once per incident, a cooldown, only what a model listens
to, through the stored alerts (so a check killed before it queued still triggers), and inside
``goldband monitor check`` and ``goldband retrain run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from goldband.alerts.engine import AlertEngine, ack
from goldband.alerts.rules import Observation
from goldband.clock import ManualClock, iso
from goldband.config.alerts import AlertsConfig, RuleConfig
from goldband.config.registry import RegistryModelConfig, RetrainConfig
from goldband.registry.trigger import Queued, queue_from_alerts, queue_manual, trigger_of
from goldband.store import Store, open_store
from goldband.store import registry as db
from registrykit import (
    backend,
    churn_project,
    events,
    ok,
    query,
    request,
    retrain_yaml,
    serving,
    serving_v1,
    store_path,
)

T0 = "2026-11-02T00:00:00+00:00"
STORED_T0 = "2026-11-02T00:00:00.000+00:00"  # as the store writes times
DAY = 86400.0


def model(on: str = "[concept_drift]", cooldown: str = "7d") -> RegistryModelConfig:
    return RegistryModelConfig.model_validate({"retrain": {"on": on.strip("[]").split(", "), "command": "true",
                                                           "cooldown": cooldown}})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def alert(store: Store, clock: ManualClock, metric: str = "concept_drift", *, model_name: str = "churn",
          source: str = "classic-ml", flagged: bool = True, value: float = 0.3,
          rules: list[RuleConfig] | None = None) -> int | None:
    """One monitor observation through the real alert engine; the id of the alert it opened, if any."""
    engine = AlertEngine(store, AlertsConfig(sinks=[], rules=rules), clock=clock)
    engine.process([Observation(source, model_name, metric, iso(clock.now()), value, flagged,
                                summary=f"{metric} on {model_name}")])
    return engine.opened[-1] if engine.opened else None


def requests(store: Store) -> list[tuple[Any, ...]]:
    return [(r.id, r.model, r.trigger, r.alert_id, r.status) for r in db.requests(store.conn)]


def test_an_open_alert_queues_exactly_one_request(store: Store, clock: ManualClock) -> None:
    opened = alert(store, clock)
    assert opened == 1
    assert queue_from_alerts(store, {"churn": model()}, clock=clock, actor="cron") == [
        Queued(1, "churn", "queued", "alert #1: concept_drift on churn")]
    assert queue_from_alerts(store, {"churn": model()}, clock=clock) == []
    assert alert(store, clock) is None  # the same incident flagged again: the same alert, updated
    clock.advance(30 * DAY)
    assert queue_from_alerts(store, {"churn": model()}, clock=clock) == []  # once per incident, however long
    [row] = db.requests(store.conn)
    assert (row.trigger, row.alert_id, row.status, row.created_at, row.actor) == (
        "alert", 1, "queued", STORED_T0, "cron")


def test_an_alert_within_the_cooldown_of_the_last_request_is_recorded_skipped(store: Store,
                                                                               clock: ManualClock) -> None:
    churn = {"churn": model("[concept_drift, input_drift, output_drift]")}
    alert(store, clock, "concept_drift")
    assert [q.status for q in queue_from_alerts(store, churn, clock=clock)] == ["queued"]
    clock.advance(DAY)
    alert(store, clock, "input_drift")
    [skipped] = queue_from_alerts(store, churn, clock=clock)
    assert skipped == Queued(2, "churn", "skipped",
                             f"alert #2: input_drift on churn (cooldown 7d: request #1 at {STORED_T0})")
    assert queue_from_alerts(store, churn, clock=clock) == []  # a skipped alert is recorded once, not retried
    clock.advance(6 * DAY + 1)  # seven days and a second after request #1 (the skipped one does not count)
    alert(store, clock, "output_drift")
    assert [q.status for q in queue_from_alerts(store, churn, clock=clock)] == ["queued"]
    assert requests(store) == [(1, "churn", "alert", 1, "queued"), (2, "churn", "alert", 2, "skipped"),
                               (3, "churn", "alert", 3, "queued")]


def test_a_retrain_by_hand_starts_the_cooldown_too(store: Store, clock: ManualClock) -> None:
    queue_manual(store, "churn", model(), reason="new data arrived", clock=clock)
    clock.advance(3600)
    alert(store, clock, "concept_drift")
    assert [q.status for q in queue_from_alerts(store, {"churn": model()}, clock=clock)] == ["skipped"]
    alert(store, clock, "output_drift")
    short = {"churn": model("[concept_drift, output_drift]", cooldown="30m")}
    assert [q.status for q in queue_from_alerts(store, short, clock=clock)] == ["queued"]
    assert requests(store) == [(1, "churn", "manual", None, "queued"), (2, "churn", "alert", 1, "skipped"),
                               (3, "churn", "alert", 2, "queued")]


def test_alerts_a_model_does_not_listen_to_queue_nothing(store: Store, clock: ManualClock) -> None:
    alert(store, clock, "input_drift")  # churn listens to concept drift only
    alert(store, clock, "concept_drift", model_name="fraud")  # another model's incident
    alert(store, clock, "output_drift")
    alert(store, clock, "output_drift", flagged=False)  # ... resolved by a clean window
    unconfigured = RegistryModelConfig()
    assert queue_from_alerts(store, {"churn": model(), "fraud": unconfigured}, clock=clock) == []
    assert queue_from_alerts(store, {"churn": model("[output_drift]")}, clock=clock) == []  # resolved
    assert requests(store) == []


def test_an_acknowledged_alert_still_triggers_and_any_other_metric_is_performance(store: Store,
                                                                                  clock: ManualClock) -> None:
    errors = [RuleConfig(name="error-rate", source="classic-ml", metric="error_rate", above=0.25)]
    opened = alert(store, clock, "error_rate", value=0.4, rules=errors)
    assert opened is not None and trigger_of("classic-ml", "error_rate") == "performance"
    ack(store, [opened], by="oncall", clock=clock)
    assert queue_from_alerts(store, {"churn": model("[concept_drift]")}, clock=clock) == []
    assert [q.reason for q in queue_from_alerts(store, {"churn": model("[performance]")}, clock=clock)] == [
        f"alert #{opened}: error_rate on churn"]


def test_eval_drift_watches_an_llm_models_target(store: Store, clock: ManualClock) -> None:
    opened = alert(store, clock, "pass_rate", model_name="support-v1", source="llm-eval", value=0.7)
    assert opened is not None and trigger_of("llm-eval", "pass_rate") == "eval_drift"
    classic = {"churn": model("[eval_drift]")}
    assert queue_from_alerts(store, classic, clock=clock) == []  # the eval series is the target's, not churn's
    # goldband.yaml refuses `retrain` on an llm model (RegistryModelConfig._kind_needs), so this is the
    # trigger's own contract, built without the config's validation.
    support = RegistryModelConfig.model_construct(
        kind="llm", target="support-v1", retrain=RetrainConfig.model_validate({"on": ["eval_drift"], "command": "x"}))
    assert queue_from_alerts(store, {"support": support}, clock=clock) == [
        Queued(1, "support", "queued", f"alert #{opened}: pass_rate on support-v1")]


# --------------------------------------------------------------------------- inside the commands


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_at: str) -> Path:
    return churn_project(tmp_path, monkeypatch, retrain=retrain_yaml(), store=backend(store_at))


def stored_alert(root: Path) -> int:
    """An alert stored by a check that was killed before it queued anything (the outbox's other half)."""
    with open_store(store_path(root)) as store:
        opened = alert(store, ManualClock(T0))
    assert opened is not None
    return opened


def test_monitor_check_queues_the_retrain_of_an_alert_a_killed_check_left(project: Path) -> None:
    opened = stored_alert(project)
    out = ok("monitor", "check")
    assert f"queued retrain #1 of churn: alert #{opened}: concept_drift on churn" in out.splitlines()
    assert "queued retrain" not in ok("monitor", "check")  # once per incident
    assert query(project, "SELECT id, trigger, alert_id, status FROM retrain_requests") == [
        (1, "alert", opened, "queued")]


def test_retrain_run_queues_from_alerts_and_runs_the_pipeline(project: Path) -> None:
    serving_v1(project)
    opened = stored_alert(project)
    out = ok("retrain", "run")
    assert out.splitlines() == [f"queued retrain #1 of churn: alert #{opened}: concept_drift on churn",
                                f"retrain #1 churn: promoted churn:2 gate #2 (alert: alert #{opened}: concept_drift "
                                "on churn)"]
    assert request(project)["alert_id"] == opened and serving(project) == "2"
    assert events(project, "promote")[-1]["evidence"] == {"gate": 2, "retrain_request": 1, "alert": opened}
    assert json_params(project) == {"retrain_request": 1, "trigger": "alert", "alert": opened}
    assert ok("retrain", "run").strip() == "nothing to retrain"


def json_params(root: Path) -> Any:
    return json.loads(query(root, "SELECT params FROM registry_versions WHERE version = '2'")[0][0])
