"""Writing the store: plain functions over an open transaction, and the ``Store`` write methods.

The ``insert_*`` functions take a connection that is already inside a
transaction, so the run recorder can group many of them into one commit
(trial and scores together, or a whole batch of trials). The ``Writes``
methods are the public one-call-one-transaction API.

Writes are idempotent where a run may repeat them (xdist workers, resumes):
identities and links use ``INSERT OR IGNORE``; a trial already stored for
(run, golden set, case, target, sample) is never stored twice; a verdict and
a run's series points are replaced.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from goldband._util.hashing import canonical_hash
from goldband._util.runid import now
from goldband.results import Completion, ConversationTrial, Score, ScoredTrial, Trial, Turn
from goldband.store.models import DriftEvent, Rendering, RunRow, SeriesPoint, StoredVerdict, labels_key, to_time
from goldband.store.pgconn import is_postgres
from goldband.store.sqltext import upsert


def dumps(value: Any) -> str | None:
    """JSON for a column: compact, NaN and infinities as null, None stays NULL."""
    return None if value is None else json.dumps(finite(value), separators=(",", ":"), ensure_ascii=False,
                                                  default=str)


def finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


# runs ---------------------------------------------------------------------------------------------

def insert_run(conn: sqlite3.Connection, run: RunRow) -> bool:
    """Create the run row; False when it exists already (another xdist worker made it)."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO runs (id, kind, status, started_at, updated_at, git_sha, git_branch, git_dirty, "
        "goldband_version, command, root, host, pid, mode, sessions, settings, environment) "
        "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
        [run.id, run.kind, run.started_at, now(), run.git_sha, run.git_branch,
         None if run.git_dirty is None else int(run.git_dirty), run.goldband_version, run.command, run.root,
         run.host, run.pid, run.mode, dumps(run.settings), run.environment])
    return cursor.rowcount == 1


def reopen_run(conn: sqlite3.Connection, run_id: str, *, host: str, pid: int) -> None:
    """A resumed run is running again, owned by this process: one more session
    (counted once, however many xdist workers reopen it)."""
    conn.execute("UPDATE runs SET sessions = sessions + (CASE WHEN status = 'running' AND host = ? AND pid = ? "
                 "THEN 0 ELSE 1 END), status = 'running', host = ?, pid = ?, updated_at = ?, finished_at = NULL, "
                 "problems = NULL "
                 "WHERE id = ?", [host, pid, host, pid, now(), run_id])


def finish_run(conn: sqlite3.Connection, run_id: str, *, status: str, exit_status: int | None,
               problems: Sequence[str] = ()) -> None:
    """The run's final status; ``problems``: what goldband failed to write (NULL when nothing)."""
    stamp = now()
    conn.execute("UPDATE runs SET status = ?, exit_status = ?, finished_at = ?, updated_at = ?, problems = ? "
                 "WHERE id = ?", [status, exit_status, stamp, stamp, dumps(list(problems)) if problems else None,
                                  run_id])


def mark_dead_runs(conn: sqlite3.Connection, dead: Sequence[str]) -> None:
    """Runs whose process was killed are recorded as incomplete."""
    conn.executemany("UPDATE runs SET status = 'incomplete', updated_at = ? WHERE id = ? AND status = 'running'",
                     [(now(), run_id) for run_id in dead])


def insert_items(conn: sqlite3.Connection, run_id: str,
                 items: Iterable[tuple[str, str, str, str, int, int]]) -> None:
    """The (golden set, case, target, node id, min runs, max runs) items a run selected."""
    conn.executemany(
        "INSERT INTO run_items (run_id, goldenset, case_id, target, nodeid, min_runs, max_runs) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, goldenset, case_id, target) "
        "DO UPDATE SET nodeid = excluded.nodeid, min_runs = excluded.min_runs, max_runs = excluded.max_runs",
        [(run_id, *item) for item in items])



def begin_shard(conn: sqlite3.Connection, run_id: str, *, shard: int, shards: int, items: int) -> None:
    """Shard ``shard`` of ``shards`` records into the run with ``items`` selected items (running again when
    its CI job is re-run: its finish is cleared)."""
    conn.execute("INSERT INTO run_shards (run_id, shard, shards, items, started_at) VALUES (?, ?, ?, ?, ?) "
                 "ON CONFLICT (run_id, shard) DO UPDATE SET shards = excluded.shards, items = excluded.items, "
                 "started_at = excluded.started_at, exit_status = NULL, finished_at = NULL",
                 [run_id, shard, shards, items, now()])


