"""SQL for the LLM trace tables (migration ``0008_llm_traces``; docs/store.md).

``llm_traces`` keeps one row per production call, unique by (app, trace id,
span id): logging or ingesting the same call twice stores it once (the second
is refused and counted as ``duplicate_trace``). ``llm_feedback`` keeps what
users and reviewers said about a trace, later and from any process; a
feedback row carries a ``key`` (its file and line, or a caller's id) so a
feedback file ingested twice is stored once. ``llm_evaluations`` keeps what
``goldband monitor evaluate`` found in each trace.

Plain functions over an open connection; writers run inside the caller's
transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from goldband.watch.db import in_chunks
from goldband.watch.records import Issue, dumps
from goldband.watch.scope import Scope
from goldband.watch.tracerecords import TraceRecord

__all__ = [
    "Feedback",
    "StoredTrace",
    "apps",
    "feedback_of",
    "insert_feedback",
    "insert_traces",
    "known_traces",
    "stored_keys",
    "traces_after",
]

_COLUMNS = ("app", "trace_id", "span_id", "version", "time", "input", "output", "tool_calls", "latency_ms",
            "input_tokens", "output_tokens", "cost", "model", "finish_reason", "error", "attributes", "source",
            "logged_at")
_WRITTEN = ", ".join((*_COLUMNS, "environment"))  # the environment is the batch's (one per logger or file)
_MARKS = ", ".join("?" * (len(_COLUMNS) + 1))


@dataclass(frozen=True, slots=True)
class Feedback:
    """One piece of feedback on a trace: ``kind`` is thumbs (score +1/-1), comment, correction or label."""

    app: str
    trace_id: str
    kind: str
    value: str | None
    score: int | None
    by: str | None
    time: str
    key: str | None = None


@dataclass(frozen=True, slots=True)
class StoredTrace:
    """A stored trace as evaluation and candidate selection read it."""

    id: int
    record: TraceRecord


def insert_traces(conn: sqlite3.Connection, records: Sequence[TraceRecord], *, stamp: str,
                  default_version: str = "1", environment: str | None = None) -> tuple[int, list[Issue]]:
    """Insert new traces; a (app, trace id, span id) already stored or repeated is refused and counted.

    The batch goes in with ``INSERT OR IGNORE`` under a savepoint; only when the unique index ignored a
    row is it undone and redone row by row, to name each duplicate (looking every id up first cost more
    than the insert itself). ``environment``: where the calls were served (checked; None: the default).
    """
    values = [(*_values(r, stamp, default_version), environment) for r in records]
    conn.execute("SAVEPOINT traces")
    written = conn.executemany(f"INSERT OR IGNORE INTO llm_traces ({_WRITTEN}) VALUES ({_MARKS})",
                               values).rowcount
    if written == len(values):
        conn.execute("RELEASE traces")
        return written, []
    conn.execute("ROLLBACK TO traces")
    conn.execute("RELEASE traces")
    return _insert_naming_duplicates(conn, records, values)


def _insert_naming_duplicates(conn: sqlite3.Connection, records: Sequence[TraceRecord],
                              values: list[tuple[Any, ...]]) -> tuple[int, list[Issue]]:
    seen = _stored_keys(conn, records)
    fresh, refused = [], []
    for r, row in zip(records, values, strict=True):
        key = (r.app, r.trace_id, r.span_id)
        if key in seen:
            refused.append(Issue("duplicate_trace", "trace_id", f"trace {r.trace_id!r}"
                                 + (f" span {r.span_id!r}" if r.span_id else "") + " is already stored; not stored "
                                 "again"))
            continue
        seen.add(key)
        fresh.append(row)
    conn.executemany(f"INSERT INTO llm_traces ({_WRITTEN}) VALUES ({_MARKS})", fresh)
    return len(fresh), refused


def _values(r: TraceRecord, stamp: str, default_version: str) -> tuple[Any, ...]:
    return (r.app, r.trace_id, r.span_id, r.version or default_version, r.time or stamp, dumps(r.input), r.output,
            dumps(list(r.tool_calls)) if r.tool_calls else None, r.latency_ms, r.input_tokens, r.output_tokens,
            r.cost, r.model, r.finish_reason, r.error, dumps(r.attributes) if r.attributes else None, r.source,
            stamp)


def _stored_keys(conn: sqlite3.Connection, records: Sequence[TraceRecord]) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for app in {r.app for r in records}:
        found.update(in_chunks(conn, "SELECT app, trace_id, span_id FROM llm_traces WHERE app = ? AND trace_id IN "
                                     "({marks})", [app], [r.trace_id for r in records if r.app == app]))
    return found


def known_traces(conn: sqlite3.Connection, app: str, trace_ids: Sequence[str]) -> set[str]:
    """The ids among ``trace_ids`` that ``app`` has a stored trace for."""
    return {r[0] for r in in_chunks(conn, "SELECT DISTINCT trace_id FROM llm_traces WHERE app = ? AND trace_id IN "
                                          "({marks})", [app], trace_ids)}


def insert_feedback(conn: sqlite3.Connection, rows: Sequence[Feedback], *, stamp: str) -> tuple[int, int]:
    """Insert feedback; returns (written, already stored: a row whose ``key`` is already there)."""
    cur = conn.executemany(
        "INSERT OR IGNORE INTO llm_feedback (app, trace_id, kind, value, score, by, time, key, logged_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(f.app, f.trace_id, f.kind, f.value, f.score, f.by, f.time, f.key, stamp) for f in rows])
    written = cur.rowcount if cur.rowcount >= 0 else len(rows)
    return written, len(rows) - written


def stored_keys(conn: sqlite3.Connection, keys: Sequence[str]) -> set[str]:
    """The feedback keys among ``keys`` already stored."""
    return {r[0] for r in in_chunks(conn, "SELECT key FROM llm_feedback WHERE key IN ({marks})", [], keys)}


def feedback_of(conn: sqlite3.Connection, app: str, trace_ids: Sequence[str]) -> dict[str, list[Feedback]]:
    """The feedback of each trace id that has some, oldest first."""
    found: dict[str, list[Feedback]] = {}
    for row in in_chunks(conn, "SELECT app, trace_id, kind, value, score, by, time, key FROM llm_feedback WHERE "
                               "app = ? AND trace_id IN ({marks}) ORDER BY time, id", [app], trace_ids):
        found.setdefault(row[1], []).append(Feedback(*row))
    return found


def traces_after(conn: sqlite3.Connection, scope: Scope, after: tuple[str, int], *,
                 limit: int | None = None) -> Iterator[StoredTrace]:
    """Traces of one app version served in one environment (``scope``) after ``(time, id)``, in time order."""
    where, params = scope.where(model="app")
    sql = (f"SELECT id, {', '.join(_COLUMNS[:-1])} FROM llm_traces WHERE {where} AND (time, id) > (?, ?) "
           "ORDER BY time, id" + (f" LIMIT {int(limit)}" if limit else ""))
    params += [after[0], after[1]]
    for row in conn.execute(sql, params):
        yield StoredTrace(row[0], _record(row[1:]))


def _record(row: Sequence[Any]) -> TraceRecord:
    (app, trace_id, span_id, version, time, text, output, tools, latency, tokens_in, tokens_out, cost, model,
     finish, error, attributes, source) = row
    return TraceRecord(app, trace_id, time, orjson.loads(text), output, span_id, version,
                       tuple(orjson.loads(tools)) if tools else (), latency, tokens_in, tokens_out, cost, model,
                       finish, error, orjson.loads(attributes) if attributes else {}, source)


def apps(conn: sqlite3.Connection) -> list[str]:
    """Every app with stored traces."""
    return [r[0] for r in conn.execute("SELECT DISTINCT app FROM llm_traces ORDER BY app")]
