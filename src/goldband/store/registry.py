"""SQL for the registry tables (migration ``0004_registry``, documented in docs/store.md).

Plain row types and functions over an open connection; writers expect to run
inside a transaction (``Store.transaction()``), so a registration, an alias move
and its event commit together or not at all. Versions and events are only ever
inserted: a version is immutable and the event log is append-only; the
``registry_aliases`` table is the log's current state, kept in the same
transaction as the event that moved it (``replay`` rebuilds it from the log).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from goldband.store.sqltext import upsert
from goldband.store.writer import dumps

__all__ = [
    "ALIAS_EVENTS",
    "EVENT_KINDS",
    "EventRow",
    "GateRow",
    "ModelRow",
    "RetrainRequest",
    "StepRow",
    "VersionRow",
    "lookup",
    "replay",
    "split_ref",
]

EVENT_KINDS = ("register", "promote", "rollback", "park", "approve")
ALIAS_EVENTS = ("promote", "rollback")  # the events that move an alias


# json.loads without its wrappers (the column holds one JSON object, stored by ``dumps``): a history reads
# every event of a model, and these wrappers were a third of that time.
_decode = json.JSONDecoder().raw_decode


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class ModelRow:
    name: str
    kind: str  # classic | llm
    description: str | None = None
    created_at: str = ""
    created_by: str | None = None


@dataclass(frozen=True)
class VersionRow:
    """One immutable model version: what it is, what made it, where its artifact lives."""

    model: str
    version: str
    seq: int
    artifact_kind: str  # file | dir | uri | none
    artifact: str | None = None  # a path in the artifact folder (file, dir) or a URI
    artifact_sha256: str | None = None
    artifact_bytes: int | None = None
    data: dict[str, Any] | None = None  # the training-data snapshot: path or uri, sha256, rows, columns
    features: dict[str, str] | None = None  # name -> type
    params: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] | None = None  # an LLM version: the target's full configuration and its hash
    code_version: str | None = None
    parent: str | None = None
    description: str | None = None
    created_at: str = ""
    created_by: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"


@dataclass(frozen=True)
class EventRow:
    """One entry of the append-only event log."""

    model: str
    kind: str  # see EVENT_KINDS
    time: str
    alias: str | None = None
    from_version: str | None = None
    to_version: str | None = None
    actor: str | None = None
    reason: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    forced: bool = False
    id: int | None = None  # set when stored
    environment: str | None = None  # where the move was made from (None: the default environment)


@dataclass(frozen=True)
class GateRow:
    """One gate decision: candidate against champion on one evaluation set."""

    model: str
    candidate: str
    kind: str  # classic | llm
    status: str  # running | complete | failed
    started_at: str
    champion: str | None = None
    decision: str | None = None  # pass | fail
    policy: str | None = None
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    eval_set: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    finished_at: str | None = None
    actor: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class RetrainRequest:
    model: str
    trigger: str  # alert | manual
    status: str  # queued | running | waiting | promoted | parked | failed | cancelled
    created_at: str
    alert_id: int | None = None
    reason: str | None = None
    candidate: str | None = None
    gate_id: int | None = None
    data_since: str | None = None
    updated_at: str | None = None
    actor: str | None = None
    owner: str | None = None  # "host:pid" of the process running it
    id: int | None = None


@dataclass(frozen=True)
class StepRow:
    request_id: int
    step: str
    status: str  # running | done | failed | skipped
    started_at: str
    finished_at: str | None = None
    log: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1


# --------------------------------------------------------------------------- models and versions


def insert_model(conn: sqlite3.Connection, row: ModelRow) -> None:
    conn.execute("INSERT OR IGNORE INTO registry_models (name, kind, description, created_at, created_by) "
                 "VALUES (?, ?, ?, ?, ?)", [row.name, row.kind, row.description, row.created_at, row.created_by])


def model(conn: sqlite3.Connection, name: str) -> ModelRow | None:
    found = conn.execute("SELECT name, kind, description, created_at, created_by FROM registry_models "
                         "WHERE name = ?", [name]).fetchone()
    return ModelRow(*found) if found else None


def models(conn: sqlite3.Connection) -> list[ModelRow]:
    rows = conn.execute("SELECT name, kind, description, created_at, created_by FROM registry_models "
                        "ORDER BY name").fetchall()
    return [ModelRow(*r) for r in rows]


def next_seq(conn: sqlite3.Connection, name: str) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM registry_versions WHERE model = ?",
                            [name]).fetchone()[0])


_VERSION_COLUMNS = ("model", "version", "seq", "artifact_kind", "artifact", "artifact_sha256", "artifact_bytes",
                    "data", "features", "params", "target", "code_version", "parent", "description", "created_at",
                    "created_by")
_JSON = ("data", "features", "params", "target")


def insert_version(conn: sqlite3.Connection, row: VersionRow) -> None:
    values = [dumps(getattr(row, c)) if c in _JSON else getattr(row, c) for c in _VERSION_COLUMNS]
    conn.execute(f"INSERT INTO registry_versions ({', '.join(_VERSION_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(_VERSION_COLUMNS))})", values)


def _version_row(values: Sequence[Any]) -> VersionRow:
    data = {c: (_loads(v) if c in _JSON else v) for c, v in zip(_VERSION_COLUMNS, values, strict=True)}
    data["params"] = data["params"] or {}
    return VersionRow(**data)


def version(conn: sqlite3.Connection, name: str, number: str) -> VersionRow | None:
    found = conn.execute(f"SELECT {', '.join(_VERSION_COLUMNS)} FROM registry_versions "
                         "WHERE model = ? AND version = ?", [name, number]).fetchone()
    return _version_row(found) if found else None


def versions(conn: sqlite3.Connection, name: str) -> list[VersionRow]:
    rows = conn.execute(f"SELECT {', '.join(_VERSION_COLUMNS)} FROM registry_versions WHERE model = ? "
                        "ORDER BY seq", [name]).fetchall()
    return [_version_row(r) for r in rows]


def split_ref(ref: str, default_alias: str = "production") -> tuple[str, str | None, str | None]:
    """``model@alias`` -> (model, alias, None); ``model:version`` -> (model, None, version); ``model`` ->
    (model, default_alias, None).

    Aliases are named by environment, by convention: ``churn@staging`` and ``churn@production`` are two
    aliases of one model, each moved on its own (promote, rollback) and each event recording the environment
    it was made from; a region is one more alias (``churn@eu-west``).

    >>> split_ref("churn@staging"), split_ref("churn:3"), split_ref("churn")
    (('churn', 'staging', None), ('churn', None, '3'), ('churn', 'production', None))
    """
    if "@" in ref:
        name, _, alias = ref.partition("@")
        return name, alias, None
    if ":" in ref:
        name, _, number = ref.partition(":")
        return name, None, number
    return ref, default_alias, None


def lookup(conn: sqlite3.Connection, ref: str) -> VersionRow | None:
    """The version ``ref`` names (``model@alias``, ``model:version``, ``model``), or None."""
    name, alias, number = split_ref(ref)
    if number is None:
        number = aliases(conn, name).get((name, alias or "production"))
    return version(conn, name, number) if number is not None else None


# --------------------------------------------------------------------------- events and aliases

_EVENT_COLUMNS = ("id", "model", "kind", "alias", "from_version", "to_version", "time", "actor", "reason",
                  "evidence", "forced", "environment")


def append_event(conn: sqlite3.Connection, event: EventRow) -> int:
    """Append ``event``; an alias event also moves its alias (same transaction). Returns the event id."""
    cursor = conn.execute(
        "INSERT INTO registry_events (model, kind, alias, from_version, to_version, time, actor, reason, evidence, "
        "forced, environment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [event.model, event.kind, event.alias, event.from_version, event.to_version, event.time, event.actor,
         event.reason, dumps(event.evidence), int(event.forced), event.environment])
    event_id = int(cursor.fetchone()[0])
    if event.kind in ALIAS_EVENTS and event.alias and event.to_version:
        conn.execute("INSERT INTO registry_aliases (model, alias, version, event_id, updated_at) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, "
                     "event_id = excluded.event_id, updated_at = excluded.updated_at",
                     [event.model, event.alias, event.to_version, event_id, event.time])
    return event_id


def _event_row(values: Sequence[Any]) -> EventRow:
    event_id, name, kind, alias, from_version, to_version, time, actor, reason, evidence, forced, env = values
    found = {} if evidence in (None, "{}") else _decode(evidence)[0]
    return EventRow(name, kind, time, alias, from_version, to_version, actor, reason, found, bool(forced), event_id,
                    env)


def count_events(conn: sqlite3.Connection, name: str) -> int:
    """How many events a model's log holds."""
    return int(conn.execute("SELECT COUNT(*) FROM registry_events WHERE model = ?", [name]).fetchone()[0])