def finish_shard(conn: sqlite3.Connection, run_id: str, *, shard: int, exit_status: int) -> None:
    """The shard's items all have verdicts in the store (its writes are flushed)."""
    conn.execute("UPDATE run_shards SET exit_status = ?, finished_at = ? WHERE run_id = ? AND shard = ?",
                 [exit_status, now(), run_id, shard])


# identities ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GoldenSetRecord:
    hash: str
    name: str
    version: str
    path: str
    cases: Sequence[dict[str, Any]]  # case_id, file, line, tags, input, reference, provenance, ...
    draft: bool = False  # changed under its version and run anyway: the run is a draft (``mark_draft``)


@dataclass(frozen=True)
class TargetRecord:
    hash: str
    name: str
    kind: str  # model | callable
    model: str | None
    callable: str | None
    prompt_text: str | None
    prompt_hash: str | None
    system: str | None
    messages: list[dict[str, Any]] | None
    params: dict[str, Any]


def insert_goldenset(conn: sqlite3.Connection, run_id: str, record: GoldenSetRecord) -> None:
    conn.execute("INSERT OR IGNORE INTO goldensets (hash, name, version, path, cases, first_seen) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 [record.hash, record.name, record.version, record.path, len(record.cases), now()])
    columns = ("case_id", "file", "line", "tags", "input", "reference", "provenance", "description", "checks",
               "runs", "band")
    conn.executemany(
        f"INSERT OR IGNORE INTO cases (goldenset_hash, {', '.join(columns)}) VALUES ({', '.join('?' * 12)})",
        [(record.hash, *(_cell(case.get(c)) for c in columns)) for case in record.cases])
    conn.execute("INSERT OR IGNORE INTO run_goldensets (run_id, name, goldenset_hash) VALUES (?, ?, ?)",
                 [run_id, record.name, record.hash])
    if record.draft:
        mark_draft(conn, run_id, record.name)


def mark_draft(conn: sqlite3.Connection, run_id: str, goldenset: str) -> None:
    """The run used ``goldenset`` as a draft: the golden set and the whole run are flagged, so no baseline,
    case history or series ever reads the run (a run's results are compared and trended as one)."""
    conn.execute("UPDATE run_goldensets SET draft = 1 WHERE run_id = ? AND name = ?", [run_id, goldenset])
    conn.execute("UPDATE runs SET draft = 1 WHERE id = ?", [run_id])


def insert_target(conn: sqlite3.Connection, run_id: str, record: TargetRecord) -> None:
    if record.prompt_hash is not None:
        conn.execute("INSERT OR IGNORE INTO prompts (hash, text) VALUES (?, ?)",
                     [record.prompt_hash, record.prompt_text])
    conn.execute(
        "INSERT OR IGNORE INTO targets (hash, name, kind, model, callable, prompt_hash, system, messages, params, "
        "first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [record.hash, record.name, record.kind, record.model, record.callable, record.prompt_hash, record.system,
         dumps(record.messages), dumps(record.params), now()])
    conn.execute("INSERT OR IGNORE INTO run_targets (run_id, name, target_hash) VALUES (?, ?, ?)",
                 [run_id, record.name, record.hash])


def insert_rubric(conn: sqlite3.Connection, run_id: str | None, *, rubric_hash: str, name: str, version: str,
                  body: Any, judge_hash: str, judge_model: str | None, judge_params: dict[str, Any]) -> None:
    """A rubric and the judge config that scored with it (the recorder calls this per run;
    see ``goldband.session.recorder.records.rubric_identities``)."""
    stamp = now()
    conn.execute("INSERT OR IGNORE INTO rubrics (hash, name, version, body, first_seen) VALUES (?, ?, ?, ?, ?)",
                 [rubric_hash, name, version, dumps(body), stamp])
    conn.execute("INSERT OR IGNORE INTO judges (hash, model, params, first_seen) VALUES (?, ?, ?, ?)",
                 [judge_hash, judge_model, dumps(judge_params), stamp])
    if run_id is not None:
        conn.execute("INSERT OR IGNORE INTO run_rubrics (run_id, rubric_hash, judge_hash) VALUES (?, ?, ?)",
                     [run_id, rubric_hash, judge_hash])


