"""Reading the store: runs, per-case counts and history, verdicts, trials, series.

Everything here is a read (no transaction needed: WAL readers see the last
committed state and never block a writer). Run references accept an exact id,
a unique prefix of one, or ``latest``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import orjson

from goldband._util.environment import environment_clause
from goldband.errors import StoreError
from goldband.results import Completion, Score, ScoredTrial, ToolCall, Trial, Turn, Verdict
from goldband.store import postgres
from goldband.store.models import (
    CaseCounts,
    CaseKey,
    DriftEvent,
    HistoryPoint,
    Rendering,
    RunRow,
    SeriesPoint,
    StoredVerdict,
    labels_key,
    process_alive,
)

# stored run statuses that can read as this effective status (a dead 'running' run reads as incomplete)
STORED_AS = {"incomplete": ("incomplete", "running"), "running": ("running",)}

CASE_HISTORY_SQL = (
    "SELECT v.run_id, r.started_at, r.kind, r.status AS run_status, r.host, r.pid, v.status, v.n, "
    "v.passes, v.pass_rate, v.pass_rate_low, v.pass_rate_high, v.mean_score "
    "FROM verdicts v JOIN runs r ON r.id = v.run_id "
    "WHERE v.goldenset = ? AND v.case_id = ? AND v.target = ? AND COALESCE(r.draft, 0) != 1{also} "
    "ORDER BY r.started_at DESC, v.run_id DESC LIMIT ?")
CASE_HISTORY_FILTERS = {  # the optional filters of ``case_history``
    "kind": " AND r.kind = ?",
    "version": " AND v.goldenset_hash IN (SELECT hash FROM goldensets WHERE name = v.goldenset AND version = ?)",
    "environment": " AND COALESCE(r.environment, 'default') = ?",  # NULL: the default environment
}


class Queries:
    """Read methods of ``Store`` (mixed in): each statement runs and is fetched under the store's lock."""

    conn: sqlite3.Connection
    path: Path
    lock: threading.RLock
    url: str | None  # StoreBase's: the PostgreSQL URL, None for an SQLite file

    @property
    def where(self) -> str:
        """StoreBase's: what messages name the store by (a path, or the masked URL)."""
        raise NotImplementedError

    def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.conn.execute(sql, tuple(params)).fetchall()

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self.lock:
            cursor = self.conn.execute(sql, tuple(params))
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        return [dict(zip(names, row, strict=True)) for row in rows]

    # runs ---------------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRow | None:
        """The run with exactly this id, or None."""
        rows = self._rows("SELECT * FROM runs WHERE id = ?", [run_id])
        return run_row(rows[0]) if rows else None

    def resolve_run(self, ref: str) -> RunRow:
        """A run from an id, a unique id prefix, or ``latest``; a clear StoreError otherwise."""
        if ref in ("latest", "last"):
            rows = self._rows("SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT 1")
        else:
            rows = (self._rows("SELECT * FROM runs WHERE id = ?", [ref]) or
                    self._rows("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 3",
                               [_like_prefix(ref)]))
        if len(rows) == 1:
            return run_row(rows[0])
        recent = ", ".join(r.id for r in self.runs(limit=3)) or "(no runs yet)"
        what = f"run id '{ref}' is ambiguous ({', '.join(r['id'] for r in rows)}, ...)" if rows else \
            f"no run '{ref}' in this store"
        raise StoreError(what, where=self.where, expected=f"a run id such as {recent}, a unique prefix, or latest",
                         fix="list runs with `goldband history`")

    def runs(self, *, limit: int | None = 20, kind: str | None = None, branch: str | None = None,
             goldenset: str | None = None, status: str | None = None, version: str | None = None,
             draft: bool | None = None, environment: str | None = None) -> list[RunRow]:
        """Runs, newest first, filtered; ``status`` compares the effective status, ``version`` the version
        of a golden set the run used (of ``goldenset`` when that is given too); ``draft=False``: no draft runs;
        ``environment``: runs in that environment only (``default``: runs recorded without one)."""
        where, params = _run_filters(kind, branch, goldenset, status, version, draft)
        where, params = _and_environment(where, params, environment)
        exact = status not in STORED_AS  # the stored status is the effective one: SQL can stop at the limit
        sql = f"SELECT * FROM runs {where} ORDER BY started_at DESC, id DESC"
        if exact and limit is not None:
            sql += f" LIMIT {int(limit)}"
        found = [run_row(r) for r in self._rows(sql, params)]
        chosen = found if exact else [r for r in found if r.status == status]
        return chosen if limit is None else chosen[:limit]

    def latest_run(self, *, kind: str | None = None, branch: str | None = None, goldenset: str | None = None,
                   status: str | None = "complete", draft: bool | None = False) -> RunRow | None:
        """The newest run matching the filters (default: complete runs, no drafts), e.g. a baseline."""
        found = self.runs(limit=1, kind=kind, branch=branch, goldenset=goldenset, status=status, draft=draft)
        return found[0] if found else None

    def run_goldensets(self, run_id: str) -> dict[str, str]:
        """Golden set name -> content hash, as the run used them."""
        rows = self._rows("SELECT name, goldenset_hash FROM run_goldensets WHERE run_id = ?", [run_id])
        return {r["name"]: r["goldenset_hash"] for r in rows}

    def draft_goldensets(self, run_id: str) -> list[str]:
        """The golden sets the run used as drafts (changed under their version; see ``goldband.golden.lock``)."""
        return [r[0] for r in self._fetch("SELECT name FROM run_goldensets WHERE run_id = ? AND COALESCE(draft, 0) = 1 "
                                          "ORDER BY name", [run_id])]

    def goldenset_versions(self, run_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """Run id -> golden set name -> version, as each run used them (for history lists and trends)."""
        ids = list(run_ids)
        found: dict[str, dict[str, str]] = {run_id: {} for run_id in ids}
        for start in range(0, len(ids), 500):  # well under SQLite's limit of bound parameters
            chunk = ids[start:start + 500]
            for run_id, name, version in self._fetch(
                    "SELECT rg.run_id, rg.name, g.version FROM run_goldensets rg "
                    "JOIN goldensets g ON g.hash = rg.goldenset_hash "
                    f"WHERE rg.run_id IN ({', '.join('?' * len(chunk))}) ORDER BY rg.name", chunk):
                found[run_id][name] = version
        return found

    def run_targets(self, run_id: str) -> dict[str, str]:
        """Target name -> content hash, as the run used them."""
        rows = self._rows("SELECT name, target_hash FROM run_targets WHERE run_id = ?", [run_id])
        return {r["name"]: r["target_hash"] for r in rows}

    def run_items(self, run_id: str) -> list[dict[str, Any]]:
        """The (case x target) items the run selected, with their node ids and planned runs."""
        return self._rows("SELECT goldenset, case_id, target, nodeid, min_runs, max_runs FROM run_items "
                          "WHERE run_id = ? ORDER BY goldenset, case_id, target", [run_id])

    def run_shards(self, run_id: str) -> list[dict[str, Any]]:
        """The shards recorded into a sharded run (``--goldband-shard``), by shard number; none otherwise."""
        return self._rows("SELECT shard, shards, items, exit_status, started_at, finished_at FROM run_shards "
                          "WHERE run_id = ? ORDER BY shard", [run_id])

    # per-case results -------------------------------------------------------------------------

    def case_counts(self, run_id: str) -> dict[CaseKey, CaseCounts]:
        """Per (goldenset, case_id, target): trial counts, pass booleans and scores (by sample)."""
        rows = self._fetch("SELECT goldenset, case_id, target, outcome, score FROM trials WHERE run_id = ? "
                           "ORDER BY goldenset, case_id, target, sample", [run_id])
        grouped: dict[CaseKey, list[tuple[str, float | None]]] = {}
        for gs, case, target, outcome, score in rows:
            grouped.setdefault((gs, case, target), []).append((outcome, score))
        return {key: _counts(values) for key, values in grouped.items()}

    def case_history(self, goldenset: str, case_id: str, target: str, *, limit: int = 50, kind: str | None = None,
                     version: str | None = None, environment: str | None = None) -> list[HistoryPoint]:
        """One case's verdicts across runs, newest first (index: verdicts(goldenset, case_id, target)),
        only of runs of ``kind``, of the golden set's ``version`` and in ``environment`` when given."""
        given = {name: value for name, value in (("kind", kind), ("version", version), ("environment", environment))
                 if value is not None}
        sql = CASE_HISTORY_SQL.format(also="".join(CASE_HISTORY_FILTERS[name] for name in given))
        rows = self._rows(sql, [goldenset, case_id, target, *given.values(), limit])
        return [HistoryPoint(r["run_id"], r["started_at"], r["kind"],
                             effective_status(r["run_status"], r["host"], r["pid"]), r["status"], r["n"], r["passes"],
                             r["pass_rate"], r["pass_rate_low"], r["pass_rate_high"], r["mean_score"]) for r in rows]

    def verdict_keys(self, run_id: str) -> set[CaseKey]:
        """The run's items that have a verdict (keys only: no verdict's details are decoded)."""
        return {(g, c, t) for g, c, t in self._fetch(
            "SELECT goldenset, case_id, target FROM verdicts WHERE run_id = ?", [run_id])}

    def verdict_counts(self, run_id: str) -> dict[str, int]:
        """How many of the run's verdicts have each status."""
        return {str(status): int(n) for status, n in self._fetch(
            "SELECT status, COUNT(*) FROM verdicts WHERE run_id = ? GROUP BY status ORDER BY status", [run_id])}

    def verdicts(self, run_id: str) -> dict[CaseKey, StoredVerdict]:
        rows = self._rows("SELECT * FROM verdicts WHERE run_id = ? ORDER BY goldenset, case_id, target", [run_id])
        return {(r["goldenset"], r["case_id"], r["target"]): StoredVerdict(
            r["goldenset"], r["case_id"], r["target"], r["nodeid"], r["goldenset_hash"], r["target_hash"],
            _verdict(orjson.loads(r["details"])), r["created_at"]) for r in rows}

    def scored_trials(self, run_id: str) -> dict[CaseKey, list[ScoredTrial]]:
        """Every stored trial of a run with its scores, as the engine produced them."""
        scores: dict[int, list[Score]] = {}
        for tid, name, kind, outcome, value, detail, evidence, gating, meta in self._fetch(
                "SELECT s.trial_id, s.check_name, s.kind, s.outcome, s.score, s.detail, s.evidence, s.gating, s.meta "
                "FROM scores s JOIN trials t ON t.id = s.trial_id WHERE t.run_id = ? ORDER BY s.trial_id, s.idx",
                [run_id]):
            scores.setdefault(tid, []).append(Score(name, outcome, value, detail or "", evidence, kind,
                                                    gating=gating is None or bool(gating),
                                                    meta=json.loads(meta) if meta else None))
        found: dict[CaseKey, list[ScoredTrial]] = {}
        for row in self._rows("SELECT * FROM trials WHERE run_id = ? ORDER BY goldenset, case_id, target, sample",
                              [run_id]):
            key = (row["goldenset"], row["case_id"], row["target"])
            found.setdefault(key, []).append(ScoredTrial(trial_from_row(row), tuple(scores.get(row["id"], ()))))
        return found

    def renderings(self, run_id: str) -> dict[CaseKey, list[Rendering]]:
        """Per case of a run: the distinct rendered messages its trials sent, each with the samples that
        sent it (trials stored before the store kept them, and callable targets, have none)."""
        samples: dict[CaseKey, dict[str, list[int]]] = {}
        for gs, case, target, sample, digest in self._fetch(
                "SELECT goldenset, case_id, target, sample, messages_hash FROM trials "
                "WHERE run_id = ? AND messages_hash IS NOT NULL ORDER BY goldenset, case_id, target, sample",
                [run_id]):
            samples.setdefault((gs, case, target), {}).setdefault(digest, []).append(sample)
        stored = {digest: (orjson.loads(messages), orjson.loads(tools) if tools else None)
                  for digest, messages, tools in self._fetch(
                      "SELECT hash, messages, tools FROM rendered_messages WHERE hash IN "
                      "(SELECT DISTINCT messages_hash FROM trials WHERE run_id = ?)", [run_id])}
        return {key: [Rendering(d, *stored[d], samples=tuple(s)) for d, s in by_hash.items() if d in stored]
                for key, by_hash in samples.items()}

    def turns(self, run_id: str, key: CaseKey) -> dict[int, list[Turn]]:
        """A conversation case's turns in a run (``trial_turns``), per sample, in order; {} for any other case."""
        found: dict[int, list[Turn]] = {}
        for row in self._rows(
                "SELECT t.sample, u.*, m.messages FROM trial_turns u JOIN trials t ON t.id = u.trial_id "
                "LEFT JOIN rendered_messages m ON m.hash = u.messages_hash WHERE t.run_id = ? AND t.goldenset = ? "
                "AND t.case_id = ? AND t.target = ? ORDER BY t.sample, u.turn", [run_id, *key]):
            found.setdefault(row["sample"], []).append(turn_from_row(row))
        return found

    def cases(self, goldenset_hash: str) -> dict[str, dict[str, Any]]:
        """Case metadata of a golden set version (file, line, tags, input, reference, checks)."""
        rows = self._rows("SELECT * FROM cases WHERE goldenset_hash = ?", [goldenset_hash])
        return {r["case_id"]: _decode(r, ("tags", "input", "provenance", "checks", "band")) for r in rows}

    # series, drift events, judge cache -----------------------------------------------------------

    def series(self, *, source: str | None = None, model: str | None = None, metric: str | None = None,
               labels: dict[str, Any] | None = None, run_id: str | None = None, since: str | None = None,
               limit: int | None = None, environment: str | None = None) -> list[SeriesPoint]:
        """Series points, oldest first; ``labels`` matches the exact label set; ``environment`` one
        environment's points (``default``: those recorded without one)."""
        where, params = _series_filters(source, model, metric, labels, run_id, since)
        where, params = _and_environment(where, params, environment)
        order = "ORDER BY time DESC, id DESC" if limit else "ORDER BY time, id"
        rows = self._rows(f"SELECT * FROM series_points {where} {order}" + (f" LIMIT {int(limit)}" if limit else ""),
                          params)
        points = [SeriesPoint(r["source"], r["model"], r["metric"], r["value"], r["time"],
                              json.loads(r["labels"] or "{}"), r["run_id"], r.get("environment")) for r in rows]
        return points[::-1] if limit else points

    def drift_events(self, *, source: str | None = None, model: str | None = None, metric: str | None = None,
                     labels: dict[str, Any] | None = None, since: str | None = None) -> list[DriftEvent]:
        where, params = _series_filters(source, model, metric, labels, None, since)
        rows = self._rows(f"SELECT * FROM drift_events {where} ORDER BY time, id", params)
        return [DriftEvent(r["detector"], r["source"], r["model"], r["metric"], r["statistic"], r["time"],
                           json.loads(r["labels"] or "{}"), r["p_value"], r["threshold"],
                           json.loads(r["details"] or "{}"), r["run_id"], r["id"]) for r in rows]

    def judge_cache_get(self, key: str) -> Any | None:
        """The cached judge reply (parsed JSON) for ``key``, or None."""
        rows = self._fetch("SELECT value FROM judge_cache WHERE key = ?", [key])
        return json.loads(rows[0][0]) if rows else None

    def table_names(self) -> list[str]:
        """The store's tables, sorted: from ``sqlite_master`` in a file, the store's schema on PostgreSQL."""
        if self.url is not None:
            with self.lock:
                return postgres.tables(self.conn.raw)  # type: ignore[attr-defined]
        return [r[0] for r in self._fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def table_counts(self) -> dict[str, int]:
        """Rows per table (for ``goldband store info``)."""
        return {n: self._fetch(f'SELECT COUNT(*) FROM "{n}"')[0][0] for n in self.table_names()}


def run_row(row: dict[str, Any]) -> RunRow:
    data: dict[str, Any] = {f.name: row.get(f.name) for f in fields(RunRow)}
    data["settings"] = json.loads(row.get("settings") or "{}")
    data["problems"] = json.loads(row.get("problems") or "[]")
    data["git_dirty"] = None if row.get("git_dirty") is None else bool(row["git_dirty"])
    data["sessions"] = row.get("sessions") or 1
    data["draft"] = bool(row.get("draft"))
    data["status"] = effective_status(row["status"], row.get("host"), row.get("pid"))
    return RunRow(**data)


def effective_status(status: str, host: str | None, pid: int | None) -> str:
    """A 'running' run whose process is gone was killed: it reads as incomplete."""
    if status == "running" and not process_alive(host, pid):
        return "incomplete"
    return status


def _like_prefix(ref: str) -> str:
    return ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _run_filters(kind: str | None, branch: str | None, goldenset: str | None, status: str | None,
                 version: str | None = None, draft: bool | None = None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if draft is not None:
        clauses.append("COALESCE(draft, 0) = 1" if draft else "COALESCE(draft, 0) != 1")
    for column, value in (("kind", kind), ("git_branch", branch)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if status is not None:
        stored = STORED_AS.get(status, (status,))
        clauses.append(f"status IN ({', '.join('?' * len(stored))})")
        params.extend(stored)
    if goldenset is not None:
        clauses.append("id IN (SELECT run_id FROM run_goldensets WHERE name = ?)")
        params.append(goldenset)
    if version is not None:
        named = " AND rg.name = ?" if goldenset is not None else ""
        clauses.append("id IN (SELECT rg.run_id FROM run_goldensets rg JOIN goldensets g "
                       f"ON g.hash = rg.goldenset_hash WHERE g.version = ?{named})")
        params.extend([version, goldenset] if goldenset is not None else [version])
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _and_environment(where: str, params: list[Any], environment: str | None) -> tuple[str, list[Any]]:
    """``where`` narrowed to one environment (None: every environment)."""
    if environment is None:
        return where, params
    clause, more = environment_clause(environment)
    return (f"{where} AND {clause}" if where else f"WHERE {clause}"), [*params, *more]


def _series_filters(source: str | None, model: str | None, metric: str | None, labels: dict[str, Any] | None,
                    run_id: str | None, since: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, value in (("source", source), ("model", model), ("metric", metric), ("run_id", run_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if labels is not None:
        clauses.append("labels_key = ?")
        params.append(labels_key(labels))
    if since is not None:
        clauses.append("time >= ?")
        params.append(since)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _counts(values: list[tuple[str, float | None]]) -> CaseCounts:
    outcomes = tuple(o for o, _ in values)
    scores = tuple(s for _, s in values)
    known = [s for s in scores if s is not None]
    return CaseCounts(len(values), outcomes.count("pass"), outcomes.count("fail"), outcomes.count("error"),
                      sum(known) / len(known) if known else None, tuple(o == "pass" for o in outcomes), scores,
                      outcomes)


TRIAL_FIELDS = ("sample", "output", "tool_calls", "prompt_tokens", "completion_tokens", "cost_usd",
                "system_fingerprint", "finish_reason", "latency_ms", "error", "error_kind", "cached", "attempts")


def trial_from_row(row: dict[str, Any]) -> Trial:
    return trial_from_values(row["case_id"], row["target"], [row[name] for name in TRIAL_FIELDS])


def trial_from_values(case_id: str, target: str, values: Sequence[Any]) -> Trial:
    """A trial from its row's ``TRIAL_FIELDS`` values in that order (a report reads every trial of a run
    this way: no row dicts)."""
    (sample, output, calls, prompt_tokens, completion_tokens, cost, fingerprint, finish, latency, error,
     error_kind, cached, attempts) = values
    completion = None
    if error is None or output is not None:  # the row's columns are the completion's fields
        completion = Completion(output, tool_calls(calls), prompt_tokens, completion_tokens, cost, fingerprint,
                                finish, latency)
    return Trial(case_id, target, sample, completion, error, error_kind, bool(cached),
                 attempts if attempts is not None else 1)


def turn_from_row(row: dict[str, Any]) -> Turn:
    """A ``trial_turns`` row (with its ``messages``) as the Turn it was."""
    completion = None
    if row["error"] is None:
        completion = Completion(row["output"], tool_calls(row["tool_calls"]), row["prompt_tokens"],
                                row["completion_tokens"], row["cost_usd"], row["system_fingerprint"],
                                row["finish_reason"], row["latency_ms"])
    messages = orjson.loads(row["messages"]) if row["messages"] else []
    return Turn(row["turn"], tuple(messages), completion, row["error"], row["error_kind"], bool(row["cached"]),
                row["attempts"] if row["attempts"] is not None else 1)


def tool_calls(stored: str | None) -> tuple[ToolCall, ...]:
    """A trial's ``tool_calls`` column (JSON, ``[]`` for none: most trials) as ToolCalls."""
    if not stored or stored == "[]":
        return ()
    return tuple(ToolCall(c["name"], c.get("arguments", {})) for c in json.loads(stored))


def _decode(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: (orjson.loads(v) if k in keys and isinstance(v, str) else v) for k, v in row.items()}


def _verdict(data: dict[str, Any]) -> Verdict:
    return Verdict.from_json(data)
