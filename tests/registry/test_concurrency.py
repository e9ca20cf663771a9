"""Several processes writing one model's registry and retrain queue at once, on each backend: every
registration gets its own version number, and an incident queues one retrain (the cooldown skips the rest).
PostgreSQL takes turns through advisory locks (goldband.store.locks) where SQLite holds its write lock.
Two processes racing one promotion: tests/registry/test_registry.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from goldband.alerts.engine import AlertEngine
from goldband.alerts.rules import Observation
from goldband.clock import ManualClock, iso
from goldband.config.alerts import AlertsConfig
from goldband.config.registry import RegistryModelConfig
from goldband.registry.registry import Registry
from goldband.registry.trigger import queue_from_alerts
from goldband.store import open_store
from goldband.store import registry as db
from racekit import PROCESSES, race

ROUNDS = 5
T0 = "2026-11-02T00:00:00+00:00"


def _registrar(location: str, root: str, worker: int, barrier: Any) -> list[str]:
    with open_store(location, create=False) as store:
        reg = Registry(store, root=Path(root), clock=ManualClock(T0), actor=f"worker-{worker}")
        numbers = []
        for round_ in range(ROUNDS):
            barrier.wait(timeout=60)
            numbers.append(reg.register("churn", params={"worker": worker, "round": round_}).version)
    return numbers


def test_four_processes_registering_at_once_get_distinct_versions_and_lose_nothing(store_at: str,
                                                                                  tmp_path: Path) -> None:
    with open_store(store_at):
        pass
    numbers = [n for found in race(_registrar, store_at, str(tmp_path)) for n in found]
    total = PROCESSES * ROUNDS
    assert sorted(numbers, key=int) == [str(i) for i in range(1, total + 1)]
    with open_store(store_at, create=False) as store:
        stored = db.versions(store.conn, "churn")
        log = db.events(store.conn, "churn")
    assert [v.seq for v in stored] == list(range(1, total + 1))
    assert sorted((v.params["worker"], v.params["round"]) for v in stored) == sorted(
        (w, r) for w in range(PROCESSES) for r in range(ROUNDS))
    assert sorted(int(e.to_version or 0) for e in log if e.kind == "register") == list(range(1, total + 1))


def _queuer(location: str, worker: int, barrier: Any) -> list[tuple[int, str]]:
    model = RegistryModelConfig.model_validate({"retrain": {"on": ["concept_drift", "input_drift"],
                                                            "command": "true", "cooldown": "7d"}})
    with open_store(location, create=False) as store:
        barrier.wait(timeout=60)
        queued = queue_from_alerts(store, {"churn": model}, clock=ManualClock(T0), actor=f"worker-{worker}")
    return [(q.request_id, q.status) for q in queued]


def test_four_processes_queueing_from_the_same_alerts_queue_one_retrain(store_at: str) -> None:
    clock = ManualClock(T0)
    with open_store(store_at) as store:
        engine = AlertEngine(store, AlertsConfig(sinks=[]), clock=clock)
        engine.process([Observation("classic-ml", "churn", metric, iso(clock.now()), 0.3, True, summary=metric)
                        for metric in ("concept_drift", "input_drift")])
        assert len(engine.opened) == 2
    claimed = [q for found in race(_queuer, store_at) for q in found]
    with open_store(store_at, create=False) as store:
        stored = [(r.id, r.alert_id, r.status) for r in db.requests(store.conn, "churn")]
    assert sorted(claimed) == [(i, s) for i, _, s in stored]  # every request was queued by exactly one process
    assert sorted(r[1] for r in stored) == sorted(engine.opened)  # one request per alert
    assert sorted(r[2] for r in stored) == ["queued", "skipped"]  # the second alert fell in the first's cooldown