def _cell(value: Any) -> Any:
    return dumps(value) if isinstance(value, dict | list | tuple) else value


# results ------------------------------------------------------------------------------------------

TRIAL_COLUMNS = ("id, run_id, goldenset, case_id, target, sample, outcome, score, output, tool_calls, latency_ms, "
                 "prompt_tokens, completion_tokens, cost_usd, system_fingerprint, finish_reason, error, error_kind, "
                 "cached, attempts, created_at, messages_hash")
TRIAL_SQL = f"INSERT OR IGNORE INTO trials ({TRIAL_COLUMNS}) VALUES ({', '.join('?' * 22)})"
SCORE_SQL = ("INSERT INTO scores (trial_id, idx, check_name, kind, outcome, score, detail, evidence, rubric_hash, "
             "gating, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def insert_trials(conn: sqlite3.Connection, run_id: str, goldenset: str, scored: Iterable[ScoredTrial],
                  rubric_hashes: dict[str, str] | None = None, messages_hash: str | None = None) -> int:
    """Trials with their scores; a trial already stored (same sample) is skipped. Returns trials written.

    ``messages_hash`` names the batch's rendered messages (``insert_rendering``; one
    case's trials on one target share them).
    """
    return insert_trial_batches(conn, run_id, [TrialBatch(goldenset, list(scored), rubric_hashes, messages_hash)])


@dataclass(frozen=True)
class TrialBatch:
    """One ``insert_trials`` call's trials (one item's batch), for writing several calls at once."""

    goldenset: str
    scored: Sequence[ScoredTrial]
    rubric_hashes: dict[str, str] | None = None
    messages_hash: str | None = None


def insert_trial_batches(conn: sqlite3.Connection, run_id: str, batches: Sequence[TrialBatch]) -> int:
    """Several items' trials in one go: the same rows as one ``insert_trials`` per batch, in a constant number
    of statements (ids, trials, scores, turns), which is what a PostgreSQL server on the other end of a socket
    needs (a statement is a round trip there; the run's writer merges a commit's trial batches, see
    ``goldband.session.writer``). Ids are assigned here (``_trial_ids``), so scores need no per-trial round trip.
    """
    rows = [(b, st) for b in batches for st in b.scored]
    if not rows:
        return 0
    ids = _trial_ids(conn, len(rows))
    stamp = now()
    written = conn.executemany(TRIAL_SQL, [(*_trial_values(ids[i], run_id, b.goldenset, st, stamp),
                                            _last_sent(st.trial) or b.messages_hash)
                                           for i, (b, st) in enumerate(rows)]).rowcount
    kept = set(ids) if written == len(ids) else _stored(conn, ids)  # usually all: no query to ask which
    conn.executemany(SCORE_SQL, [
        (ids[i], k, s.check, s.kind, s.outcome, _num(s.score), s.detail or None, s.evidence,
         _rubric_hash(b.rubric_hashes, _unturned(s), s.kind) if b.rubric_hashes else None, int(s.gating),
         json.dumps(s.meta, default=str) if s.meta else None)
        for i, (b, st) in enumerate(rows) if ids[i] in kept for k, s in enumerate(st.scores)])
    insert_turns(conn, [(ids[i], st.trial) for i, (_, st) in enumerate(rows) if ids[i] in kept])
    return len(kept)


def _trial_ids(conn: sqlite3.Connection, n: int) -> list[int]:
    """Ids for ``n`` new trials. SQLite: the next ``n`` after the highest, safe because the caller holds the
    file's write lock (``BEGIN IMMEDIATE``); PostgreSQL has no such lock, so ids come from the identity's
    sequence, which never gives two concurrent writers the same id (an id both took would make ``ON CONFLICT``
    drop one writer's trial)."""
    if is_postgres(conn):
        return [int(row[0]) for row in conn.execute(
            "SELECT nextval(pg_get_serial_sequence('trials', 'id')) FROM generate_series(1, ?)", [n])]
    first = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM trials").fetchone()[0])
    return list(range(first, first + n))


