"""Incidents from observations: sustained, deduplicated, cooled down, stored, then delivered.

Per rule and series (the *fingerprint*):

* **sustained** ``k``: an alert opens only after ``k`` consecutive flagged
  observations (windows, nightly points); one clean observation resets the count.
* **dedupe**: while the fingerprint has an ``open`` (or ``acked``) alert, more
  flagged observations only update it (``count``, ``last_seen_at``): one alert
  per incident.
* **resolve**: ``resolve_after`` consecutive clean observations resolve it.
* **cooldown**: a new incident within ``cooldown`` (clock time) of the
  fingerprint's last notification reopens the last alert instead of notifying
  again, so a flapping series cannot page every night.

``observe`` runs inside the caller's transaction, so a monitor's results and
the alerts they raise commit together. Sinks are called afterwards by
``deliver``, outside any transaction, from the stored alerts still marked
``notify_pending`` (an outbox): a run killed between the two delivers on the
next run, and a sink that failed is retried (up to its ``max_attempts``) while
the sinks that succeeded are not called twice. A failing sink is logged and
recorded in the alert's ``deliveries``; it never breaks the run.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from goldband._util.environment import DEFAULT, environment_clause
from goldband.alerts.rules import AlertEvent, Observation, evaluate, fingerprint, plain, severity_at_least
from goldband.alerts.sinks import Sink, build_sinks
from goldband.alerts.states import ACTIVE, RuleStep
from goldband.clock import Clock, SystemClock, iso, parse_duration
from goldband.config.alerts import AlertsConfig, RuleConfig
from goldband.errors import UsageError
from goldband.store.locks import serialize
from goldband.store.sqltext import upsert

if TYPE_CHECKING:
    from goldband.store import Store

__all__ = ["AlertEngine", "Delivered", "ack", "list_alerts"]

LOG = logging.getLogger("goldband.alerts")


@dataclass(frozen=True)
class Delivered:
    """One alert handed to the sinks, and what each said."""

    event: AlertEvent
    results: dict[str, str]  # sink name -> "ok" or the error


class AlertEngine:
    """Rules and sinks over one store; ``clock`` decides cool-downs (a ``ManualClock`` in tests)."""

    def __init__(self, store: Store, config: AlertsConfig | None = None, *, sinks: Sequence[Sink] | None = None,
                 clock: Clock | None = None, root: Path | None = None, stream: IO[str] | None = None) -> None:
        config = config or AlertsConfig()
        self.store, self.clock = store, clock or SystemClock()
        self.rules = config.effective_rules()
        self.cooldown_s = parse_duration(config.cooldown)
        self.sinks = list(sinks) if sinks is not None else build_sinks(config.sinks, root=root, stream=stream)
        self.opened: list[int] = []  # ids of the alerts this engine opened
        self.steps: dict[str, RuleStep] = {}  # per fingerprint: the last step, with every event this engine saw

    def process(self, observations: Iterable[Observation]) -> list[Delivered]:
        """``observe`` in its own transaction, then ``deliver``."""
        with self.store.transaction() as conn:
            self.observe(conn, observations)
        return self.deliver()

    # -- deciding (inside the caller's transaction) -------------------------------------------
    def observe(self, conn: sqlite3.Connection, observations: Iterable[Observation]) -> list[int]:
        """Apply every rule to every observation, in order; returns the ids of alerts opened. Each step reads a
        fingerprint's state, then writes it: on PostgreSQL the alerts lock makes concurrent checks take turns
        (as SQLite's write lock does), so two processes never open two alerts for one incident."""
        serialize(conn, "alerts")
        opened: list[int] = []
        for obs in observations:
            for rule in self.rules:
                flagged = evaluate(rule, obs)
                if flagged is not None:
                    new = self._step(conn, rule, obs, flagged)
                    opened += [new] if new is not None else []
        self.opened += opened
        return opened

    def _step(self, conn: sqlite3.Connection, rule: RuleConfig, obs: Observation, flagged: bool) -> int | None:
        key, now = fingerprint(rule, obs), iso(self.clock.now())
        streak, clean, notified = _state(conn, key)
        latest, status, since = _latest(conn, key)
        current = latest if status in ACTIVE else None
        opened: int | None = None
        events: tuple[str, ...] = ()  # what this step did to the fingerprint's alert
        if flagged:
            streak, clean = streak + 1, 0
            if current is not None:
                _touch(conn, current, obs, now)
            elif streak >= rule.sustained:
                opened, notified = self._open(conn, rule, obs, key, now, notified, streak, latest)
                latest, status, since = _latest(conn, key)
                events = ("opened",) if opened is not None else ("reopened",)
        else:
            streak, clean = 0, clean + 1
            if current is not None and clean >= rule.resolve_after:
                conn.execute("UPDATE alerts SET status = 'resolved', resolved_at = ? WHERE id = ?", [now, current])
                status, events = "resolved", ("resolved",)
        conn.execute(upsert("alert_state", ("fingerprint", "rule", "streak", "clean", "last_notified_at", "updated_at"),
                            ("fingerprint",)), [key, rule.name, streak, clean, notified, now])
        before = self.steps[key].events if key in self.steps else ()
        self.steps[key] = RuleStep(rule, obs, flagged, streak, clean, latest, status, before + events, since)
        return opened

    def _open(self, conn: sqlite3.Connection, rule: RuleConfig, obs: Observation, key: str, now: str,
              notified: str | None, streak: int, last: int | None) -> tuple[int | None, str | None]:
        """A new incident: reopen ``last`` (the latest, resolved alert) within the cool-down, else a new alert."""
        cooldown = parse_duration(rule.cooldown) if rule.cooldown is not None else self.cooldown_s
        if last is not None and notified is not None and \
                (self.clock.now() - datetime.fromisoformat(notified)).total_seconds() < cooldown:
            conn.execute("UPDATE alerts SET status = 'open', resolved_at = NULL, reopened = reopened + 1, "
                         "count = count + ?, last_seen_at = ?, last_time = ?, value = ? WHERE id = ?",
                         [streak, now, obs.time, _num(obs.value), last])
            return None, notified
        cursor = conn.execute(
            "INSERT INTO alerts (fingerprint, rule, severity, status, source, model, metric, labels, detector, "
            "opened_at, last_seen_at, count, reopened, first_time, last_time, value, summary, details, "
            "notify_pending, deliveries, environment) "
            "VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, 1, '{}', ?) RETURNING id",
            [key, rule.name, rule.severity, obs.source, obs.model, obs.metric, _dumps(dict(obs.labels)),
             obs.detector, now, now, streak, obs.time, obs.time, _num(obs.value),
             obs.summary or f"{obs.metric} flagged", _dumps(dict(obs.details)), environment_of(obs)])
        return int(cursor.fetchone()[0]), now

    # -- delivering (outside transactions) ----------------------------------------------------
    def deliver(self) -> list[Delivered]:
        """Send every alert still pending to the sinks that have not yet taken it."""
        rows = _rows(self.store.conn, "SELECT * FROM alerts WHERE notify_pending = 1 ORDER BY id")
        return [self._deliver(row) for row in rows]

    def _deliver(self, row: dict[str, Any]) -> Delivered:
        event, done = event_from_row(row), json.loads(row["deliveries"] or "{}")
        results: dict[str, str] = {}
        for sink in self.sinks:
            if not severity_at_least(event.severity, sink.min_severity):
                continue
            record = done.get(sink.name, {})
            if record.get("status") == "ok" or record.get("attempts", 0) >= _max_attempts(sink):
                continue
            results[sink.name] = _send(sink, event)
            done[sink.name] = {"status": "ok" if results[sink.name] == "ok" else "failed",
                               "attempts": record.get("attempts", 0) + 1,
                               "error": None if results[sink.name] == "ok" else results[sink.name],
                               "at": iso(self.clock.now())}
        pending = any(d["status"] == "failed" and d["attempts"] < _max_attempts(s)
                      for s in self.sinks if (d := done.get(s.name)))
        with self.store.transaction() as conn:
            conn.execute("UPDATE alerts SET deliveries = ?, notify_pending = ?, notified_at = ? WHERE id = ?",
                         [_dumps(done), int(pending), iso(self.clock.now()), row["id"]])
        return Delivered(event, results)


def _send(sink: Sink, event: AlertEvent) -> str:
    try:
        sink.send(event)
    except Exception as exc:  # any sink failure, even a bug in a custom sink, is recorded, never raised
        message = str(exc) or type(exc).__name__
        LOG.warning("alert #%d: sink %s failed: %s", event.id, sink.name, message)
        return message
    return "ok"


def _max_attempts(sink: Sink) -> int:
    return int(getattr(sink, "max_attempts", 3))


# -- reading and acknowledging ----------------------------------------------------------------


def list_alerts(conn: sqlite3.Connection, *, status: Sequence[str] | None = None, model: str | None = None,
                limit: int | None = 50, environment: str | None = None) -> list[dict[str, Any]]:
    """Alerts, newest first, as dicts (``labels``, ``details``, ``deliveries`` parsed); ``environment``: only
    that environment's (``default``: alerts of series without one)."""
    clauses, params = [], []
    if environment is not None:
        clause, values = environment_clause(environment)
        clauses.append(clause)
        params += values
    if status:
        clauses.append(f"status IN ({','.join('?' * len(status))})")
        params += list(status)
    if model:
        clauses.append("model = ?")
        params.append(model)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = _rows(conn, f"SELECT * FROM alerts {where} ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else ""),
                 params)
    for row in rows:
        for key in ("labels", "details", "deliveries"):
            row[key] = json.loads(row[key] or "{}")
    return rows


def ack(store: Store, ids: Sequence[int], *, by: str | None = None, note: str | None = None,
        clock: Clock | None = None) -> list[int]:
    """Acknowledge open alerts: they stay deduplicated until they resolve. UsageError for unknown ids."""
    now = iso((clock or SystemClock()).now())
    with store.transaction() as conn:
        serialize(conn, "alerts")
        found = {r[0]: r[1] for r in conn.execute(
            f"SELECT id, status FROM alerts WHERE id IN ({','.join('?' * len(ids))})", list(ids))}
        missing = [i for i in ids if i not in found]
        if missing:
            raise UsageError(f"no alert {', '.join(f'#{i}' for i in missing)}", where="goldband alerts ack",
                                fix="`goldband alerts list --all` shows every alert's id")
        done = [i for i in ids if found[i] == "open"]
        conn.executemany("UPDATE alerts SET status = 'acked', acked_at = ?, acked_by = ?, note = ? WHERE id = ?",
                         [(now, by, note, i) for i in done])
    return done


def event_from_row(row: dict[str, Any]) -> AlertEvent:
    return AlertEvent(row["id"], row["rule"], row["severity"], row["status"], row["source"], row["model"],
                      row["metric"], row["summary"] or "", row["opened_at"], row["last_time"], row["value"],
                      row["detector"], json.loads(row["labels"] or "{}") if isinstance(row["labels"], str)
                      else row["labels"], json.loads(row["details"] or "{}") if isinstance(row["details"], str)
                      else row["details"], row["count"] or 1)


# -- small helpers ------------------------------------------------------------------------------


def _state(conn: sqlite3.Connection, key: str) -> tuple[int, int, str | None]:
    row = conn.execute("SELECT streak, clean, last_notified_at FROM alert_state WHERE fingerprint = ?",
                       [key]).fetchone()
    return (int(row[0]), int(row[1]), row[2]) if row else (0, 0, None)


def _latest(conn: sqlite3.Connection, key: str) -> tuple[int | None, str | None, str | None]:
    """The fingerprint's latest alert, its status and when it opened (all None when it has none)."""
    row = conn.execute("SELECT id, status, opened_at FROM alerts WHERE fingerprint = ? ORDER BY id DESC LIMIT 1",
                       [key]).fetchone()
    return (None, None, None) if row is None else (int(row[0]), row[1], row[2])


def environment_of(obs: Observation) -> str | None:
    """The environment an observation's series belongs to, as stored: its ``environment`` label (None: the
    default). The label is part of the series, so of the fingerprint: staging and production alert apart."""
    value = obs.labels.get("environment")
    return None if value in (None, "", DEFAULT) else str(value)


def _touch(conn: sqlite3.Connection, alert_id: int, obs: Observation, now: str) -> None:
    conn.execute("UPDATE alerts SET count = count + 1, last_seen_at = ?, last_time = ?, value = ? WHERE id = ?",
                 [now, obs.time, _num(obs.value), alert_id])


def _rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, list(params))
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _dumps(value: Any) -> str:
    return json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False, default=str)


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value
