"""From alerts to retrain requests: once per incident, through the stored alerts (an outbox).

A model with ``retrain: {on: [...]}`` in goldband.yaml's ``registry.models`` is
retrained when an alert it listens to opens. ``queue_from_alerts`` reads the
alerts table, not the alerts a check just delivered: a check killed after it
stored an alert but before anything queued still triggers, at the next
``goldband monitor check``, ``goldband nightly`` or ``goldband retrain run``.
Each alert queues at most one request (``retrain_requests.alert_id`` is unique);
within the model's ``cooldown`` of its last request the alert is recorded as
``skipped`` instead, so a flapping monitor cannot retrain every night.

Which alerts count: a classic-ML alert on ``input_drift``, ``output_drift`` or
``concept_drift`` under its own name, any other classic-ML metric (an error
rate, an accuracy floor) as ``performance``, and an LLM eval-series alert on
the model's target as ``eval_drift``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from goldband.clock import Clock, SystemClock, iso, parse_duration
from goldband.config.registry import RegistryModelConfig
from goldband.store import Store
from goldband.store import registry as db
from goldband.store.locks import serialize
from goldband.store.registry import RetrainRequest

__all__ = ["Queued", "active", "queue_from_alerts", "queue_manual", "trigger_of"]

DRIFTS = ("input_drift", "output_drift", "concept_drift")


@dataclass(frozen=True)
class Queued:
    request_id: int
    model: str
    status: str  # queued | skipped
    reason: str


def trigger_of(source: str, metric: str) -> str:
    """The retrain trigger an alert stands for (see the module docstring)."""
    if source == "llm-eval":
        return "eval_drift"
    return metric if metric in DRIFTS else "performance"


def queue_from_alerts(store: Store, models: dict[str, RegistryModelConfig], *, clock: Clock | None = None,
                      actor: str | None = None) -> list[Queued]:
    """Queue a retrain request for every active alert that a model's ``retrain.on`` listens to."""
    clock = clock or SystemClock()
    queued: list[Queued] = []
    for name, config in sorted(models.items()):
        if config.retrain is None:
            continue
        watched = config.target if config.kind == "llm" and config.target else name
        for alert_id, source, metric, summary in _fresh_alerts(store, watched):
            if trigger_of(source, metric) in config.retrain.on:
                queued += _queue(store, name, config, alert_id, f"alert #{alert_id}: {summary}", clock, actor)
    return queued


def _fresh_alerts(store: Store, watched: str) -> list[tuple[int, str, str, str]]:
    """Active alerts on ``watched`` that have no retrain request yet, oldest first."""
    rows = store.conn.execute(
        "SELECT a.id, a.source, a.metric, a.summary FROM alerts a WHERE a.model = ? AND a.status IN "
        "('open', 'acked') AND NOT EXISTS (SELECT 1 FROM retrain_requests r WHERE r.alert_id = a.id) "
        "ORDER BY a.id", [watched]).fetchall()
    return [(int(i), str(s), str(m), str(t or "")) for i, s, m, t in rows]


def _queue(store: Store, name: str, config: RegistryModelConfig, alert_id: int | None, reason: str, clock: Clock,
           actor: str | None) -> list[Queued]:
    assert config.retrain is not None
    now = clock.now()
    with store.transaction() as conn:
        serialize(conn, "retrain", name)  # the last request is read, then the cooldown decides: one at a time
        recent = _last_request(conn, name)
        cooling = recent is not None and (now.timestamp() - _seconds(recent.created_at)) < parse_duration(
            config.retrain.cooldown)
        status = "skipped" if cooling else "queued"
        why = f"{reason} (cooldown {config.retrain.cooldown}: request #{recent.id} at {recent.created_at})" \
            if cooling and recent is not None else reason
        request_id = db.insert_request(conn, RetrainRequest(
            name, "alert" if alert_id is not None else "manual", status, iso(now), alert_id=alert_id, reason=why,
            data_since=_since(conn, name), updated_at=iso(now), actor=actor))
    return [Queued(request_id, name, status, why)] if request_id is not None else []


def queue_manual(store: Store, name: str, config: RegistryModelConfig, *, reason: str, clock: Clock | None = None,
                 actor: str | None = None) -> Queued:
    """Queue a retrain by hand (``goldband retrain run MODEL --now``); the cooldown does not apply."""
    clock = clock or SystemClock()
    now = iso(clock.now())
    with store.transaction() as conn:
        serialize(conn, "retrain", name)
        request_id = db.insert_request(conn, RetrainRequest(name, "manual", "queued", now, reason=reason,
                                                            data_since=_since(conn, name), updated_at=now,
                                                            actor=actor))
    assert request_id is not None
    return Queued(request_id, name, "queued", reason)


def _last_request(conn: sqlite3.Connection, name: str) -> RetrainRequest | None:
    found = [r for r in db.requests(conn, name) if r.status not in ("skipped", "failed", "cancelled")]
    return found[-1] if found else None


def _since(conn: sqlite3.Connection, name: str) -> str | None:
    """Fresh data starts where the serving version was promoted (None: all data)."""
    moves = db.events(conn, name, alias="production", kinds=db.ALIAS_EVENTS, limit=1)
    return moves[-1].time if moves else None


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def active(store: Store, name: str | None = None, statuses: Sequence[str] = ("queued", "running", "waiting")
           ) -> list[RetrainRequest]:
    """Requests not finished yet."""
    return db.requests(store.conn, name, statuses=statuses)