def _stored(conn: sqlite3.Connection, ids: list[int]) -> set[int]:
    """Which of ``ids`` were written (a sample already stored is skipped, ``ON CONFLICT DO NOTHING``)."""
    if is_postgres(conn):
        return {row[0] for row in conn.execute("SELECT id FROM trials WHERE id = ANY(?)", [ids])}
    return {row[0] for row in conn.execute("SELECT id FROM trials WHERE id >= ?", [ids[0]])}


# conversation turns (migration 0010) ------------------------------------------------------------------------

TURN_SQL = ("INSERT OR IGNORE INTO trial_turns (trial_id, turn, messages_hash, output, tool_calls, latency_ms, "
            "prompt_tokens, completion_tokens, cost_usd, system_fingerprint, finish_reason, error, error_kind, "
            "cached, attempts) VALUES (" + ", ".join("?" * 15) + ")")


def turn_rendering(trial: ConversationTrial, turn: Turn) -> Rendering:
    """What one turn sent, hashed as a case's rendering is (messages and the tools offered)."""
    messages, offered = list(turn.messages), list(trial.tools) if trial.tools is not None else None
    return Rendering(canonical_hash({"messages": messages, "tools": offered}), messages, offered)


def insert_turns(conn: sqlite3.Connection, trials: Sequence[tuple[int, Trial]]) -> None:
    """Each turn of the conversation trials (trial id, trial): what it sent (stored once) and its reply."""
    rows = []
    for trial_id, trial in trials:
        if not isinstance(trial, ConversationTrial):
            continue
        for turn in trial.turns:
            sent = turn_rendering(trial, turn)
            insert_rendering(conn, sent)
            rows.append((trial_id, turn.index, sent.hash, *_completion_values(turn.completion), turn.error,
                         turn.error_kind, int(turn.cached), turn.attempts))
    conn.executemany(TURN_SQL, rows)


def _completion_values(c: Completion | None) -> tuple[Any, ...]:
    if c is None:
        return (None,) * 8
    calls = dumps(c.to_json()["tool_calls"]) if c.tool_calls else None
    return (c.output, calls, _num(c.latency_ms), c.prompt_tokens, c.completion_tokens, _num(c.cost_usd),
            c.system_fingerprint, c.finish_reason)


def _last_sent(trial: Trial) -> str | None:
    """A conversation trial's own rendering: the last turn's messages (the whole conversation sent)."""
    if not isinstance(trial, ConversationTrial) or not trial.turns:
        return None
    return turn_rendering(trial, trial.turns[-1]).hash


def _unturned(score: Score) -> str:
    """A conversation turn's score is labelled ``turn K: LABEL``: its rubric is LABEL's."""
    if score.meta and "turn" in score.meta and score.check.startswith("turn "):
        return score.check.split(": ", 1)[-1]
    return score.check


def insert_rendering(conn: sqlite3.Connection, record: Rendering) -> None:
    """Rendered messages (and tool definitions) under their content hash, once however many trials,
    runs, resumes or xdist workers send them (``INSERT OR IGNORE``)."""
    conn.execute("INSERT OR IGNORE INTO rendered_messages (hash, messages, tools, first_seen) VALUES (?, ?, ?, ?)",
                 [record.hash, dumps(record.messages), dumps(record.tools), now()])


def _rubric_hash(hashes: dict[str, str], label: str, kind: str) -> str | None:
    """A rubric score's rubric; a criterion is labelled ``RUBRIC_LABEL[criterion]``."""
    if not kind.startswith("rubric"):
        return None
    return hashes.get(label) or hashes.get(label.split("[", 1)[0])


def _trial_values(trial_id: int, run_id: str, goldenset: str, st: ScoredTrial, stamp: str) -> tuple[Any, ...]:
    t, c = st.trial, st.trial.completion
    head = (trial_id, run_id, goldenset, t.case_id, t.target, t.sample, st.outcome, _num(st.score))
    tail = (t.error, t.error_kind, int(t.cached), t.attempts, stamp)
    if c is None:
        return (*head, None, None, None, None, None, None, None, None, *tail)
    calls = dumps(c.to_json()["tool_calls"]) if c.tool_calls else None
    return (*head, c.output, calls, _num(c.latency_ms), c.prompt_tokens, c.completion_tokens, _num(c.cost_usd),
            c.system_fingerprint, c.finish_reason, *tail)


