"""SQL for the monitor tables (migrations ``0003_monitoring`` and ``0007_compact_features``; docs/store.md).

A prediction's features are stored as a JSON array of values (``[34, "pro"]``) with the id of its
*layout*, the JSON array of their names stored once in ``monitor_layouts``: about half the bytes of a
JSON object repeating every name (bench/bench_monitor_volume.py measures it). Rows written before
``0007_compact_features`` keep their JSON object (``layout`` NULL); every reader here decodes both.

Plain functions over an open connection; writers expect to run inside a
transaction (``Store.transaction()``), so callers group a window's results,
its cursor and its alert updates into one commit.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from goldband._util.environment import DEFAULT
from goldband._util.runid import now
from goldband.store.locks import serialize
from goldband.store.pgconn import is_postgres
from goldband.store.sqltext import upsert
from goldband.watch.records import Issue, LabelRow, PredictionRow, dumps
from goldband.watch.scope import Scope

__all__ = [
    "Layout",
    "StoredPrediction",
    "add_issues",
    "decode_features",
    "get_state",
    "in_chunks",
    "insert_labels",
    "insert_predictions",
    "issues",
    "latest_labelled",
    "layouts",
    "lock_state",
    "put_state",
    "scopes",
]

CHUNK = 500  # SQLite's default limit on variables is 999 (older builds); keep IN lists below it


@dataclass(frozen=True, slots=True)
class Layout:
    """The feature names of stored value arrays, and each name's position (one object per layout, shared)."""

    names: tuple[str, ...]
    positions: dict[str, int]

    @classmethod
    def of(cls, names: Sequence[str]) -> Layout:
        return cls(tuple(names), {name: i for i, name in enumerate(names)})


@dataclass(frozen=True, slots=True)
class StoredPrediction:
    """A logged prediction as the checks read it (label joined when asked).

    ``values`` are its feature values in the order of ``layout`` (as stored since 0007), or, with no
    layout, ``{name: value}`` (older rows, and rows built by hand). A list is a fifth of a dict's memory
    and lets a window be read column by column (``goldband.watch.checks.window_columns``).
    """

    id: int
    prediction_id: str
    time: str
    values: dict[str, Any] | list[Any]
    prediction: Any
    confidence: float | None
    label: Any = None
    labelled: bool = False
    layout: Layout | None = None

    @property
    def features(self) -> dict[str, Any]:
        """``{name: value}``, built on each call (``feature`` reads one without building it)."""
        if self.layout is None:
            return self.values  # type: ignore[return-value]  # a dict when there is no layout
        return dict(zip(self.layout.names, self.values, strict=True))

    def feature(self, name: str) -> Any:
        """One feature's value (None when the prediction does not have it)."""
        if self.layout is None:
            return self.values.get(name)  # type: ignore[union-attr]
        at = self.layout.positions.get(name)
        return None if at is None else self.values[at]  # type: ignore[index]