def events(conn: sqlite3.Connection, name: str | None = None, *, limit: int | None = None,
           until: str | None = None, kinds: Sequence[str] | None = None, version: str | None = None,
           alias: str | None = None) -> list[EventRow]:
    """The event log, oldest first: of one model when ``name``, up to time ``until``, of these ``kinds``, moving
    to ``version``, on ``alias``; the last ``limit`` of them."""
    where, params = _event_filter(name, until, kinds, version, alias)
    order = "ORDER BY id DESC" if limit else "ORDER BY id"
    rows = conn.execute(f"SELECT {', '.join(_EVENT_COLUMNS)} FROM registry_events {where} {order}"
                        + (f" LIMIT {int(limit)}" if limit else ""), params).fetchall()
    found = [_event_row(r) for r in rows]
    return found[::-1] if limit else found


def _event_filter(name: str | None, until: str | None, kinds: Sequence[str] | None, version: str | None,
                  alias: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, value in (("model", name), ("to_version", version), ("alias", alias)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if until is not None:
        clauses.append("time <= ?")
        params.append(until)
    if kinds is not None:
        clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params.extend(kinds)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def aliases(conn: sqlite3.Connection, name: str | None = None) -> dict[tuple[str, str], str]:
    """The current aliases: (model, alias) -> version."""
    where, params = ("WHERE model = ?", [name]) if name else ("", [])
    rows = conn.execute(f"SELECT model, alias, version FROM registry_aliases {where}", params).fetchall()
    return {(m, a): v for m, a, v in rows}


def alias_at(conn: sqlite3.Connection, name: str, alias: str, at: str) -> str | None:
    """The version ``alias`` pointed at, at time ``at`` (the last alias event at or before it)."""
    last = events(conn, name, until=at, kinds=ALIAS_EVENTS, alias=alias, limit=1)
    return last[0].to_version if last else None


def replay(log: Iterable[EventRow]) -> dict[tuple[str, str], str]:
    """The aliases an event log leads to: (model, alias) -> version. Pure; equals ``aliases`` by design."""
    state: dict[tuple[str, str], str] = {}
    for event in log:
        if event.kind in ALIAS_EVENTS and event.alias and event.to_version:
            state[(event.model, event.alias)] = event.to_version
    return state


# --------------------------------------------------------------------------- gates

_GATE_COLUMNS = ("id", "model", "candidate", "champion", "kind", "status", "decision", "policy", "reasons",
                 "metrics", "eval_set", "details", "started_at", "finished_at", "actor")
_GATE_JSON = ("reasons", "metrics", "eval_set", "details")


def insert_gate(conn: sqlite3.Connection, gate: GateRow) -> int:
    columns = [c for c in _GATE_COLUMNS if c != "id"]
    values = [dumps(getattr(gate, c)) if c in _GATE_JSON else getattr(gate, c) for c in columns]
    cursor = conn.execute(f"INSERT INTO registry_gates ({', '.join(columns)}) VALUES "
                          f"({', '.join('?' * len(columns))}) RETURNING id", values)
    return int(cursor.fetchone()[0])


def finish_gate(conn: sqlite3.Connection, gate_id: int, gate: GateRow) -> None:
    """Record a gate's outcome (status, decision, reasons, metrics, details, finish time)."""
    conn.execute("UPDATE registry_gates SET status = ?, decision = ?, reasons = ?, metrics = ?, eval_set = ?, "
                 "details = ?, finished_at = ? WHERE id = ?",
                 [gate.status, gate.decision, dumps(gate.reasons), dumps(gate.metrics), dumps(gate.eval_set),
                  dumps(gate.details), gate.finished_at, gate_id])


def _gate_row(values: Sequence[Any]) -> GateRow:
    data = {c: (_loads(v) if c in _GATE_JSON else v) for c, v in zip(_GATE_COLUMNS, values, strict=True)}
    for key, empty in (("reasons", []), ("metrics", {}), ("eval_set", {}), ("details", {})):
        data[key] = data[key] if data[key] is not None else empty
    return GateRow(**data)


def gate(conn: sqlite3.Connection, gate_id: int) -> GateRow | None:
    found = conn.execute(f"SELECT {', '.join(_GATE_COLUMNS)} FROM registry_gates WHERE id = ?", [gate_id]).fetchone()
    return _gate_row(found) if found else None


def gates(conn: sqlite3.Connection, name: str, candidate: str | None = None) -> list[GateRow]:
    """A model's gates (of one candidate version), oldest first."""
    where, params = ("WHERE model = ? AND candidate = ?", [name, candidate]) if candidate else (
        "WHERE model = ?", [name])
    rows = conn.execute(f"SELECT {', '.join(_GATE_COLUMNS)} FROM registry_gates {where} ORDER BY id",
                        params).fetchall()
    return [_gate_row(r) for r in rows]


# --------------------------------------------------------------------------- artifact checks


def artifact_check(conn: sqlite3.Connection, path: str) -> tuple[int, int, str] | None:
    """(size, mtime_ns, sha256) recorded when ``path`` was last hashed, or None."""
    row = conn.execute("SELECT size, mtime_ns, sha256 FROM registry_artifact_checks WHERE path = ?",
                       [path]).fetchone()
    return (int(row[0]), int(row[1]), str(row[2])) if row else None


def put_artifact_check(conn: sqlite3.Connection, path: str, size: int, mtime_ns: int, sha256: str,
                       stamp: str) -> None:
    conn.execute(upsert("registry_artifact_checks", ("path", "size", "mtime_ns", "sha256", "checked_at"), ("path",)),
                 [path, size, mtime_ns, sha256, stamp])


# --------------------------------------------------------------------------- retrain requests and steps

_REQUEST_COLUMNS = ("id", "model", "trigger", "alert_id", "reason", "status", "candidate", "gate_id", "data_since",
                    "created_at", "updated_at", "actor", "owner")


def insert_request(conn: sqlite3.Connection, request: RetrainRequest) -> int | None:
    """Queue a retrain request; None when one already exists for the same alert (once per incident)."""
    columns = [c for c in _REQUEST_COLUMNS if c != "id"]
    cursor = conn.execute(f"INSERT OR IGNORE INTO retrain_requests ({', '.join(columns)}) VALUES "
                          f"({', '.join('?' * len(columns))}) RETURNING id", [getattr(request, c) for c in columns])
    row = cursor.fetchone()
    return None if row is None else int(row[0])


def update_request(conn: sqlite3.Connection, request_id: int, **changes: Any) -> None:
    unknown = set(changes) - set(_REQUEST_COLUMNS)
    if unknown:
        raise KeyError(f"unknown retrain request columns: {sorted(unknown)}")
    sets = ", ".join(f"{c} = ?" for c in changes)
    conn.execute(f"UPDATE retrain_requests SET {sets} WHERE id = ?", [*changes.values(), request_id])


def requests(conn: sqlite3.Connection, name: str | None = None, *,
             statuses: Sequence[str] | None = None) -> list[RetrainRequest]:
    clauses, params = [], []
    if name is not None:
        clauses.append("model = ?")
        params.append(name)
    if statuses:
        clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
        params += list(statuses)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = conn.execute(f"SELECT {', '.join(_REQUEST_COLUMNS)} FROM retrain_requests {where} ORDER BY id",
                        params).fetchall()
    return [RetrainRequest(**dict(zip(_REQUEST_COLUMNS, r, strict=True))) for r in rows]


def request(conn: sqlite3.Connection, request_id: int) -> RetrainRequest | None:
    row = conn.execute(f"SELECT {', '.join(_REQUEST_COLUMNS)} FROM retrain_requests WHERE id = ?",
                       [request_id]).fetchone()
    return RetrainRequest(**dict(zip(_REQUEST_COLUMNS, row, strict=True))) if row else None


_STEP_COLUMNS = ("request_id", "step", "status", "started_at", "finished_at", "log", "detail", "attempts")


def put_step(conn: sqlite3.Connection, step: StepRow) -> None:
    conn.execute(upsert("retrain_steps", _STEP_COLUMNS, ("request_id", "step")),
                 [dumps(step.detail) if c == "detail" else getattr(step, c) for c in _STEP_COLUMNS])


def steps(conn: sqlite3.Connection, request_id: int, order: Sequence[str] = ()) -> list[StepRow]:
    """A request's steps by start time; steps started at the same moment in ``order`` (the pipeline's), then by
    name (the table has no insertion order both backends keep)."""
    rows = conn.execute(f"SELECT {', '.join(_STEP_COLUMNS)} FROM retrain_steps WHERE request_id = ? "
                        "ORDER BY started_at, step", [request_id]).fetchall()
    found = []
    for r in rows:
        data = dict(zip(_STEP_COLUMNS, r, strict=True))
        data["detail"] = _loads(data["detail"]) or {}
        found.append(StepRow(**data))
    rank = {name: i for i, name in enumerate(order)}
    return sorted(found, key=lambda s: (s.started_at, rank.get(s.step, len(rank))))