VERDICT_SQL = upsert("verdicts", (
    "run_id", "goldenset", "case_id", "target", "goldenset_hash", "target_hash", "nodeid", "status", "gating", "n",
    "passes", "fails", "errors", "pass_rate", "pass_rate_low", "pass_rate_high", "confidence", "mean_score",
    "score_low", "score_high", "std", "bound", "reason", "runs_planned", "baseline_outcome", "baseline_run",
    "baseline_delta", "baseline_p_adjusted", "details", "created_at"), ("run_id", "goldenset", "case_id", "target"))


def insert_verdict(conn: sqlite3.Connection, run_id: str, record: StoredVerdict) -> None:
    """The case's verdict in this run (replaces an earlier one: a resumed run decides again)."""
    v, base = record.verdict, record.verdict.baseline
    conn.execute(
        VERDICT_SQL,
        [run_id, record.goldenset, record.case_id, record.target, record.goldenset_hash, record.target_hash,
         record.nodeid, v.status, int(v.gating), v.n, v.passes, v.fails, v.errors, _num(v.pass_rate),
         _num(v.pass_rate_low), _num(v.pass_rate_high), v.confidence, _num(v.mean_score), _num(v.score_low),
         _num(v.score_high), _num(v.std), v.bound, v.reason, v.runs_planned, base.outcome if base else None,
         base.baseline_run if base else None, _num(base.delta) if base else None,
         _num(base.p_adjusted) if base else None, dumps(v.to_json()), now()])


# series and drift events --------------------------------------------------------------------------

def insert_series(conn: sqlite3.Connection, points: Iterable[SeriesPoint]) -> int:
    """Append points; a point without an environment takes its run's (a run's series live where it ran)."""
    rows = [(p.source, p.model, p.metric, dumps(p.labels or {}), labels_key(p.labels), to_time(p.time),
             _num(p.value), p.run_id, p.environment, p.run_id) for p in points]
    conn.executemany("INSERT INTO series_points (source, model, metric, labels, labels_key, time, value, run_id, "
                     "environment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                     "COALESCE(?, (SELECT environment FROM runs WHERE id = ?)))", rows)
    return len(rows)


def replace_series(conn: sqlite3.Connection, run_id: str, points: Iterable[SeriesPoint]) -> int:
    """A run's series points, replacing any it wrote before (a resumed run finishes again)."""
    conn.execute("DELETE FROM series_points WHERE run_id = ?", [run_id])
    return insert_series(conn, points)


def insert_drift_event(conn: sqlite3.Connection, event: DriftEvent) -> int:
    cursor = conn.execute(
        "INSERT INTO drift_events (detector, source, model, metric, labels, labels_key, time, statistic, p_value, "
        "threshold, details, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [event.detector, event.source, event.model, event.metric, dumps(event.labels or {}),
         labels_key(event.labels), to_time(event.time), _num(event.statistic), _num(event.p_value),
         _num(event.threshold), dumps(event.details or {}), event.run_id])
    return int(cursor.fetchone()[0])


class Writes:
    """Write methods of ``Store``: each call is one transaction."""

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # provided by StoreBase

    def append_series(self, points: Iterable[SeriesPoint]) -> int:
        """Append points to the shared series table; returns how many were written."""
        with self.transaction() as conn:
            return insert_series(conn, points)

    def replace_run_series(self, run_id: str, points: Iterable[SeriesPoint]) -> int:
        """A run's series points, replacing any it wrote before (a resumed run finishes again)."""
        with self.transaction() as conn:
            return replace_series(conn, run_id, points)

    def record_drift_event(self, event: DriftEvent) -> int:
        """Store one drift event; returns its id."""
        with self.transaction() as conn:
            return insert_drift_event(conn, event)

    def judge_cache_put(self, key: str, value: Any) -> None:
        """Cache a judge reply (any JSON value) under ``key``; the last write wins."""
        with self.transaction() as conn:
            conn.execute(upsert("judge_cache", ("key", "value", "created_at"), ("key",)),
                         [key, dumps(value), now()])

    def judge_cache_clear(self) -> int:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM judge_cache").rowcount