def insert_predictions(conn: sqlite3.Connection, rows: Sequence[PredictionRow], *,
                       stamp: str | None = None, environment: str | None = None) -> tuple[int, list[Issue]]:
    """Insert new predictions; a prediction id already stored (or repeated in ``rows``) is refused and counted.

    ``stamp`` is ``logged_at`` (default: now), from the caller's clock; ``environment`` where they were served
    (checked by the caller; None: the default environment), one per batch as one logger serves in one.
    """
    stamp, fresh, refused = stamp or now(), [], []
    by_model: dict[str, list[PredictionRow]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    ids = _layout_ids(conn, {tuple(row.features) for row in rows})
    for model, group in by_model.items():
        seen = _existing(conn, model, [r.prediction_id for r in group])
        for row in group:
            if row.prediction_id in seen:
                refused.append(Issue("duplicate_id", "prediction_id",
                                     f"prediction id {row.prediction_id!r} is already logged; the new one was refused"))
                continue
            seen.add(row.prediction_id)
            fresh.append((row.model, row.version, row.prediction_id, row.time,
                          row.encoded or dumps(list(row.features.values())),
                          ids[tuple(row.features)], dumps(row.prediction), row.confidence,
                          None if row.proba is None else dumps(row.proba), stamp, environment))
    conn.executemany("INSERT INTO monitor_predictions (model, version, prediction_id, time, features, layout, "
                     "prediction, confidence, proba, logged_at, environment) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", fresh)
    return len(fresh), refused


def _layout_ids(conn: sqlite3.Connection, found: set[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    """The layout id of each tuple of feature names, adding the new ones (a batch usually has one)."""
    ids = {}
    for names in found:
        text = dumps(list(names))
        conn.execute("INSERT OR IGNORE INTO monitor_layouts (names, created_at) VALUES (?, ?)", [text, now()])
        ids[names] = conn.execute("SELECT id FROM monitor_layouts WHERE names = ?", [text]).fetchone()[0]
    return ids


def layouts(conn: sqlite3.Connection) -> dict[int, tuple[str, ...]]:
    """Every layout: its id and its feature names (for ``decode_features``)."""
    return {i: tuple(json.loads(names)) for i, names in conn.execute("SELECT id, names FROM monitor_layouts")}


def decode_features(known: dict[int, tuple[str, ...]], layout: int | None, text: str) -> dict[str, Any]:
    """A stored ``features`` cell as ``{name: value}``: values under a layout, or (layout NULL) an older row's
    JSON object. ``known`` is ``layouts(conn)``, read once per query."""
    values = json.loads(text)
    return values if layout is None else dict(zip(known[layout], values, strict=True))


def _existing(conn: sqlite3.Connection, model: str, ids: list[str]) -> set[str]:
    return {r[0] for r in in_chunks(conn, "SELECT prediction_id FROM monitor_predictions WHERE model = ? AND "
                                          "prediction_id IN ({marks})", [model], ids)}


def in_chunks(conn: sqlite3.Connection, sql: str, params: Sequence[Any], values: Sequence[Any]) -> Iterator[Any]:
    """The rows of ``sql`` (with ``{marks}`` for an IN list) over the distinct ``values``, ``CHUNK`` at a time:
    older SQLite builds allow 999 variables a statement."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), CHUNK):
        part = unique[start:start + CHUNK]
        yield from conn.execute(sql.format(marks=",".join("?" * len(part))), [*params, *part])


def insert_labels(conn: sqlite3.Connection, rows: Iterable[LabelRow], *, stamp: str | None = None) -> int:
    """Store labels; a later label for the same prediction replaces the earlier one (a correction).

    ``stamp`` is ``logged_at`` (default: now): the late-label count compares it with the check's clock.
    """
    stamp = stamp or now()
    values = [(r.model, r.prediction_id, dumps(r.label), r.time, stamp) for r in rows]
    conn.executemany(
        "INSERT INTO monitor_labels (model, prediction_id, label, time, logged_at, updates) "
        "VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (model, prediction_id) DO UPDATE SET label = excluded.label, "
        "time = excluded.time, logged_at = excluded.logged_at, updates = monitor_labels.updates + 1", values)
    return len(values)


def add_issues(conn: sqlite3.Connection, model: str, found: Iterable[Issue], *, times: int = 1) -> None:
    """Count issues per (kind, field) (each ``times`` times), keeping the latest message as the example."""
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    for issue in found:
        counts[issue.kind, issue.field] += times
        examples[issue.kind, issue.field] = issue.message
    stamp = now()
    conn.executemany(
        "INSERT INTO monitor_issues (model, kind, field, count, first_at, last_at, example) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, kind, field) DO UPDATE SET "
        "count = monitor_issues.count + excluded.count, last_at = excluded.last_at, example = excluded.example",
        [(model, kind, field, n, stamp, stamp, examples[kind, field]) for (kind, field), n in counts.items()])


def issues(conn: sqlite3.Connection, model: str | None = None) -> list[dict[str, Any]]:
    """Counted issues, most frequent first."""
    sql = "SELECT model, kind, field, count, first_at, last_at, example FROM monitor_issues"
    rows = conn.execute(sql + (" WHERE model = ?" if model else "") + " ORDER BY count DESC, kind, field",
                        [model] if model else [])
    names = ("model", "kind", "field", "count", "first_at", "last_at", "example")
    return [dict(zip(names, r, strict=True)) for r in rows]


def get_state(conn: sqlite3.Connection, scope: str, key: str) -> dict[str, Any] | None:
    """The saved state of ``(scope, key)`` (a cursor, detectors), locked for the rest of the transaction."""
    lock_state(conn, scope, key)
    row = conn.execute("SELECT state FROM monitor_state WHERE scope = ? AND key = ?", [scope, key]).fetchone()
    return json.loads(row[0]) if row else None


def lock_state(conn: sqlite3.Connection, scope: str, key: str) -> None:
    """Make a check's read-test-write of one state a single step, whoever else checks the same store.

    SQLite's ``BEGIN IMMEDIATE`` already runs write transactions one at a time. PostgreSQL runs them side by
    side: without this, two overlapping checks would both read the same cursor and both record the same
    window or detection. The lock (on the state's name, so it works before the row exists) is held until the
    transaction ends; outside one it is released at once.
    """
    serialize(conn, "monitor_state", scope, key)


def put_state(conn: sqlite3.Connection, scope: str, key: str, state: dict[str, Any]) -> None:
    conn.execute(upsert("monitor_state", ("scope", "key", "state", "updated_at"), ("scope", "key")),
                 [scope, key, dumps(state), now()])


def predictions_after(conn: sqlite3.Connection, scope: Scope, after: tuple[str, int],
                      *, limit: int | None = None, before_time: str | None = None,
                      labelled_only: bool = False) -> Iterator[StoredPrediction]:
    """Predictions of one model version in one environment after ``(time, id)``, in time order, with their
    labels."""
    # a row value, not ``time > ? OR (time = ? AND id > ?)``: SQLite seeks the (model, environment, version,
    # time, id) index to it instead of scanning from the first prediction, which made every window's read
    # slower than the last (quadratic)
    where, params = scope.where("p")
    clauses = [where, "(p.time, p.id) > (?, ?)"]
    params += [after[0], after[1]]
    if before_time is not None:
        clauses.append("p.time < ?")
        params.append(before_time)
    if labelled_only:
        clauses.append("l.label IS NOT NULL")
    # labelled only: walk the model's labels and look each prediction up (CROSS JOIN keeps that order), not
    # every prediction for a label: a store of ten million unlabelled predictions costs nothing here
    # (PostgreSQL's planner picks the order itself, and takes no ON after a CROSS JOIN)
    cross = "JOIN" if is_postgres(conn) else "CROSS JOIN"
    join = (f"monitor_labels l {cross} monitor_predictions p" if labelled_only
            else "monitor_predictions p LEFT JOIN monitor_labels l")
    sql = ("SELECT p.id, p.prediction_id, p.time, p.features, p.layout, p.prediction, p.confidence, l.label "
           f"FROM {join} ON l.model = p.model AND l.prediction_id = p.prediction_id "
           f"WHERE {' AND '.join(clauses)} ORDER BY p.time, p.id" + (f" LIMIT {int(limit)}" if limit else ""))
    known = {i: Layout.of(names) for i, names in layouts(conn).items()}
    loads, decoded = orjson.loads, _Decoded()
    for pid, ext, time, features, layout, prediction, confidence, label in conn.execute(sql, params):
        yield StoredPrediction(pid, ext, time, loads(features), decoded(prediction), confidence,
                               None if label is None else decoded(label), label is not None,
                               None if layout is None else known[layout])


class _Decoded:
    """JSON text to its value, remembered: a classifier's predictions and labels are a few texts repeated
    (``"yes"``, ``1``) and a window reads each once per row; bounded, for a regressor's many distinct ones."""

    LIMIT = 4096

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def __call__(self, text: str) -> Any:
        value = self.seen.get(text, _Decoded)
        if value is _Decoded:
            value = orjson.loads(text)
            if len(self.seen) < self.LIMIT and not isinstance(value, list | dict):  # never share a mutable
                self.seen[text] = value
        return value


def latest_labelled(conn: sqlite3.Connection, model: str, limit: int) -> list[tuple[str, Any, Any]]:
    """The ``limit`` most recent labelled predictions of ``model`` (any version) as (time, features, label),
    oldest first: the gate's ``fresh`` rows, and the time training data must stop before."""
    rows = conn.execute(
        "SELECT p.time, p.features, p.layout, l.label FROM monitor_predictions p JOIN monitor_labels l "
        "ON l.model = p.model AND l.prediction_id = p.prediction_id WHERE p.model = ? "
        "ORDER BY p.time DESC, p.id DESC LIMIT ?", [model, int(limit)]).fetchall()
    known = layouts(conn)
    return [(time, decode_features(known, layout, features), json.loads(label))
            for time, features, layout, label in reversed(rows)]


def versions(conn: sqlite3.Connection, model: str) -> list[str]:
    """The versions a model has predictions for, the newest (by latest prediction) last."""
    found = conn.execute(  # each version found by one index seek (a skip scan), not a GROUP BY over every row
        "WITH RECURSIVE v(version) AS (SELECT MIN(version) FROM monitor_predictions WHERE model = ? UNION ALL "
        "SELECT (SELECT MIN(version) FROM monitor_predictions WHERE model = ? AND version > v.version) FROM v "
        "WHERE v.version IS NOT NULL) SELECT version, (SELECT MAX(time) FROM monitor_predictions WHERE model = ? "
        "AND version = v.version) FROM v WHERE version IS NOT NULL", [model] * 3).fetchall()
    return [version for version, _ in sorted(found, key=lambda r: (r[1], r[0]))]


def scopes(conn: sqlite3.Connection, model: str, versions: Sequence[str],
           environment: str | None = None) -> list[Scope]:
    """Each of ``versions`` in each environment it has predictions in (``environment``, as shown: that one
    only): by version in the given order, then the default environment first, then by name."""
    named = [None if name == DEFAULT else name for name in environments(conn, model)
             if environment in (None, name)]
    named.sort(key=lambda name: (name is not None, name or ""))
    found = []
    for version in versions:
        for name in named:  # one index seek each
            scope = Scope(model, version, name)
            where, params = scope.where()
            if conn.execute(f"SELECT 1 FROM monitor_predictions WHERE {where} LIMIT 1", params).fetchone():
                found.append(scope)
    return found


def environments(conn: sqlite3.Connection, model: str) -> list[str]:
    """The environments a model has predictions in, as shown (``default`` for NULL), in name order."""
    named = conn.execute(  # each found by one seek of the (model, environment, ...) index, as ``versions`` does
        "WITH RECURSIVE e(name) AS (SELECT MIN(environment) FROM monitor_predictions WHERE model = ? UNION ALL "
        "SELECT (SELECT MIN(environment) FROM monitor_predictions WHERE model = ? AND environment > e.name) FROM e "
        "WHERE e.name IS NOT NULL) SELECT name FROM e WHERE name IS NOT NULL", [model, model]).fetchall()
    default = conn.execute("SELECT 1 FROM monitor_predictions WHERE model = ? AND environment IS NULL LIMIT 1",
                           [model]).fetchone()
    return sorted([str(r[0]) for r in named] + ([DEFAULT] if default else []))


def models(conn: sqlite3.Connection) -> list[str]:
    """Every model with predictions or a reference."""
    rows = conn.execute("SELECT model FROM monitor_predictions GROUP BY model "
                        "UNION SELECT model FROM monitor_references ORDER BY model")
    return [r[0] for r in rows]
